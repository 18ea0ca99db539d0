"""Log lines as JSON objects, one per line, each with the request id it belongs to.

An operator greps one request's id across the app's lines and gunicorn's access line, on any
host; a log shipper reads the fields without a parsing rule. The request id lives in a context
variable that the app sets when a request starts (``server.request_log``) so that every line
logged while it runs carries it, from any module, without passing it around.

Every message goes through ``redact`` (OpenRosa keys in paths). Tokens, passwords and citizen
ids are never handed to a logger in the first place: the push line carries counts only.

Imports nothing of the app: gunicorn's master loads it (``logconfig_dict`` in
``gunicorn_conf.py``) before any worker exists.
"""

from __future__ import annotations

import contextvars
import json
import logging
from datetime import UTC, datetime

from server.redact import redact

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "wardsync_request_id", default=None
)

# What every LogRecord has; anything else on a record came from ``extra=`` and is a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid:
            line["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and key != "request_id" and not key.startswith("_"):
                line[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            line["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


def config(level: str = "INFO") -> dict:
    """A ``logging.config.dictConfig`` for gunicorn and the app: JSON lines on stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"console": handler, "error_console": handler},
        "root": {"level": level, "handlers": ["console"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
            # /readyz reads the schema's revision through Alembic, which says so at INFO.
            "alembic": {"level": "WARNING"},
        },
    }
