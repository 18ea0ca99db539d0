"""Request ids, and the one line a push leaves in the log.

Each request gets an id: the client's ``X-Request-ID`` when it sent a sane one (a phone that
retries sends the same, so its attempts are found together; nginx passes its own), else a new
one. It is answered in ``X-Request-ID`` and carried by every log line of the request
(``server.logjson``), gunicorn's access line included, so an operator can follow one request
from a phone's report to every line it caused.

A push (JSON or OpenRosa) leaves one line once its fate is known: the device, how many forms,
the counts by status, the answer's HTTP status and how long it took. Never a token, a password
or any form content: no citizen id can reach a log through it.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections import Counter

from flask import Flask, Response, g, request

from sync.forms.fastcheck import FORM_NAMES

from . import metrics
from .logjson import request_id

log = logging.getLogger(__name__)

HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9._:+/=-]{8,128}\Z")


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_answer)
    app.teardown_request(_forget)


def current_id() -> str | None:
    return request_id.get()


def note_push(device_id: str | None, results: list[dict], items: list) -> None:
    """What the push stored, for its log line (written when the answer is final). Forms are
    counted by name; a name that is none of ours is "other", so nothing a client wrote there
    reaches the log."""
    g.push_items, g.push_results = items, results
    g.push_log = {
        "device": device_id,
        "items": len(results),
        "statuses": dict(Counter(r["status"] for r in results)),
        "forms": dict(
            Counter(
                i["form"] if isinstance(i, dict) and _known(i.get("form")) else "other"
                for i in items
            )
        ),
    }


def _known(form: object) -> bool:
    """One of our forms' names (a client may send anything there, a dict included)."""
    return isinstance(form, str) and form in FORM_NAMES


def _start() -> None:
    sent = request.headers.get(HEADER, "")
    rid = sent if _SANE.match(sent) else uuid.uuid4().hex
    g.request_id = rid
    g.request_started = time.perf_counter()
    request_id.set(rid)


def _answer(response: Response) -> Response:
    rid = g.get("request_id")
    if rid:
        response.headers[HEADER] = rid
    pushed = g.pop("push_log", None)
    if pushed is not None and not 200 <= response.status_code < 300:
        pushed = None  # the view's results were rolled back (a refusal, a failed commit)
    if pushed is not None or _is_push():
        metrics.push_answered(
            "openrosa" if request.path.endswith("/submission") else "json",
            response.status_code,
            g.get("push_items") or [],
            g.get("push_results") if pushed is not None else None,
        )
        took = (time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000
        caller = g.get("principal")
        line = pushed or {
            "device": getattr(caller, "device_id", None),
            "items": 0,
            "statuses": {},
            "forms": {},
        }
        level = logging.INFO if response.status_code < 500 else logging.WARNING
        log.log(
            level,
            "push %s: %d forms, %s",
            response.status_code,
            line["items"],
            ", ".join(f"{n} {s}" for s, n in sorted(line["statuses"].items())) or "none stored",
            extra={
                "event": "push",
                "status": response.status_code,
                "duration_ms": round(took, 1),
                **line,
            },  # fmt: skip
        )
    return response


def _is_push() -> bool:
    """A push refused before it was read (a 4xx/5xx): it gets its line too."""
    return request.method == "POST" and (
        request.path == "/api/v1/sync/push" or request.path.endswith("/submission")
    )


def _forget(_exc: BaseException | None) -> None:
    request_id.set(None)
