"""A field day, end to end: 30 phones record offline and sync through a network that loses
answers, a server that is killed mid-sync and restarted, and a phone restored from a backup
that sends everything again. Headquarters exports incrementally all the while.

At the end the server's progress equals a count made here from the forms themselves,
``wardsync verify`` finds nothing to fix, and the exports hold every stored form exactly once.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from kit.live import WARDSYNC, wait_for
from model import Model, epoch_ms
from sqlalchemy import func, select
from wardsync_client import (
    Connection,
    DeviceStore,
    IncrementalExport,
    Tokens,
    Unreachable,
    connect,
    enroll,
    sync_device,
)

from sync.accounts import api_keys, devices, users
from sync.models import Submission, User

DEVICES = 30
WARDS = ("W1", "W2", "W3")
LADDER = ("visited", "no_smartphone", "installed", "activated")
GIFT_VALUES = (150_000, 300_000, 450_000, 1_250_000)
PARENTS = {"P": None, "C1": "P", "C2": "P", "W1": "C1", "W2": "C1", "W3": "C2"}
VN = timezone(timedelta(hours=7))
HQ_PASSWORD = "headquarters reads the totals"
RETRYING = {"attempts": 8, "base_delay": 0.05, "max_delay": 0.5, "timeout": 30}


@dataclass
class Ledger:
    """What the volunteers recorded, kept by the test: each valid form's body as the phone
    sent it, to be counted by the independent model of the contract (tests/model.py)."""

    forms: dict[str, tuple[str, dict]] = field(default_factory=dict)  # id -> device, body
    invalid: set[str] = field(default_factory=set)

    def valid_ids(self) -> set[str]:
        return set(self.forms) - self.invalid

    def model(self) -> Model:
        model = Model(PARENTS)
        now = epoch_ms(datetime.now(UTC))  # no clock here runs ahead: nothing is clamped
        for sid in sorted(self.valid_ids()):
            device, body = self.forms[sid]
            model.push(device, [body], now)
        return model


def _body(path: Path, sid: str) -> dict:
    """The form exactly as the phone will send it (its clock stamp included)."""
    with sqlite3.connect(path) as db:
        return json.loads(db.execute("SELECT body FROM outbox WHERE id = ?", (sid,)).fetchone()[0])


class Phone:
    def __init__(self, path: Path, ward: str, index: int):
        self.path, self.ward, self.index = path, ward, index
        self.events: list[str] = []  # help events and gifts a later void may take back

    def record_day(self, ledger: Ledger, rnd: random.Random, count: int, day: int) -> None:
        ward_no = WARDS.index(self.ward) + 1
        store = DeviceStore(self.path)
        start = datetime(2023, 7, 29, 7, 30, tzinfo=VN) + timedelta(days=day)
        for n in range(count):
            at = start + timedelta(minutes=7 * n, seconds=rnd.randrange(60))
            household = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.ward}/{rnd.randrange(12)}"))
            roll = rnd.random()
            if roll < 0.55:
                citizen = f"{ward_no}{rnd.randrange(40):011d}"
                status = rnd.choice(LADDER + LADDER[2:] + ("refused",) * (roll < 0.06))
                form, data = "activation", {"citizen_id": citizen, "status": status}
            elif roll < 0.75 or (roll > 0.9 and not self.events):
                form, data = (
                    "household_help",
                    {
                        "household_id": household,
                        "kind": rnd.choice(("road_repair", "yard_concrete", "sanitation")),
                        "quantity": rnd.randrange(1, 30),
                        "unit": "m2",
                        "volunteers": rnd.randrange(1, 4),
                        "hours": rnd.randrange(1, 5),
                    },
                )
            elif roll < 0.9:
                form, data = (
                    "gift",
                    {
                        "household_id": household,
                        "gift_kind": rnd.choice(("rice", "rice", "blanket")),
                        "round": "2023-tet",
                        "count": rnd.randrange(1, 4),
                        "value_vnd": rnd.choice(GIFT_VALUES),
                    },
                )
            else:
                target = self.events.pop(rnd.randrange(len(self.events)))
                form, data = "void", {"target": target, "reason": "entered twice"}
            sid = store.record(form, "camp", self.ward, data, recorded_at=at)
            if form in ("household_help", "gift"):
                self.events.append(sid)
            ledger.forms[sid] = (store.device_id, _body(self.path, sid))
        if day == 0:  # a mistyped citizen id: the server must reject it, the phone keep it
            bad = store.record(
                "activation", "camp", self.ward, {"citizen_id": "12", "status": "visited"}
            )
            ledger.forms[bad] = (store.device_id, _body(self.path, bad))
            ledger.invalid.add(bad)
        store.close()

    def sync(self, deadline: float) -> None:
        """Sync until done, as a phone does: retrying whenever the network gives up."""
        store = DeviceStore(self.path)
        try:
            while True:
                try:
                    sync_device(store, connect(store, **RETRYING))
                    return
                except Unreachable:  # the connection's own backoff spaced the tries
                    if time.monotonic() > deadline:
                        raise
        finally:
            store.close()


def _sync_all(phones: list[Phone]) -> tuple[list[BaseException], list[threading.Thread]]:
    """Every phone syncs at once, each in its own thread."""
    errors: list[BaseException] = []
    deadline = time.monotonic() + 240

    def work(phone: Phone) -> None:
        try:
            phone.sync(deadline)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p,)) for p in phones]
    for thread in threads:
        thread.start()
    return errors, threads


def _join(threads: list[threading.Thread], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not [t for t in threads if t.is_alive()], "a sync thread hung"


def _stored(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Submission))


def _queued(phones: list[Phone]) -> int:
    total = 0
    for phone in phones:
        with sqlite3.connect(phone.path) as db:
            total += db.execute("SELECT count(*) FROM outbox WHERE state = 'queued'").fetchone()[0]
    return total


@pytest.mark.timeout(1200)
def test_field_day(world, session, engine, live_server, proxy, server_env, tmp_path):
    rnd = random.Random(20230729)
    admin = session.scalar(select(User).where(User.username == "admin"))
    phones, codes = [], []
    for i in range(DEVICES):
        ward = WARDS[i % len(WARDS)]
        users.create(session, f"tnv-{i}", "volunteer", [ward])
        codes.append(devices.create_code(session, admin, f"tnv-{i}", [ward])[0])
        phones.append(Phone(tmp_path / "phones" / f"{i}.sqlite3", ward, i))
    users.create(session, "hq-report", "hq", [], password=HQ_PASSWORD)
    _, export_key = api_keys.create(session, "hq-script", [])
    session.commit()
    session.close()
    for phone, code in zip(phones, codes, strict=True):
        store = DeviceStore(phone.path)
        enroll(store, proxy.base, code, f"phone-{phone.index}")
        store.close()

    # Morning: everyone records offline. Phone 0 is backed up before it ever syncs.
    ledger = Ledger()
    for phone in phones:
        phone.record_day(ledger, rnd, 30, day=0)
    backup = tmp_path / "phone-0-backup.sqlite3"
    with sqlite3.connect(phones[0].path) as src, sqlite3.connect(backup) as dst:
        src.backup(dst)

    # Headquarters exports every few tenths of a second, through the same bad network.
    exports_dir = tmp_path / "exports"
    exporter = IncrementalExport(
        Connection(proxy.base, Tokens(export_key), **RETRYING),
        tmp_path / "export-state.json",
        campaign="camp",
        format="ndjson",
    )
    stop_exports = threading.Event()
    export_errors: list[BaseException] = []

    def export_loop() -> None:
        while not stop_exports.wait(0.3):
            try:
                exporter.run(exports_dir)
            except Unreachable:
                pass  # the server is down: the next run picks up where this one stood
            except BaseException as exc:  # noqa: BLE001
                export_errors.append(exc)
                return

    export_thread = threading.Thread(target=export_loop)
    export_thread.start()

    # Evening: all 30 sync at once; a quarter of the answers are lost after the server
    # committed; once some forms are in, the server is killed and restarted.
    proxy.lose_responses = 0.25
    errors, threads = _sync_all(phones)
    wait_for(lambda: _stored(engine) >= 100, timeout=120, what="100 forms stored")
    live_server.kill()
    queued_at_kill = _queued(phones)
    refused = proxy.refused
    wait_for(lambda: proxy.refused > refused, what="a phone finding the server down")
    live_server.start()
    _join(threads)
    assert not errors, errors
    assert queued_at_kill > 0, "the kill came after the sync had finished"
    assert proxy.lost > 0

    # Next day: phone 0 is restored from its backup (everything queued again) and records
    # more; everyone syncs once more, on a quiet network.
    proxy.lose_responses = 0.0
    phones[0].path.unlink()
    for suffix in ("-wal", "-shm"):
        Path(str(phones[0].path) + suffix).unlink(missing_ok=True)
    backup.rename(phones[0].path)
    for phone in phones:
        phone.record_day(ledger, rnd, 10, day=1)
    errors, threads = _sync_all(phones)
    _join(threads)
    assert not errors, errors
    stop_exports.set()
    _join([export_thread])
    assert not export_errors, export_errors
    exporter.run(exports_dir)

    # Every phone's outbox is empty but for its rejected form, which it kept with the reason.
    kept: dict[str, dict] = {}
    sent: set[str] = set()
    for phone in phones:
        store = DeviceStore(phone.path)
        assert store.queued_count() == 0
        kept.update({item.id: item.errors for item in store.rejected()})
        sent |= store.sent_ids()
        store.close()
    assert set(kept) == ledger.invalid
    assert all("data.citizen_id" in errors for errors in kept.values())
    assert sent == ledger.valid_ids()
    assert _stored(engine) == len(ledger.valid_ids())

    # Progress equals the independent count, for the whole campaign and for each ward.
    login = requests.post(
        f"{live_server.base}/api/v1/auth/login",
        json={"username": "hq-report", "password": HQ_PASSWORD},
        timeout=30,
    )
    hq = {"Authorization": f"Bearer {login.json()['access_token']}"}
    model = ledger.model()
    for unit in PARENTS:
        answer = requests.get(
            f"{live_server.base}/api/v1/progress",
            params={"campaign": "camp", "org_unit": unit, "daily": "1"},
            headers=hq,
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        totals = {name: entry["value"] for name, entry in body["totals"].items()}
        expected = {name: entry["value"] for name, entry in model.totals(unit).items()}
        assert totals == {k: float(v) if k == "volunteer_hours" else v for k, v in expected.items()}
        daily = {
            (row["date"], metric): row[metric]
            for row in body["daily"]
            for metric in row
            if metric not in ("date", "open_conflicts") and row[metric]
        }
        assert daily == {k: float(v) if k[1] == "volunteer_hours" else v
                         for k, v in model.daily(unit).items()}, unit  # fmt: skip
    assert model.suspected() and any(f[1]["form"] == "void" for f in ledger.forms.values())

    # The operator's recount agrees with every counter.
    verify = subprocess.run(
        [WARDSYNC, "verify", "--campaign", "camp"],
        env={**os.environ, **server_env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # The exports, taken piecemeal during all this, hold every stored form exactly once.
    exported = [
        json.loads(line)["id"]
        for path in sorted(exports_dir.glob("*.ndjson"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    # At least two pieces: the loop ran while forms arrived (how many runs fit depends on the
    # machine's load, so no more than two are asked for).
    assert len(list(exports_dir.glob("*.ndjson"))) >= 2
    assert len(exported) == len(set(exported))
    assert set(exported) == ledger.valid_ids()
