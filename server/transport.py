"""Request bodies, read whole and counted before the app sees them.

gunicorn hands the app a stream that decodes chunked transfer encoding as it is read, so a
malformed chunk (size ``zz``) used to surface as an exception deep in JSON parsing (a 500), and
the size limit was checked against a ``Content-Length`` a chunked body does not have. Here the
body is read once, up to the limit, from whatever framing the client used:

- a body over the limit (declared or counted) is 413; a body that cannot be read (malformed
  chunks, a cut connection, fewer bytes than declared) is 400;
- either answer is sent before the app ran, so the connection is closed after it
  (``Connection: close``): where the next request would start is not known. What the client is
  still sending is drained first, within bounds, so that closing does not reset the connection
  under the client's feet before it has read the answer.

The app then sees a plain in-memory body with its true ``Content-Length``. Behind proxies, the
client's address is taken from ``X-Forwarded-For`` by werkzeug's ProxyFix, trusting exactly
``WARDSYNC_PROXY_COUNT`` of them (an address a client writes there itself is not believed).
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

DRAIN_BYTES = 16 * 1024 * 1024  # at most this much of a refused body is read and dropped
DRAIN_SECONDS = 5.0
READ_SIZE = 64 * 1024

_gunicorn = threading.local()


def remember_gunicorn_request(req) -> None:
    """gunicorn's ``pre_request`` hook: the request being served on this thread, so that an
    answer given before its body was read can also close its connection (gunicorn decides
    keep-alive itself and drops a ``Connection`` header an app sets)."""
    _gunicorn.request = req


def close_connection() -> None:
    req = getattr(_gunicorn, "request", None)
    if req is not None:
        req.must_close = True


Refuse = Callable[[Callable, int, str], list[bytes]]


@dataclass(frozen=True)
class PathLimit:
    """Another limit for the paths under ``prefix``, and how a refusal there is worded (the
    OpenRosa routes take 10 MiB and answer in XML, ``server.openrosa``)."""

    prefix: str
    max_bytes: int
    refuse: Refuse


class BodyReader:
    """WSGI middleware: the request body, read whole within ``max_bytes`` (or the limit of the
    first of ``limits`` whose prefix the path starts with; the list may grow after start-up)."""

    def __init__(self, app: Callable, max_bytes: int, limits: list[PathLimit] | None = None):
        self.app = app
        self.max_bytes = max_bytes
        self.limits = limits if limits is not None else []

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        declared_text = environ.get("CONTENT_LENGTH") or ""
        if not chunked and not declared_text:
            return self.app(environ, start_response)
        max_bytes, answer = self.max_bytes, refuse
        path = environ.get("PATH_INFO") or ""
        for limit in self.limits:
            if path.startswith(limit.prefix):
                max_bytes, answer = limit.max_bytes, limit.refuse
                break
        stream = environ["wsgi.input"]
        declared = None
        if not chunked:
            if not declared_text.isdigit():
                return answer(start_response, 400, "The Content-Length header is not a number.")
            declared = int(declared_text)
            if declared > max_bytes:
                _drain(stream, declared)
                return answer(start_response, 413, _too_large(max_bytes))
        try:
            body = _read(stream, max_bytes + 1 if declared is None else declared)
        except Exception:  # noqa: BLE001 - whatever the server's reader raises: unreadable
            return answer(
                start_response,
                400,
                "The request body could not be read (malformed chunked encoding, or the "
                "connection was cut).",
            )
        if len(body) > max_bytes:
            _drain(stream, None)
            return answer(start_response, 413, _too_large(max_bytes))
        if declared is not None and len(body) < declared:
            return answer(start_response, 400, "The request body ended before its Content-Length.")
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["wsgi.input_terminated"] = True
        return self.app(environ, start_response)


def _too_large(max_bytes: int) -> str:
    return f"The request body is over the limit of {max_bytes // (1024 * 1024)} MiB."


def _read(stream, limit: int) -> bytes:
    parts, total = [], 0
    while total < limit:
        data = stream.read(min(READ_SIZE, limit - total))
        if not data:
            break
        parts.append(data)
        total += len(data)
    return b"".join(parts)


def _drain(stream, declared: int | None) -> None:
    """Read and drop what the client is still sending, within bounds of bytes and time."""
    budget = DRAIN_BYTES if declared is None else min(declared, DRAIN_BYTES)
    deadline = time.monotonic() + DRAIN_SECONDS
    try:
        while budget > 0 and time.monotonic() < deadline:
            data = stream.read(min(READ_SIZE, budget))
            if not data:
                return
            budget -= len(data)
    except Exception:  # noqa: BLE001,S110 - a body that breaks while being dropped: dropped
        pass


def refuse(start_response: Callable, status: int, detail: str) -> list[bytes]:
    """A problem+json answer given before the app ran; the connection closes after it."""
    body = json.dumps(
        {
            "type": "about:blank",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
        }
    ).encode()
    return refuse_with(start_response, status, body, [("Content-Type", "application/problem+json")])


def refuse_with(
    start_response: Callable, status: int, body: bytes, headers: list[tuple[str, str]]
) -> list[bytes]:
    """An answer given before the app ran, in whatever form the caller wrote it; the
    connection closes after it."""
    close_connection()
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [*headers, ("Content-Length", str(len(body))), ("Connection", "close")],
    )
    return [body]


def init_app(app: Flask) -> None:
    limits: list[PathLimit] = app.extensions.setdefault("wardsync.body_limits", [])
    app.wsgi_app = BodyReader(app.wsgi_app, app.config["MAX_CONTENT_LENGTH"], limits)
    proxies = app.config.get("PROXY_COUNT", 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
