"""Exports from a read replica (``WARDSYNC_REPLICA_DATABASE_URL``): a PostgreSQL hot standby
streaming from the primary, both servers of the test's own (``kit.pg_cluster``).

Headquarters' exports read the standby, so their large reads never compete with the phones'
pushes, and the export cursor keeps its promise there: a change is never skipped, even when a
transaction still running on the primary would commit below rows the standby already shows.
"""

from __future__ import annotations

import json
import random
import time

import pytest
import requests
from backup_kit import HQ_PASSWORD, enrol_phones, record, stored_ids
from kit.live import free_port, wait_for
from kit.pg_cluster import Cluster, own_cluster
from sqlalchemy import create_engine, func, select, text
from wardsync_client import connect, sync_device

from migrations import api as migrations_api
from sync.admin import orgunits
from sync.db import make_session_factory
from sync.models import OrgUnit, Submission


def _psycopg(url: str) -> str:
    return url.replace("postgresql:", "postgresql+psycopg:")


@pytest.fixture
def servers(backend):
    """(primary, standby): the standby made from a base backup of the primary (``-R``: it
    streams from it) and started as a hot standby."""
    if backend != "postgresql":
        pytest.skip("read replicas are PostgreSQL's hot standbys; SQLite has none")
    with own_cluster() as primary:
        migrations_api.upgrade(primary.url)
        root = primary.data.parent / "standby"
        primary.as_postgres("mkdir", "-p", str(root / "socket"))
        standby = Cluster(primary.bindir, root, free_port())
        primary.as_postgres(
            primary.tool("pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
            "-U", "postgres", "-D", str(standby.data), "-R", "-X", "stream",
        )  # fmt: skip
        standby.start()
        try:
            standby.wait_ready()
            yield primary, standby
        finally:
            standby.stop("immediate")


@pytest.fixture
def db_url(servers) -> str:
    return _psycopg(servers[0].url)


@pytest.fixture
def server_env(server_env, servers):
    return {**server_env, "WARDSYNC_REPLICA_DATABASE_URL": _psycopg(servers[1].url)}


class Headquarters:
    """A script at headquarters exporting the campaign's submissions incrementally."""

    def __init__(self, base: str):
        self.base = base
        login = requests.post(
            f"{base}/api/v1/auth/login",
            json={"username": "hq-report", "password": HQ_PASSWORD},
            timeout=30,
        )
        assert login.status_code == 200, login.text
        self.headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

    def export(self, after: str | None = None) -> requests.Response:
        params = {"campaign": "camp", "format": "ndjson", **({"after": after} if after else {})}
        return requests.get(
            f"{self.base}/api/v1/exports/submissions", params=params, headers=self.headers,
            timeout=60,
        )  # fmt: skip

    def ids(self, after: str | None = None) -> tuple[list[str], str]:
        """The export's ids and next cursor. A 503 is tried again, as a script does: the
        first request after the standby restarted may meet a pooled connection that died
        with it (the pool then drops them all)."""
        for _ in range(5):
            answer = self.export(after)
            if answer.status_code != 503:
                break
            time.sleep(0.5)
        assert answer.status_code == 200, answer.text
        rows = [json.loads(line) for line in answer.text.splitlines()]
        return [row["id"] for row in rows], answer.headers["X-Next-Cursor"]


def _count(url: str, query) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.scalar(query)
    finally:
        engine.dispose()


def test_exports_read_the_replica_and_never_skip_a_change(
    servers, db_url, world, session, live_server, tmp_path
):
    primary, standby = servers
    replica = _psycopg(standby.url)
    submissions = select(func.count()).select_from(Submission)
    assert _count(replica, text("SELECT pg_is_in_recovery()"))
    phones = enrol_phones(session, live_server, tmp_path)
    session.close()
    rnd = random.Random(21)
    for store, ward in phones:
        record(store, ward, rnd, 4, day=0)
        sync_device(store, connect(store))
    first = stored_ids(db_url)
    wait_for(lambda: _count(replica, submissions) == len(first), what="the standby replaying")

    hq = Headquarters(live_server.base)
    ids, cursor = hq.ids()
    assert sorted(ids) == sorted(first)

    # A transaction on the primary is still running (a lead's edit, say) while the phones push
    # more. The standby shows the pushes, yet the export holds them back: the running writer
    # could still commit below them, and a cursor past them would then skip its change.
    writer_engine = create_engine(db_url)
    writer = make_session_factory(writer_engine)()
    orgunits.create(writer, "W-slow", "Still being written", "P")
    writer.flush()
    for store, ward in phones:
        record(store, ward, rnd, 2, day=1)
        sync_device(store, connect(store))
    second = stored_ids(db_url) - first
    wait_for(
        lambda: _count(replica, submissions) == len(first) + len(second),
        what="the standby replaying the second pushes",
    )
    assert hq.ids(cursor) == ([], cursor)
    writer.commit()
    writer.close()
    writer_engine.dispose()
    wait_for(
        lambda: _count(replica, select(func.count()).where(OrgUnit.code == "W-slow")) == 1,
        what="the standby replaying the slow writer's commit",
    )
    ids, later = hq.ids(cursor)
    assert sorted(ids) == sorted(second) and later != cursor
    assert hq.ids(later) == ([], later)

    # The exports really are the standby's: with it down they answer 503 (try again later),
    # while the phones push to the primary as before; back up, the export goes on.
    standby.stop("fast")
    down = hq.export(later)
    assert down.status_code == 503 and "Retry-After" in down.headers
    assert down.headers["Content-Type"].startswith("application/problem+json")
    store, ward = phones[0]
    record(store, ward, rnd, 1, day=2)
    sync_device(store, connect(store))
    assert store.queued_count() == 0
    standby.start()
    standby.wait_ready()
    wait_for(
        lambda: _count(replica, submissions) == len(first) + len(second) + 1,
        what="the standby catching up",
    )
    ids, _ = hq.ids(later)
    assert len(ids) == 1
    for store, _ in phones:
        store.close()
