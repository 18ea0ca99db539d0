"""What the backup tests share: phones enrolled on a live server, pushing in threads until
stopped, and counts read straight from the database.

Its own module name (not conftest), so tests import it by a name no other file shares.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import threading
import uuid
from datetime import datetime, timedelta, timezone

import requests
from kit.live import WARDSYNC, wait_for
from sqlalchemy import func, select
from wardsync_client import DeviceStore, connect, enroll
from wardsync_client.sync import push

from sync.accounts import devices, users
from sync.db import make_engine
from sync.models import Submission, User

PHONES = 6
WARDS = ("W1", "W2", "W3")
VN = timezone(timedelta(hours=7))
HQ_PASSWORD = "headquarters reads the totals"


def record(store: DeviceStore, ward: str, rnd: random.Random, count: int, day: int) -> None:
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


def hours_sent(store: DeviceStore) -> int:
    """The volunteer hours of the phone's help forms, from what it sent (one volunteer each)."""
    rows = store.db.execute("SELECT body FROM sent WHERE form = 'household_help'")
    return sum(json.loads(body)["data"]["hours"] for (body,) in rows)


def run_wardsync(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [WARDSYNC, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def stored_count(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(Submission))
    finally:
        engine.dispose()


def enrol_phones(session, live_server, tmp_path) -> list[tuple[DeviceStore, str]]:
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
                record(store, ward, rnd, 3, day=0)
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


def progress_total(base: str, metric: str) -> float:
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


def stored_ids(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return set(connection.scalars(select(Submission.id)))
    finally:
        engine.dispose()
