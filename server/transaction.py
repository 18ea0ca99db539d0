"""The one place a request's transaction is committed, rolled back or run again.

A view decorated with ``@transaction`` does its work in the request's session and returns; the
work is committed before the answer leaves, so a 2xx always means durable. Anything it raises
rolls everything back, so a refusal never leaves half a write behind. When the database says
a concurrent writer got in the way (two requests inserting the same new key at once, a
deadlock between lock orders, a lock wait that timed out), nothing was written and the whole
view runs again from the start, a few times, before the client is told to retry (503 with
``Retry-After``). A view must therefore be safe to run twice: read the request, call ``sync``,
answer; no side effects outside the database.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

import psycopg
from flask import Response
from sqlalchemy.exc import IntegrityError, OperationalError

from sync.errors import DomainError

from . import db, metrics
from .errors import ApiError, database_unavailable, disk_full

RETRIES = 3
# A writers' race as SQLAlchemy reports it, and as psycopg does where the push path talks to
# the driver directly (COPY): two pushes of one new id at once, a deadlock, a lock timeout.
RACES = (IntegrityError, OperationalError, psycopg.IntegrityError, psycopg.OperationalError)
log = logging.getLogger(__name__)
BUSY = "The server is busy; send the same request again."


def transaction(
    view: Callable | None = None,
    *,
    retries: int = RETRIES,
    refused: Callable[[DomainError], Response] | None = None,
):
    """Commit the view's work, roll it back on any exception, retry it on a writers' race.

    ``refused``: for pages, which answer a refusal with a page rather than an error, the
    rollback comes first and then ``refused(exc)`` makes the answer.
    """

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any):
            session = db.session()
            for attempt in range(retries):
                try:
                    answer = fn(*args, **kwargs)
                    session.commit()
                    return answer
                except RACES as exc:
                    session.rollback()
                    if database_unavailable(exc) and _connection_lost(exc):
                        raise  # the database is down: 503 from the error handler, no retry
                    if disk_full(exc):
                        raise  # no retry can help: the error handler's 503 names the disk
                    if attempt == retries - 1:
                        log.warning(
                            "%s gave up after %d attempts: %s",
                            fn.__name__,
                            retries,
                            type(exc).__name__,
                            extra={"event": "retries_exhausted", "view": fn.__name__},
                        )
                        metrics.UNAVAILABLE.labels("busy").inc()
                        raise ApiError(503, BUSY, headers={"Retry-After": "2"}) from exc
                    time.sleep(0.05 * (attempt + 1))
                except DomainError as exc:
                    session.rollback()
                    if refused is None:
                        raise
                    return refused(exc)
                except BaseException:
                    session.rollback()
                    raise
            raise AssertionError("unreachable")  # pragma: no cover

        return run

    return decorate(view) if view is not None else decorate


def _connection_lost(exc: Exception) -> bool:
    """A lost or refused connection, as against a conflict between writers: retrying within
    the request would only hold the worker while the database restarts."""
    return bool(getattr(exc, "connection_invalidated", False))
