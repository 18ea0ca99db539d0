"""Backups an operator can restore from.

SQLite: ``wardsync backup`` taken from a live server while phones push, more pushes after it,
then the server stopped and ``wardsync restore`` run. The restored database passes ``wardsync
verify``, and the phones, seeing the server's receipt fall short of what they sent, send the
lost forms again: in the end every form is stored once and counted once.

PostgreSQL: the README's runbook (``pg_dump -Fc`` while serving, ``pg_restore`` into an empty
database) on the same kind of traffic.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
from kit.live import WARDSYNC, wait_for
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from wardsync_client import DeviceStore, connect, enroll, sync_device
from wardsync_client.sync import push

from sync.accounts import devices, users
from sync.db import make_engine
from sync.models import Submission, User

PHONES = 6
WARDS = ("W1", "W2", "W3")
VN = timezone(timedelta(hours=7))
HQ_PASSWORD = "headquarters reads the totals"


def _record(store: DeviceStore, ward: str, rnd: random.Random, count: int, day: int) -> None:
    start = datetime(2023, 7, 29, 8, 0, tzinfo=VN) + timedelta(days=day)
    for n in range(count):
        at = start + timedelta(minutes=5 * n)
        if n % 3 == 0:
            form, data = "activation", {"citizen_id": f"{rnd.randrange(10**12):012d}",
                                        "status": rnd.choice(("visited", "installed"))}  # fmt: skip
        else:
            form, data = (
                "household_help",
                {"household_id": str(uuid.uuid4()), "kind": "sanitation", "hours": 1 + n % 4},
            )
        store.record(form, "camp", ward, data, recorded_at=at)


def _hours(store: DeviceStore) -> int:
    """The volunteer hours of the phone's help forms, from what it sent (one volunteer each)."""
    rows = store.db.execute("SELECT body FROM sent WHERE form = 'household_help'")
    return sum(json.loads(body)["data"]["hours"] for (body,) in rows)


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [WARDSYNC, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _stored(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(Submission))
    finally:
        engine.dispose()


def _phones(session, live_server, tmp_path) -> list[tuple[DeviceStore, str]]:
    admin = session.scalar(select(User).where(User.username == "admin"))
    codes = []
    for i in range(PHONES):
        ward = WARDS[i % len(WARDS)]
        users.create(session, f"tnv-{i}", "volunteer", [ward])
        codes.append((devices.create_code(session, admin, f"tnv-{i}", [ward])[0], ward))
    users.create(session, "hq-report", "hq", [], password=HQ_PASSWORD)
    session.commit()
    phones = []
    for i, (code, ward) in enumerate(codes):
        store = DeviceStore(tmp_path / "phones" / f"{i}.sqlite3")
        enroll(store, live_server.base, code, f"phone-{i}")
        phones.append((store, ward))
    return phones


class Pushing:
    """Each phone records three forms and pushes them, over and over, until stopped: the
    server is under pushes the whole time, whatever a command beside it takes."""

    def __init__(self, phones, seed: int):
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.rounds = [0] * len(phones)
        self.threads = [
            threading.Thread(target=self._phone, args=(i, store.path, ward, seed))
            for i, (store, ward) in enumerate(phones)
        ]
        for t in self.threads:
            t.start()

    def _phone(self, i: int, path, ward: str, seed: int) -> None:
        store = DeviceStore(path)  # a phone's store is used from one thread
        rnd = random.Random(seed * 100 + i)
        try:
            connection = connect(store)
            while not self.stop.is_set():
                _record(store, ward, rnd, 3, day=0)
                push(store, connection, batch_size=3)
                self.rounds[i] += 1
        except BaseException as exc:  # noqa: BLE001 - reported by finish()
            self.errors.append(exc)
            self.stop.set()
        finally:
            store.close()

    def wait_rounds(self, more: int) -> None:
        """Until every phone has pushed ``more`` more times (or one failed)."""
        goal = [n + more for n in self.rounds]
        wait_for(
            lambda: self.errors or all(n >= g for n, g in zip(self.rounds, goal, strict=True)),
            timeout=120,
            what=f"every phone pushing {more} more times",
        )

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=300)
        assert not self.errors, self.errors


def _progress_total(base: str, metric: str) -> float:
    login = requests.post(
        f"{base}/api/v1/auth/login",
        json={"username": "hq-report", "password": HQ_PASSWORD},
        timeout=30,
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    answer = requests.get(
        f"{base}/api/v1/progress",
        params={"campaign": "camp", "org_unit": "P"},
        headers=headers,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["totals"][metric]["value"]


def test_a_live_sqlite_backup_restores_and_the_phones_fill_the_gap(
    world, session, backend, live_server, server_env, tmp_path
):
    if backend != "sqlite":
        pytest.skip("wardsync backup is SQLite's; PostgreSQL's runbook is tested below")
    rnd = random.Random(15)
    phones = _phones(session, live_server, tmp_path)
    url = server_env["WARDSYNC_DATABASE_URL"]

    # The phones push all along; the backup is taken while they do, and they go on after it.
    pushing = Pushing(phones, seed=15)
    pushing.wait_rounds(3)
    backup_file = tmp_path / "backups" / "wardsync.sqlite3"
    backup_file.parent.mkdir()
    taken = _run(["backup", str(backup_file)], server_env)
    assert taken.returncode == 0, taken.stdout + taken.stderr
    pushing.wait_rounds(2)
    pushing.finish()
    assert all(store.queued_count() == 0 for store, _ in phones)
    recorded = _stored(url)
    # A second day after the backup: all of it is lost with the restore.
    for store, ward in phones:
        _record(store, ward, rnd, 10, day=1)
        sync_device(store, connect(store))
    every_id = set().union(*(store.sent_ids() for store, _ in phones))
    assert len(every_id) == recorded + 10 * PHONES == _stored(url)
    hours = sum(_hours(store) for store, _ in phones)

    # Disaster: the server is stopped and the backup restored.
    live_server.stop()
    restored = _run(["restore", str(backup_file), "--yes"], server_env)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    in_backup = _stored(url)
    assert 0 < in_backup < recorded, "the backup was not taken mid-push"
    assert f"restored {in_backup} submissions" in restored.stdout
    verify = _run(["verify", "--campaign", "camp"], server_env)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # The phones sync as usual; their receipts say the server lost forms, and they resend.
    live_server.start()
    resent = 0
    for store, _ in phones:
        report = sync_device(store, connect(store))
        resent += report.resent
        assert store.queued_count() == 0
    assert resent >= len(every_id) - in_backup

    engine = make_engine(url)
    with engine.connect() as connection:
        stored_ids = set(connection.scalars(select(Submission.id)))
    engine.dispose()
    assert stored_ids == every_id
    verify = _run(["verify", "--campaign", "camp"], server_env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert _progress_total(live_server.base, "volunteer_hours") == hours
    # A second sync with nothing lost resends nothing.
    assert all(sync_device(store, connect(store)).resent == 0 for store, _ in phones)
    for store, _ in phones:
        store.close()


def test_backup_refuses_postgresql_and_names_the_runbook(server_env, backend, tmp_path):
    if backend != "postgresql":
        pytest.skip("SQLite's backup is tested above")
    answer = _run(["backup", str(tmp_path / "b.sqlite3")], server_env)
    assert answer.returncode != 0 and "pg_dump" in answer.stderr


def test_the_postgresql_runbook_dump_while_serving_and_restore(
    world, session, backend, live_server, server_env, tmp_path
):
    if backend != "postgresql":
        pytest.skip("the runbook is PostgreSQL's; SQLite's backup is tested above")
    for tool in ("pg_dump", "pg_restore", "createdb", "dropdb"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is needed (Debian's postgresql-client) for the runbook")
    phones = _phones(session, live_server, tmp_path)
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
    sent = _stored(server_env["WARDSYNC_DATABASE_URL"])

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
        in_dump = _stored(copy_env["WARDSYNC_DATABASE_URL"])
        assert 0 < in_dump < sent  # a snapshot taken while the phones pushed
        verify = _run(["verify", "--campaign", "camp"], copy_env)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        upgraded = _run(["db", "upgrade"], copy_env)  # the runbook's last step: a no-op here
        assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    finally:
        subprocess.run(["dropdb", *server, "--if-exists", copy], check=False)
        for store, _ in phones:
            store.close()
