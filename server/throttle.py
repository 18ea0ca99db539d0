"""The rate limits: failed logins per username, failed enrolments per phone.

Counted in storage every worker and host shares (``sync.accounts.throttle``): the database by
default, Redis when ``WARDSYNC_REDIS_URL`` is set. Behind a proxy the phone's address comes from
``X-Forwarded-For`` (``server.transport``), so the enrolment limit is per phone and not per
load balancer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, current_app, request

from sync.accounts import throttle, users

from . import db, metrics
from .errors import ApiError

LOGIN = throttle.Rule("login", limit=10, window_s=15 * 60)
ENROLL = throttle.Rule("enroll", limit=30, window_s=60)

T = TypeVar("T")


def init_app(app: Flask) -> None:
    redis_url = app.config.get("REDIS_URL")
    if redis_url:
        store: throttle.Store = throttle.RedisStore(redis_url, app.config["THROTTLE_PREFIX"])
    else:
        store = throttle.DatabaseStore(app.extensions["wardsync.sessions"][True])
    app.extensions["wardsync.throttle"] = store


def too_many(retry_after: int, what: str) -> ApiError:
    metrics.THROTTLED.labels(what).inc()
    return ApiError(
        429, f"Too many {what}; try again later.", headers={"Retry-After": str(retry_after)}
    )


def guarded(rule: throttle.Rule, key: str, what: str, attempt: Callable[[], T | None]) -> T:
    """Run ``attempt`` under ``rule``: it counts as a failure when it returns None (or raises).

    The attempt is recorded before it runs, so concurrent guesses on several workers cannot
    all slip under the limit; a success is forgotten again, since only failures count. It is
    recorded in a transaction of its own, so call this before the request's session writes.
    """
    store: throttle.Store = current_app.extensions["wardsync.throttle"]
    recorded = store.attempt(rule, key)
    if recorded.retry_after is not None:
        raise too_many(recorded.retry_after, what)
    result = attempt()
    if result is not None:
        session = db.session()
        store.forget(recorded, session)
        session.commit()
    return result


def login_key(username: str) -> str:
    """The username exactly as login resolves it: one normalisation, shared with the lookup."""
    return users.normalize_username(username)


def login(username: str, password: str):
    """The user, or None for a wrong password or unknown user; 429 past the limit."""
    return guarded(
        LOGIN,
        login_key(username),
        "failed logins for this username",
        lambda: users.authenticate(db.session(), username, password),
    )


def client_address() -> str:
    return request.remote_addr or "-"
