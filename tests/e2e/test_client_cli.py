"""``wardsync-client`` as a volunteer and headquarters run it, against a real server."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

from kit.live import wait_for
from sqlalchemy import func, select
from wardsync_client import DeviceStore

from sync.accounts import api_keys, devices
from sync.models import ApiKey, Submission, User

CLIENT = str(Path(sys.executable).with_name("wardsync-client"))
WARD = ("--campaign", "camp", "--org-unit", "W1")


def _client(state: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [CLIENT, "--state-dir", str(state), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def _code(session, volunteer: str = "vol-w1", unit: str = "W1") -> str:
    admin = session.scalar(select(User).where(User.username == "admin"))
    code, _ = devices.create_code(session, admin, volunteer, [unit])
    session.commit()
    session.close()
    return code


def _stored_count(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Submission))


def _stored_ids(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.scalars(select(Submission.id)))


def test_a_volunteer_records_offline_syncs_and_sees_what_was_rejected(
    world, session, engine, live_server, tmp_path
):
    phone = tmp_path / "phone"
    code = _code(session)
    assert (
        "enrolled as device"
        in _client(phone, "enroll", "--server", live_server.base, "--code", code).stdout
    )
    good = _client(
        phone,
        "record",
        "activation",
        *WARD,
        "citizen_id=001203004005",
        "status=activated",
        "--at",
        "2023-07-29T09:15:00+07:00",
    ).stdout.strip()
    gift = _client(
        phone,
        "record",
        "gift",
        *WARD,
        "household_id=7a4b3c2d-1e0f-4a5b-8c7d-6e5f4a3b2c1d",
        "gift_kind=rice",
        "round=2023-tet",
        "value_vnd=450000",
        "household_address=Tổ 3, khu phố Đông",
    ).stdout.strip()
    bad = _client(phone, "record", "activation", *WARD, "citizen_id=12", "status=visited")
    bad = bad.stdout.strip()
    status = json.loads(_client(phone, "status", "--json").stdout)
    assert status["queued"] == 3 and status["rejected"] == [] and status["last_sync"] is None

    synced = _client(phone, "sync")
    assert "2 applied" in synced.stdout and "1 rejected" in synced.stdout
    assert "1 forms were rejected" in synced.stderr
    assert _stored_ids(engine) == {good, gift}

    status = json.loads(_client(phone, "status", "--json").stdout)
    assert status["queued"] == 0 and status["sent"] == {"applied": 2}
    assert [item["id"] for item in status["rejected"]] == [bad]
    assert "data.citizen_id" in status["rejected"][0]["errors"]
    assert status["pulled"]["activation"] == 1 and status["pulled"]["household"] == 1
    readable = _client(phone, "status").stdout
    assert f"  {bad} activation" in readable and "data.citizen_id: " in readable

    # The phone now knows the record, with the citizen id masked, never in the clear.
    store = DeviceStore(phone / "device.sqlite3")
    ((record_id, record),) = store.pulled("activation").items()
    store.close()
    assert "001203004005" not in json.dumps(record) and "005" in json.dumps(record)
    # A revisit of that record carries the version the phone saw as its base_version.
    revisit = _client(
        phone,
        "record",
        "activation",
        *WARD,
        "citizen_id=001203004005",
        "status=activated",
        "--record",
        record_id,
    ).stdout.strip()
    store = DeviceStore(phone / "device.sqlite3")
    body = json.loads(
        store.db.execute("SELECT body FROM outbox WHERE id = ?", (revisit,)).fetchone()[0]
    )
    store.close()
    assert body["base_version"] == record["version"] >= 1

    # Syncing again sends only the revisit; the rejected form stays until discarded.
    assert "1 applied" in _client(phone, "sync").stdout
    assert _client(phone, "discard", good, check=False).returncode != 0  # not a rejected one
    assert f"discarded {bad}" in _client(phone, "discard", bad).stdout
    assert json.loads(_client(phone, "status", "--json").stdout)["rejected"] == []


def test_a_sync_killed_at_any_moment_loses_and_repeats_nothing(
    world, session, engine, live_server, tmp_path
):
    """The phone dies mid-sync, again and again; each time the next sync carries on."""
    FORMS = 1500  # noqa: N806 - enough that a sync takes several seconds
    phone = tmp_path / "phone"
    _client(phone, "enroll", "--server", live_server.base, "--code", _code(session))
    store = DeviceStore(phone / "device.sqlite3")
    recorded = [
        store.record(
            "household_help",
            "camp",
            "W1",
            {"household_id": f"00000000-0000-4000-8000-{n % 40:012d}", "kind": "cleanup"},
        )
        for n in range(FORMS)
    ]
    store.close()
    rnd = random.Random(5)
    cut_short = 0  # kills that landed mid-push: some batches in, some still queued
    queued = FORMS
    for _ in range(40):
        stored = _stored_count(engine)
        process = subprocess.Popen(
            [CLIENT, "--state-dir", str(phone), "sync", "--batch-size", "5"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Killed once the server has settled a few more batches: after a commit, at any
        # point of the client's handling of the answer or of its next batch.
        more = rnd.randrange(5, 60)

        def settled(process=process, target=min(FORMS, stored + more)) -> bool:
            return _stored_count(engine) >= target or process.poll() is not None

        wait_for(
            settled,
            timeout=120,
            what="the server to store more of the phone's forms",
        )
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        store = DeviceStore(phone / "device.sqlite3")
        left = store.queued_count()
        store.close()
        cut_short += 0 < left < queued
        queued = left
        if cut_short >= 4:
            break
    assert cut_short >= 4
    _client(phone, "sync")

    assert _stored_ids(engine) == set(recorded)
    status = json.loads(_client(phone, "status", "--json").stdout)
    assert status["queued"] == 0 and status["rejected"] == []
    assert sum(status["sent"].values()) == FORMS
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Submission)) == FORMS


def test_headquarters_exports_incrementally_with_the_cli(
    world, session, engine, live_server, tmp_path
):
    phone, out = tmp_path / "phone", tmp_path / "exports"
    _client(phone, "enroll", "--server", live_server.base, "--code", _code(session))
    _, key = api_keys.create(session, "hq-script", ["C1"])
    session.commit()
    session.close()
    export = [
        "export",
        "--server",
        live_server.base,
        "--campaign",
        "camp",
        "--form",
        "household_help",
        "--out-dir",
        str(out),
    ]
    env_key = {"WARDSYNC_API_KEY": key}

    def run_export() -> str:
        result = subprocess.run(
            [CLIENT, *export],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **env_key},
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def record(n: int) -> list[str]:
        ids = [
            _client(
                phone,
                "record",
                "household_help",
                *WARD,
                f"household_id=00000000-0000-4000-8000-{i:012d}",
                "kind=road_repair",
                "quantity=12.5",
                "unit=m",
                f"note=Hẻm {i}\nđổ bê tông",  # a note over two lines, in Vietnamese
            ).stdout.strip()
            for i in range(n)
        ]
        _client(phone, "sync")
        return ids

    first = record(3)
    assert "3 rows written to" in run_export()
    assert "nothing new since the last export" in run_export()
    second = record(2)
    assert "2 rows written to" in run_export()

    files = sorted(out.glob("*.csv"))
    assert len(files) == 2
    rows = [
        row for path in files for row in csv.DictReader(path.open(encoding="utf-8", newline=""))
    ]
    assert [row["id"] for row in rows] == first + second
    assert rows[0]["note"] == "Hẻm 0\nđổ bê tông" and rows[0]["quantity"] in ("12.5", "12.50")

    # A revoked key stops the script with the server's reason, and the cursor stays put.
    state = next(out.glob(".state-*.json")).read_text()
    with engine.begin() as conn:
        conn.execute(ApiKey.__table__.update().values(revoked_at=func.now()))
    refused = subprocess.run(
        [CLIENT, *export],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env_key},
    )
    assert refused.returncode != 0 and "401" in refused.stderr
    assert next(out.glob(".state-*.json")).read_text() == state
