"""HTTP calls to a wardsync server, with token refresh and retries that honour Retry-After.

A push is safe to resend (the server stores each submission id once), so every transient
failure — no connection, a lost response, 429, 502-504 — is retried with exponential backoff
and jitter.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests

TRANSIENT_STATUS = {429, 502, 503, 504}
# No answer, or an answer cut off before its end: either way the request may be sent again.
TRANSIENT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class ApiError(Exception):
    def __init__(self, status: int, problem: dict):
        super().__init__(f"{status}: {problem.get('detail') or problem.get('title')}")
        self.status = status
        self.problem = problem


class AuthError(ApiError):
    """The token (or API key) is refused: the device must enrol again, or the key is revoked."""


class Unreachable(ApiError):
    """No answer after every retry: try again later; nothing was lost."""


@dataclass
class Tokens:
    access_token: str
    refresh_token: str | None = None  # None for an API key, which never refreshes
    device_id: str | None = None


class Connection:
    def __init__(
        self,
        base_url: str,
        tokens: Tokens | None = None,
        *,
        attempts: int = 6,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        timeout: float = 60.0,
        on_tokens=None,
    ):
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.timeout = timeout
        self.on_tokens = on_tokens  # called with new Tokens after a refresh, to persist them
        self.http = requests.Session()

    # -- calls ---------------------------------------------------------------------------

    def enroll(self, code: str, name: str) -> Tokens:
        body = self._request(
            "POST", "/api/v1/devices/enroll", json={"code": code, "name": name}, auth=False
        )
        self.tokens = Tokens(body["access_token"], body["refresh_token"], body["device_id"])
        return self.tokens

    def login(self, username: str, password: str) -> Tokens:
        body = self._request(
            "POST",
            "/api/v1/auth/login",
            json={"username": username, "password": password},
            auth=False,
        )
        self.tokens = Tokens(body["access_token"], body["refresh_token"])
        return self.tokens

    def push(self, submissions: list[dict]) -> dict:
        return self._request("POST", "/api/v1/sync/push", json={"submissions": submissions})

    def pull(self, cursor: str | None = None, limit: int = 500) -> dict:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        return self._request("GET", "/api/v1/sync/pull", params=params)

    def receipt(self) -> dict:
        """What the server holds of this device's forms (``GET /api/v1/devices/me``)."""
        return self._request("GET", "/api/v1/devices/me")

    def stream(self, path: str, params: dict) -> requests.Response:
        """A GET whose body is read as it arrives (exports); the caller closes it."""
        return self._send("GET", path, params=params, stream=True)

    # -- plumbing ------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, auth: bool = True, **kwargs) -> dict:
        response = self._send(method, path, auth=auth, **kwargs)
        return response.json() if response.content else {}

    def _send(
        self,
        method: str,
        path: str,
        *,
        auth: bool = True,
        refreshed: bool = False,
        request_id: str | None = None,
        **kwargs,
    ) -> requests.Response:
        # One id for every attempt of this request: the server's log finds them together.
        request_id = request_id or uuid.uuid4().hex
        for attempt in range(self.attempts):
            headers = {"X-Request-ID": request_id}
            if auth and self.tokens:
                headers["Authorization"] = f"Bearer {self.tokens.access_token}"
            try:
                response = self.http.request(
                    method, self.base_url + path, headers=headers, timeout=self.timeout, **kwargs
                )
            except TRANSIENT_ERRORS:
                if attempt < self.attempts - 1:
                    self._sleep(attempt, None)
                continue
            if response.status_code in TRANSIENT_STATUS and attempt < self.attempts - 1:
                response.close()
                self._sleep(attempt, response.headers.get("Retry-After"))
                continue
            if (
                response.status_code == 401
                and auth
                and not refreshed
                and self.tokens
                and self.tokens.refresh_token
            ):
                response.close()
                self._refresh()
                return self._send(
                    method, path, auth=auth, refreshed=True, request_id=request_id, **kwargs
                )
            if response.status_code >= 400:
                error_class = ApiError
                if response.status_code in (401, 403):
                    error_class = AuthError
                elif response.status_code in TRANSIENT_STATUS:
                    error_class = Unreachable
                raise error_class(response.status_code, _problem(response))
            return response
        raise Unreachable(0, {"detail": f"{method} {path}: no answer after {self.attempts} tries"})

    def _refresh(self) -> None:
        body = self._request(
            "POST",
            "/api/v1/auth/refresh",
            json={"refresh_token": self.tokens.refresh_token},
            auth=False,
        )
        try:
            self.tokens = Tokens(body["access_token"], body["refresh_token"], self.tokens.device_id)
        except (KeyError, TypeError) as exc:
            raise AuthError(0, {"detail": "the refresh answer holds no tokens"}) from exc
        if self.on_tokens:
            self.on_tokens(self.tokens)

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = min(self.max_delay, self.base_delay * 2**attempt) * random.uniform(0.5, 1.0)
        time.sleep(max(delay, retry_after_seconds(retry_after)))


def retry_after_seconds(value: str | None) -> float:
    """``Retry-After`` as seconds to wait: delta-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    if not value:
        return 0.0
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _problem(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {"detail": response.text[:200]}
    return body if isinstance(body, dict) else {"detail": str(body)}
