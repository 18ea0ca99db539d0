"""The README's point-in-time recovery runbook, run: a PostgreSQL server archiving its WAL, a
base backup, phones pushing before and after a chosen moment, then recovery to that moment
from the base backup and the archive. The recovered database holds exactly what was committed
by then, passes ``wardsync verify``, and the phones' resends bring back the rest.

On a server of the test's own (``kit.pg_cluster``): archiving needs settings and restarts that
the machine's shared server must not get.
"""

from __future__ import annotations

import os
import pwd
import random
import shutil
import time
from datetime import datetime

import pytest
from backup_kit import PHONES, Pushing, enrol_phones, record, run_wardsync, stored_ids
from kit.pg_cluster import own_cluster
from sqlalchemy import create_engine, text
from wardsync_client import connect, sync_device

from migrations import api as migrations_api


@pytest.fixture
def archiving(backend, tmp_path):
    """A PostgreSQL server archiving every WAL segment into its ``wal-archive`` folder."""
    if backend != "postgresql":
        pytest.skip("point-in-time recovery is PostgreSQL's; SQLite's backup has its own test")
    with own_cluster() as cluster:
        archive = cluster.data.parent / "wal-archive"
        cluster.as_postgres("mkdir", str(archive))
        cluster.configure(
            {
                "wal_level": "replica",
                "archive_mode": "on",
                "archive_command": f"test ! -f {archive}/%f && cp %p {archive}/%f",
                "archive_timeout": "0",
            }
        )
        cluster.stop("fast")
        cluster.start()
        cluster.archive = archive
        migrations_api.upgrade(cluster.url)
        yield cluster


@pytest.fixture
def db_url(archiving) -> str:
    """The wardsync tests' database is the archiving server's (the app, the world and the
    live server all use it)."""
    return archiving.url.replace("postgresql:", "postgresql+psycopg:")


def _scalar(url: str, sql: str):
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            value = connection.scalar(text(sql))
            connection.commit()
            return value
    finally:
        engine.dispose()


def test_point_in_time_recovery_to_a_moment_between_pushes(
    archiving, db_url, world, session, live_server, server_env, tmp_path
):
    cluster = archiving
    phones = enrol_phones(session, live_server, tmp_path)
    session.close()

    # The runbook's base backup, taken while the phones push.
    base = cluster.data.parent / "base"
    pushing = Pushing(phones, seed=17)
    pushing.wait_rounds(2)
    cluster.as_postgres(
        cluster.tool("pg_basebackup"), "-h", "127.0.0.1", "-p", str(cluster.port),
        "-U", "postgres", "-D", str(base), "-Ft", "-z", "-X", "stream",
    )  # fmt: skip
    pushing.wait_rounds(2)
    pushing.finish()
    # The moment to recover to: everything stored by now, nothing after it.
    before = stored_ids(db_url)
    target = _scalar(db_url, "SELECT clock_timestamp()")
    time.sleep(1.2)
    rnd = random.Random(17)
    for store, ward in phones:
        record(store, ward, rnd, 5, day=1)
        sync_device(store, connect(store))
    every_id = set().union(*(store.sent_ids() for store, _ in phones))
    assert len(every_id) == len(before) + 5 * PHONES == len(stored_ids(db_url))
    # The segment holding the later commits goes to the archive (a server does this itself
    # within archive_timeout, or when a segment fills).
    segment = _scalar(db_url, "SELECT pg_walfile_name(pg_switch_wal())")
    deadline = time.monotonic() + 60
    while not (cluster.archive / segment).exists():
        assert time.monotonic() < deadline, f"{segment} was never archived"
        time.sleep(0.1)

    # Disaster: the server and its data directory are lost.
    live_server.stop()
    cluster.stop("immediate")
    shutil.rmtree(cluster.data)

    # Recovery, as the runbook says: the base backup into an empty data directory, the
    # restore command and the target time, recovery.signal, start.
    cluster.as_postgres("mkdir", "-m", "0700", str(cluster.data))
    cluster.as_postgres("tar", "-xzf", str(base / "base.tar.gz"), "-C", str(cluster.data))
    cluster.as_postgres(
        "tar", "-xzf", str(base / "pg_wal.tar.gz"), "-C", str(cluster.data / "pg_wal")
    )
    cluster.configure(
        {
            "restore_command": f"cp {cluster.archive}/%f %p",
            "recovery_target_time": datetime.isoformat(target),
            "recovery_target_action": "promote",
        }
    )
    signal = cluster.data / "recovery.signal"
    signal.touch()
    if os.geteuid() == 0:
        postgres = pwd.getpwnam("postgres")
        os.chown(signal, postgres.pw_uid, postgres.pw_gid)
    cluster.start()
    deadline = time.monotonic() + 120
    while _scalar(db_url, "SELECT pg_is_in_recovery()"):
        assert time.monotonic() < deadline, "recovery did not finish"
        time.sleep(0.2)

    assert stored_ids(db_url) == before
    verify = run_wardsync(["verify", "--campaign", "camp"], server_env)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # The phones sync as usual; the receipts show what the server lost, and they resend it.
    live_server.start()
    resent = 0
    for store, _ in phones:
        resent += sync_device(store, connect(store)).resent
    assert resent >= len(every_id) - len(before)
    assert stored_ids(db_url) == every_id
    verify = run_wardsync(["verify", "--campaign", "camp"], server_env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    for store, _ in phones:
        store.close()
