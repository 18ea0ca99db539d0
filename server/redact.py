"""Credentials never reach a log: an OpenRosa device's key is in its URL, so every path a log
line holds goes through ``redact`` first.

ODK Collect sends no bearer token; its credential is the key in ``/openrosa/key/<key>/…``.
gunicorn's access log (through ``RedactingLogger``, set in ``gunicorn_conf.py``) and the app's
own log lines (``server.errors``) show ``/openrosa/key/[redacted]/…`` instead. A path written
with percent escapes (``/%6Fpenrosa/key/…``, which routes the same) is redacted as well.

Imports nothing of the app: gunicorn's master loads it before any worker exists.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

from gunicorn import glogging

MARK = "[redacted]"
_KEY_IN_PATH = re.compile(r"(/+openrosa/+key/+)[^/?#\s\"]*", re.IGNORECASE)
_MARKED = rf"\1{MARK}"


def redact(text: str) -> str:
    """``text`` with the key of every OpenRosa path in it replaced by ``[redacted]``."""
    if not isinstance(text, str):
        return text
    cleaned = _KEY_IN_PATH.sub(_MARKED, text)
    if "%" in cleaned:  # escapes may hide a path that routes the same: decode and look again
        decoded = unquote(cleaned)
        marked = _KEY_IN_PATH.sub(_MARKED, decoded)
        if marked != decoded:
            return marked
    return cleaned


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with the keys taken out (the arguments folded in)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot format is left to logging
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class RedactingLogger(glogging.Logger):
    """gunicorn's logger, with every access-log atom and every error-log line redacted."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactingFilter) for f in log.filters):
                log.addFilter(RedactingFilter())

    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        return {name: redact(value) for name, value in atoms.items()}

    def access(self, resp, req, environ, request_time) -> None:
        """One structured line per request (fields, not a format string), with the request
        id the app answered with, so it joins the app's own lines for that request."""
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        fields = {
            "remote": atoms.get("h"),
            "method": atoms.get("m"),
            "path": atoms.get("U"),
            "status": int(atoms["s"]) if str(atoms.get("s", "")).isdigit() else atoms.get("s"),
            "bytes": atoms.get("B"),
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "user_agent": atoms.get("a"),
            "request_id": atoms.get("{x-request-id}o") or None,
        }
        try:
            self.access_log.info(
                "%s %s %s", fields["method"], fields["path"], fields["status"], extra=fields
            )
        except Exception:  # noqa: BLE001 - as gunicorn's own: a bad line never fails a request
            self.error("access log line failed", exc_info=True)
