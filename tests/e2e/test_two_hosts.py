"""Two hosts (two ``wardsync serve`` processes on different ports, one database) with phones
pushing the same citizens and households at once: nothing is lost or counted twice, and
``wardsync verify`` is clean."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import requests
from kit.live import ServerProcess
from sqlalchemy import func, select

from sync.models import ActivationRecord, Submission

WARDSYNC = str(Path(sys.executable).with_name("wardsync"))
AT = "2023-07-29T09:15:00+07:00"
WALL = 1_690_596_900_000
STATUSES = ["visited", "no_smartphone", "installed", "activated"]


def _code(client, world) -> str:
    made = client.post(
        "/api/v1/enrollment-codes",
        json={"volunteer": "vol-w1", "org_units": ["W1"]},
        headers=world.headers("lead-w1"),
    )
    assert made.status_code == 201
    return made.get_json()["code"]


def test_two_hosts_pushing_the_same_citizens(client, world, server_env, tmp_path, engine):
    hosts = [ServerProcess(server_env, tmp_path / f"host-{n}.log", workers=2) for n in range(2)]
    for host in hosts:
        host.start()
    try:
        phones = []
        for n in range(6):
            host = hosts[n % 2]
            enrolled = requests.post(
                host.base + "/api/v1/devices/enroll",
                json={"code": _code(client, world), "name": f"phone {n}"},
                timeout=30,
            )
            assert enrolled.status_code == 201
            phones.append((host, enrolled.json()["access_token"]))
        citizens = [f"0791000001{i:02d}" for i in range(30)]
        households = [str(uuid.uuid4()) for _ in range(5)]
        sent: list[list[dict]] = []
        for n in range(len(phones)):
            batches = []
            for b in range(4):
                batch = []
                for i, citizen in enumerate(citizens):
                    minute = n * 10 + b
                    batch.append(
                        {
                            "id": str(uuid.uuid4()),
                            "form": "activation",
                            "form_version": 1,
                            "campaign": "camp",
                            "org_unit": "W1",
                            "recorded_at": AT,
                            "hlc": f"{WALL + minute * 60_000}:{i}:p",
                            "data": {
                                "citizen_id": citizen,
                                "status": STATUSES[(n + b + i) % 4],
                                "note": f"phone {n} batch {b}",
                            },
                        }
                    )
                batch.append(
                    {
                        "id": str(uuid.uuid4()),
                        "form": "gift",
                        "form_version": 1,
                        "campaign": "camp",
                        "org_unit": "W1",
                        "recorded_at": AT,
                        "hlc": f"{WALL + (n * 10 + b) * 60_000}:99:p",
                        "data": {
                            "household_id": households[(n + b) % 5],
                            "gift_kind": "rice",
                            "round": "2023-tet",
                        },
                    }
                )
                batches.append(batch)
            sent.append(batches)
        errors: list[str] = []
        start = threading.Barrier(len(phones))

        def phone(n: int) -> None:
            host, token = phones[n]
            start.wait(timeout=60)
            for batch in sent[n]:
                for _ in range(10):  # a 503 (busy) means: send the same batch again
                    response = requests.post(
                        host.base + "/api/v1/sync/push",
                        json={"submissions": batch},
                        headers={"Authorization": f"Bearer {token}"},
                        timeout=120,
                    )
                    if response.status_code != 503:
                        break
                if response.status_code != 200:
                    errors.append(f"{response.status_code} {response.text[:200]}")
                    return
                statuses = {r["status"] for r in response.json()["results"]}
                if not statuses <= {"applied", "conflict"}:
                    errors.append(str(statuses))

        threads = [threading.Thread(target=phone, args=(n,)) for n in range(len(phones))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert errors == []
    finally:
        for host in hosts:
            host.stop()
    with engine.connect() as connection:
        stored = connection.scalar(select(func.count()).select_from(Submission))
        versions = connection.execute(select(ActivationRecord.version)).scalars().all()
    assert stored == sum(len(b) for batches in sent for b in batches)
    assert sorted(versions) == [len(phones) * 4] * len(citizens)  # no lost update
    env = {**os.environ, **server_env}
    verify = subprocess.run(
        [WARDSYNC, "verify"], env=env, capture_output=True, text=True, timeout=300
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
