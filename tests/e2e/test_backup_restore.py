"""Backups an operator can restore from.

SQLite: ``wardsync backup`` taken from a live server while phones push, more pushes after it,
then the server stopped and ``wardsync restore`` run. The restored database passes ``wardsync
verify``, and the phones, seeing the server's receipt fall short of what they sent, send the
lost forms again: in the end every form is stored once and counted once.

PostgreSQL: the README's runbook (``pg_dump -Fc`` while serving, ``pg_restore`` into an empty
database) on the same kind of traffic.
"""

from __future__ import annotations

import random
import shutil
import subprocess

import pytest
from backup_kit import (
    PHONES,
    Pushing,
    enrol_phones,
    hours_sent,
    progress_total,
    record,
    run_wardsync,
    stored_count,
    stored_ids,
)
from sqlalchemy.engine import make_url
from wardsync_client import connect, sync_device


def test_a_live_sqlite_backup_restores_and_the_phones_fill_the_gap(
    world, session, backend, live_server, server_env, tmp_path
):
    if backend != "sqlite":
        pytest.skip("wardsync backup is SQLite's; PostgreSQL's runbook is tested below")
    rnd = random.Random(15)
    phones = enrol_phones(session, live_server, tmp_path)
    url = server_env["WARDSYNC_DATABASE_URL"]

    # The phones push all along; the backup is taken while they do, and they go on after it.
    pushing = Pushing(phones, seed=15)
    pushing.wait_rounds(3)
    backup_file = tmp_path / "backups" / "wardsync.sqlite3"
    backup_file.parent.mkdir()
    taken = run_wardsync(["backup", str(backup_file)], server_env)
    assert taken.returncode == 0, taken.stdout + taken.stderr
    pushing.wait_rounds(2)
    pushing.finish()
    assert all(store.queued_count() == 0 for store, _ in phones)
    recorded = stored_count(url)
    # A second day after the backup: all of it is lost with the restore.
    for store, ward in phones:
        record(store, ward, rnd, 10, day=1)
        sync_device(store, connect(store))
    every_id = set().union(*(store.sent_ids() for store, _ in phones))
    assert len(every_id) == recorded + 10 * PHONES == stored_count(url)
    hours = sum(hours_sent(store) for store, _ in phones)

    # Disaster: the server is stopped and the backup restored.
    live_server.stop()
    restored = run_wardsync(["restore", str(backup_file), "--yes"], server_env)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    in_backup = stored_count(url)
    assert 0 < in_backup < recorded, "the backup was not taken mid-push"
    assert f"restored {in_backup} submissions" in restored.stdout
    verify = run_wardsync(["verify", "--campaign", "camp"], server_env)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # The phones sync as usual; their receipts say the server lost forms, and they resend.
    live_server.start()
    resent = 0
    for store, _ in phones:
        report = sync_device(store, connect(store))
        resent += report.resent
        assert store.queued_count() == 0
    assert resent >= len(every_id) - in_backup

    assert stored_ids(url) == every_id
    verify = run_wardsync(["verify", "--campaign", "camp"], server_env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert progress_total(live_server.base, "volunteer_hours") == hours
    # A second sync with nothing lost resends nothing.
    assert all(sync_device(store, connect(store)).resent == 0 for store, _ in phones)
    for store, _ in phones:
        store.close()


def test_backup_refuses_postgresql_and_names_the_runbook(server_env, backend, tmp_path):
    if backend != "postgresql":
        pytest.skip("SQLite's backup is tested above")
    answer = run_wardsync(["backup", str(tmp_path / "b.sqlite3")], server_env)
    assert answer.returncode != 0 and "pg_dump" in answer.stderr


def test_the_postgresql_runbook_dump_while_serving_and_restore(
    world, session, backend, live_server, server_env, tmp_path
):
    if backend != "postgresql":
        pytest.skip("the runbook is PostgreSQL's; SQLite's backup is tested above")
    for tool in ("pg_dump", "pg_restore", "createdb", "dropdb"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is needed (Debian's postgresql-client) for the runbook")
    phones = enrol_phones(session, live_server, tmp_path)
    url = make_url(server_env["WARDSYNC_DATABASE_URL"])
    libpq = f"postgresql://{url.username}@{url.host}:{url.port}"
    dump = tmp_path / "wardsync.dump"

    pushing = Pushing(phones, seed=16)
    pushing.wait_rounds(3)
    dumped = subprocess.run(  # the runbook's command, while the phones push
        ["pg_dump", "-Fc", "-f", str(dump), f"{libpq}/{url.database}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    pushing.wait_rounds(2)
    pushing.finish()
    assert dumped.returncode == 0, dumped.stderr
    sent = stored_count(server_env["WARDSYNC_DATABASE_URL"])

    copy = f"{url.database}_restored"
    server = ["-h", url.host, "-p", str(url.port), "-U", url.username]
    subprocess.run(["dropdb", *server, "--if-exists", copy], check=True)
    subprocess.run(["createdb", *server, copy], check=True)
    try:
        restored = subprocess.run(
            ["pg_restore", "--no-owner", "-d", f"{libpq}/{copy}", str(dump)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert restored.returncode == 0, restored.stderr
        copy_env = {**server_env, "WARDSYNC_DATABASE_URL": f"{libpq}/{copy}"}
        in_dump = stored_count(copy_env["WARDSYNC_DATABASE_URL"])
        assert 0 < in_dump < sent  # a snapshot taken while the phones pushed
        verify = run_wardsync(["verify", "--campaign", "camp"], copy_env)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        # The runbook's last step: a no-op here.
        upgraded = run_wardsync(["db", "upgrade"], copy_env)
        assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    finally:
        subprocess.run(["dropdb", *server, "--if-exists", copy], check=False)
        for store, _ in phones:
            store.close()
