"""Engines and sessions for SQLite (the embedded default) and PostgreSQL (production).

Both databases must behave the same for the engine, so the per-dialect tuning lives here and
nowhere else: SQLite gets WAL (readers never block the writer), enforced foreign keys and a
busy timeout so concurrent gunicorn workers queue instead of failing.
"""

from __future__ import annotations

import time

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "wardsync_write"
# Bounded waits on PostgreSQL, so an outage is a quick 503 and not a hung worker: for a new
# connection, and for a free one from the pool. A ping before using a connection that sat idle
# replaces connections a restart broke.
PG_CONNECT_TIMEOUT_S = 5
PG_POOL_TIMEOUT_S = 10


def normalize_url(url: str) -> str:
    """Accept the plain ``postgresql://`` URLs operators paste, and use psycopg 3 for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **kwargs) -> Engine:
    url = normalize_url(url)
    # An error's text leaves out the statement's values (an address, a note): it is logged.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **kwargs,
        )
        _tune_sqlite(engine)
        return engine
    kwargs.setdefault("pool_timeout", PG_POOL_TIMEOUT_S)
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("connect_timeout", PG_CONNECT_TIMEOUT_S)
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)
    return engine


PING_AFTER_IDLE_S = 2.0


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only when it sat idle for a while.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: a round trip in each request, an
    eighth of a one-form push's waits. A connection returned a moment ago is as alive as
    a ping would show; one that died since (a restarted server) fails its first statement,
    the pool drops it and every older connection, and the request answers 503 with
    ``Retry-After`` as any outage does.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record):
        record.info["returned"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy):
        if time.monotonic() - record.info.get("returned", 0.0) < PING_AFTER_IDLE_S:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            dbapi_connection.rollback()
        except Exception as error:  # noqa: BLE001 - any failure means this connection is gone
            raise DisconnectionError() from error


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # pysqlite's own transaction handling defers BEGIN oddly; let SQLAlchemy emit it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # Writers take the lock up front: a deferred transaction that later tries to write can
        # fail with SQLITE_BUSY without waiting. Readers stay deferred so WAL lets them run
        # beside a writer.
        if connection.get_execution_options().get(WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def make_session_factory(engine: Engine, *, write: bool = True) -> sessionmaker[Session]:
    """Sessions for writing (SQLite: ``BEGIN IMMEDIATE``) or for reading only."""
    bind = engine.execution_options(**{WRITE_OPTION: True}) if write else engine
    return sessionmaker(bind=bind, expire_on_commit=False)


def is_postgres(session: Session) -> bool:
    """What a statement may use: PostgreSQL has transaction ids, sequences and advisory locks."""
    return session.get_bind().dialect.name == "postgresql"
