"""Both databases, and an app per test.

Every test that asks for ``db_url`` (directly or through ``app``) runs twice: on SQLite and on
PostgreSQL. The schema comes from the Alembic migrations, applied once per database per run;
each test then starts from empty tables (a copied SQLite file, truncated PostgreSQL tables).
PostgreSQL tests skip when no server answers, unless ``WARDSYNC_REQUIRE_POSTGRES=1`` (CI),
where they fail instead.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from migrations import api as migrations_api
from server.app import create_app
from sync.db import make_engine, make_session_factory, normalize_url
from sync.models import Base

PG_ADMIN_URL = os.environ.get(
    "WARDSYNC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
# ``--hypothesis-profile=deep``: ten times the examples for the model-based property tests
# (tests/contract), which take the larger of this and their own CI floor of 200.
settings.register_profile("deep", max_examples=2000, deadline=None)
# No per-example deadline by default: CI shares 2 cores with servers and browsers, and an
# example that took 250 ms once is load, not a defect (the benchmarks measure speed).
settings.register_profile("shared-cores", deadline=None)
settings.load_profile("shared-cores")

REQUIRE_PG = os.environ.get("WARDSYNC_REQUIRE_POSTGRES") == "1"
TEST_SECRET = "test-secret-key-that-is-long-enough-for-hs256-0123456789"


@dataclass
class TestDatabase:
    backend: str
    template_url: str
    workdir: Path
    counter: int = 0
    tables: list[str] = field(default_factory=list)

    def fresh_url(self) -> str:
        """A URL to an empty, fully migrated database for one test."""
        if self.backend == "sqlite":
            self.counter += 1
            target = self.workdir / f"test-{self.counter}.sqlite3"
            shutil.copyfile(make_url(self.template_url).database, target)
            return f"sqlite:///{target}"
        engine = create_engine(normalize_url(self.template_url))
        with engine.begin() as conn:
            # DELETE, children first, and the sequences restarted: for a test's few rows a
            # tenth of what TRUNCATE costs (which makes new files for every table).
            for name in reversed(self.tables):
                conn.execute(text(f'DELETE FROM "{name}"'))
            for sequence in conn.scalars(
                text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
            ).all():
                conn.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
            conn.execute(
                text("UPDATE feed_clock SET seq = 1, epoch = :epoch"), {"epoch": uuid.uuid4().hex}
            )
        engine.dispose()
        return self.template_url


def _postgres_database(worker: str) -> str:
    admin = make_url(normalize_url(PG_ADMIN_URL))
    # Per process, so two test runs on one machine never drop each other's database.
    name = f"wardsync_test_{worker}_{os.getpid()}"
    try:
        engine = create_engine(
            admin, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        reason = (
            f"PostgreSQL is not reachable at {admin.render_as_string()} "
            f"({type(exc).__name__}); set WARDSYNC_TEST_POSTGRES_URL"
        )
        if REQUIRE_PG:
            pytest.fail(f"WARDSYNC_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    return admin.set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(url: str) -> None:
    admin = create_engine(normalize_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        name = make_url(url).database
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)],
)
def database(request, tmp_path_factory) -> TestDatabase:
    workdir = tmp_path_factory.mktemp(request.param)
    if request.param == "sqlite":
        url = f"sqlite:///{workdir / 'template.sqlite3'}"
    else:
        url = _postgres_database(os.environ.get("PYTEST_XDIST_WORKER", "main"))
        request.addfinalizer(lambda: _drop_postgres_database(url))
    migrations_api.upgrade(url)
    # feed_clock holds the single row the migration seeds: reset, never emptied.
    tables = [t.name for t in Base.metadata.sorted_tables if t.name != "feed_clock"]
    return TestDatabase(request.param, url, workdir, tables=tables)


@pytest.fixture
def backend(database) -> str:
    return database.backend


@pytest.fixture
def db_url(database) -> str:
    return database.fresh_url()


@pytest.fixture
def instance_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "instance"
    monkeypatch.setenv("WARDSYNC_INSTANCE_PATH", str(path))
    return path


@pytest.fixture
def app(db_url, instance_dir):
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": db_url,
            "SECRET_KEY": TEST_SECRET,
        }
    )

    yield app
    app.extensions["wardsync.engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    """A session of its own, to set data up and to check what the API stored.

    Deferred transactions (no ``BEGIN IMMEDIATE`` on SQLite), so a test that only reads does
    not hold the write lock against the app; close it between reads to see new commits.
    """
    with make_session_factory(engine, write=False)() as session:
        yield session
