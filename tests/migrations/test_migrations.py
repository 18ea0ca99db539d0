"""The schema comes only from migrations: one head, reversible, and matching the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from migrations import api as migrations_api
from sync.db import make_engine
from sync.models import Base


def test_single_head():
    assert len(migrations_api.heads()) == 1


def test_models_match_migrations(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_upgrade_downgrade_upgrade(db_url):
    engine = make_engine(db_url)
    try:
        migrations_api.downgrade(db_url, "base")
        tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        migrations_api.upgrade(db_url)
        with engine.connect() as conn:
            assert migrations_api.is_at_head(conn)
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
