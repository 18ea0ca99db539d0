"""One SQLAlchemy session per request, opened on first use and closed at teardown."""

from __future__ import annotations

import contextlib
import logging

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sync.db import make_engine, make_session_factory

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"], echo=app.config.get("SQL_ECHO", False))
    app.extensions["wardsync.engine"] = engine
    app.extensions["wardsync.sessions"] = {
        True: make_session_factory(engine, write=True),
        False: make_session_factory(engine, write=False),
    }
    replica = app.config.get("REPLICA_DATABASE_URL")
    if replica:
        app.extensions["wardsync.replica_engine"] = make_engine(replica)
        app.extensions["wardsync.replica"] = make_session_factory(
            app.extensions["wardsync.replica_engine"], write=False
        )
    else:
        app.extensions["wardsync.replica"] = app.extensions["wardsync.sessions"][False]
    app.teardown_appcontext(_close_session)


def engine():
    return current_app.extensions["wardsync.engine"]


def session() -> Session:
    """The request's session; a write session unless the request only reads."""
    if "db_session" not in g:
        write = not (has_request_context() and request.method in READ_METHODS)
        g.db_session = current_app.extensions["wardsync.sessions"][write]()
    return g.db_session


def open_session(write: bool = False) -> Session:
    """A session of its own, for work that outlives the request (a streamed export): the
    caller closes it."""
    return current_app.extensions["wardsync.sessions"][write]()


def open_reader() -> Session:
    """A read-only session of its own on the read replica (``WARDSYNC_REPLICA_DATABASE_URL``),
    or on the primary when there is none, for the exports: headquarters' large reads then
    never compete with the phones' pushes. The caller closes it.

    One session serves a whole export: a replica behind a balancer may be another server on
    the next connection, and one further behind would show less than the cursor promised."""
    return current_app.extensions["wardsync.replica"]()


def _close_session(_exc: BaseException | None) -> None:
    """Close the request's session; a database lost after the answer was made costs only the
    connection.

    Closing rolls back what is still open. When the server went away between the view's last
    statement and here (a restart), that rollback fails: raised from a teardown, it would reach
    gunicorn and replace the finished answer with its own HTML 500. The answer stands (a write
    was committed before it was made, a read has nothing to undo), so the connection is
    dropped and the error logged.
    """
    db_session = g.pop("db_session", None)
    if db_session is None:
        return
    try:
        db_session.close()
    except SQLAlchemyError as exc:
        log.warning("the database connection was lost after the answer was made: %s", exc)
        with contextlib.suppress(SQLAlchemyError):
            db_session.invalidate()
