"""Rate limits (Flask-Limiter): in memory by default, Redis when ``WARDSYNC_REDIS_URL`` is set.

With several gunicorn workers or hosts, only Redis makes the login limit hold across them.
"""

from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, headers_enabled=True, retry_after="delta-seconds")


def init_app(app: Flask) -> None:
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    limiter.init_app(app)


def login_username() -> str:
    """Failed logins are counted per username, whoever sends them."""
    body = request.get_json(silent=True)
    username = body.get("username") if isinstance(body, dict) else None
    return f"login:{username if isinstance(username, str) else '-'}"


def login_failed(response) -> bool:
    return response.status_code == 401
