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


class BodyReader:
    """WSGI middleware: the request body, read whole within ``max_bytes``."""

    def __init__(self, app: Callable, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        declared_text = environ.get("CONTENT_LENGTH") or ""
        if not chunked and not declared_text:
            return self.app(environ, start_response)
        stream = environ["wsgi.input"]
        declared = None
        if not chunked:
            if not declared_text.isdigit():
                return refuse(start_response, 400, "The Content-Length header is not a number.")
            declared = int(declared_text)
            if declared > self.max_bytes:
                _drain(stream, declared)
                return refuse(start_response, 413, self._too_large())
        try:
            body = _read(stream, self.max_bytes + 1 if declared is None else declared)
        except Exception:  # noqa: BLE001 - whatever the server's reader raises: unreadable
            return refuse(
                start_response,
                400,
                "The request body could not be read (malformed chunked encoding, or the "
                "connection was cut).",
            )
        if len(body) > self.max_bytes:
            _drain(stream, None)
            return refuse(start_response, 413, self._too_large())
        if declared is not None and len(body) < declared:
            return refuse(start_response, 400, "The request body ended before its Content-Length.")
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["wsgi.input_terminated"] = True
        return self.app(environ, start_response)

    def _too_large(self) -> str:
        return f"The request body is over the limit of {self.max_bytes // (1024 * 1024)} MiB."


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
    close_connection()
    body = json.dumps(
        {
            "type": "about:blank",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
        }
    ).encode()
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [
            ("Content-Type", "application/problem+json"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ],
    )
    return [body]


def init_app(app: Flask) -> None:
    app.wsgi_app = BodyReader(app.wsgi_app, app.config["MAX_CONTENT_LENGTH"])
    proxies = app.config.get("PROXY_COUNT", 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
