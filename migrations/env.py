"""Alembic environment: the only way wardsync's schema is created, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from sync.db import WRITE_OPTION, make_engine
from sync.models import Base

config = context.config
# An advisory lock key of wardsync's own (the bytes of "wsmigrat"): no other lock uses it.
MIGRATION_LOCK = int.from_bytes(b"wsmigrat", "big")  # below 2**63: a PostgreSQL bigint
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    # SQLite: BEGIN IMMEDIATE, so a second upgrade waits for the first instead of failing
    # when its read transaction cannot become a write one.
    engine = make_engine(url)
    try:
        with engine.execution_options(**{WRITE_OPTION: True}).connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Hosts starting a release at once each run the upgrade: one migrates, the others
            # wait here and then read the version it committed (PostgreSQL's DDL is
            # transactional, so the lock is held until all of it commits).
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("wardsync migrations run online only: use `wardsync db upgrade`")
run_migrations_online()
