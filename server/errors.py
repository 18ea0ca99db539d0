"""Every error as ``application/problem+json`` (RFC 9457), with flat dotted field paths."""

from __future__ import annotations

import logging
import sqlite3
from http import HTTPStatus
from typing import Any

import psycopg
import redis
from flask import Flask, Response, json, render_template, request
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException, UnsupportedMediaType

from sync.errors import DomainError
from sync.forms.flatten import flatten

from . import metrics
from .redact import redact

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class ApiError(Exception):
    """Raised by views for a problem that is not a domain error (401, 413, 429…)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title
        self.errors = errors
        self.headers = headers or {}


def problem(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail or HTTPStatus(status).description,
    }
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _webargs_errors(exc: HTTPException) -> dict[str, list[str]] | None:
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages")
    if not messages:
        return None
    # webargs nests by location ({"json": {...}, "query": {...}}); the contract does not.
    merged: dict[str, list[str]] = {}
    for location_messages in messages.values():
        for path, msgs in flatten(location_messages).items():
            merged.setdefault(path, []).extend(msgs)
    return merged


def handle_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    errors = _webargs_errors(exc)
    if status == 400 and errors:
        detail = "The request body is not valid JSON."
        return problem(400, detail, errors=None if _is_json_error(errors) else errors)
    if status == 422:
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in (errors or {}).items())
        return problem(
            422, detail or "Validation failed.", title="Validation failed", errors=errors
        )
    headers = {}
    valid_methods = getattr(exc, "valid_methods", None)
    if status == 405 and valid_methods:
        headers["Allow"] = ", ".join(valid_methods)
    retry_after = getattr(exc, "retry_after", None)
    if status == 429 and retry_after is not None:
        headers["Retry-After"] = str(int(retry_after))
    detail = exc.description if isinstance(exc.description, str) else None
    return problem(status, detail, headers=headers)


def _is_json_error(errors: dict[str, list[str]]) -> bool:
    return any("Invalid JSON" in m for msgs in errors.values() for m in msgs)


def handle_domain_error(exc: DomainError) -> Response:
    return problem(exc.status, exc.detail, title=exc.title, errors=exc.errors)


def handle_api_error(exc: ApiError) -> Response:
    if request.blueprint == "web":  # a page's form refused by the input gate: a page, not JSON
        from flask_babel import gettext

        fields = ", ".join(sorted(exc.errors or {}))
        text = gettext("The form holds characters it may not (%(fields)s).", fields=fields)
        page = render_template("message.html", title=str(exc.status), text=text)
        return Response(page, status=exc.status, headers=exc.headers, mimetype="text/html")
    return problem(exc.status, exc.detail, title=exc.title, errors=exc.errors, headers=exc.headers)


def handle_too_deep(exc: RecursionError) -> Response:
    # Only JSON parsing recurses without bound here: a body nested past the parser's depth.
    return problem(400, "The request body is nested too deeply.")


DATABASE_RETRY_AFTER = "5"


def database_unavailable(exc: BaseException) -> bool:
    """The database could not be reached or gave up on us (a lost connection, a restart, a
    full pool, a lock or busy timeout): the same request may well work in a moment."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(
        exc,
        sa_exc.OperationalError
        | sa_exc.InterfaceError
        | sa_exc.TimeoutError
        | psycopg.OperationalError
        | psycopg.InterfaceError,
    )


DISK_FULL = "The server's disk is full; your data is safe on the phone. Send it again later."
DISK_FULL_RETRY_AFTER = "30"


def disk_full(exc: BaseException) -> bool:
    """The database could not write because its disk is full: SQLite's SQLITE_FULL (also a
    ``max_page_count`` reached) or PostgreSQL's ``disk_full`` (53100). Not a race and not an
    outage: retrying at once cannot help, and the operator must be told in so many words."""
    orig = getattr(exc, "orig", exc)
    if isinstance(orig, sqlite3.Error):
        return getattr(orig, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    return isinstance(orig, psycopg.errors.DiskFull)


def disk_full_problem(exc: BaseException) -> Response:
    metrics.UNAVAILABLE.labels("disk_full").inc()
    log.error(
        "the database's disk is full on %s %s: %s",
        request.method,
        redact(request.path),
        getattr(exc, "orig", exc),
        extra={"event": "disk_full"},
    )
    from flask_babel import lazy_gettext

    return _unavailable(
        DISK_FULL,
        lazy_gettext("The server's disk is full; try again later."),
        DISK_FULL_RETRY_AFTER,
    )


def _unavailable(detail: str, page_text, retry_after: str) -> Response:
    """A 503 with ``Retry-After``: a page for the web pages, problem+json for the API."""
    headers = {"Retry-After": retry_after}
    if request.blueprint == "web":
        page = render_template("message.html", title="503", text=str(page_text))
        return Response(page, status=503, headers=headers, mimetype="text/html")
    return problem(503, detail, headers=headers)


def handle_database_error(exc: Exception) -> Response:
    metrics.DATABASE_ERRORS.labels(type(exc).__name__).inc()
    if disk_full(exc):
        return disk_full_problem(exc)
    if not database_unavailable(exc):
        return handle_unexpected(exc)
    metrics.UNAVAILABLE.labels("database").inc()
    log.warning("database unavailable on %s %s: %s", request.method, redact(request.path), exc)
    from flask_babel import lazy_gettext

    return _unavailable(
        "The database is not answering; try again shortly.",
        lazy_gettext("The database is not answering; try again in a moment."),
        DATABASE_RETRY_AFTER,
    )


def handle_limits_unavailable(exc: Exception) -> Response:
    """Redis (the rate limits' store, when configured) not answering: a login or enrolment
    cannot be counted, so it is not let through; the client tries again shortly."""
    metrics.UNAVAILABLE.labels("limits").inc()
    log.warning(
        "rate-limit store unavailable on %s %s: %s", request.method, redact(request.path), exc
    )
    headers = {"Retry-After": DATABASE_RETRY_AFTER}
    return problem(
        503, "The server cannot check its rate limits; try again shortly.", headers=headers
    )


def handle_unexpected(exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, redact(request.path))
    return problem(500, "An internal error occurred; it has been logged.")


def require_json_body() -> None:
    """415 for a body that is not JSON (in UTF-8, the only encoding JSON has), before anything
    reads it."""
    if request.method in BODY_METHODS and request.path.startswith("/api/"):
        has_body = request.content_length or request.headers.get("Transfer-Encoding")
        charset = request.mimetype_params.get("charset", "utf-8").lower()
        if has_body and (not request.is_json or charset not in ("utf-8", "utf8")):
            raise UnsupportedMediaType("Send the body as application/json, in UTF-8.")


def init_app(app: Flask) -> None:
    app.before_request(require_json_body)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(RecursionError, handle_too_deep)
    app.register_error_handler(sa_exc.SQLAlchemyError, handle_database_error)
    app.register_error_handler(psycopg.Error, handle_database_error)
    app.register_error_handler(redis.RedisError, handle_limits_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
