"""`wardsync verify`: exit 0 when the counters equal a recount, 1 with a list when not."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import update

from sync.models import Counter, DeviceTally

WARDSYNC = str(Path(sys.executable).with_name("wardsync"))


def _verify(db_url: str, instance: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WARDSYNC_DATABASE_URL": db_url, "WARDSYNC_INSTANCE_PATH": str(instance)}
    return subprocess.run(
        [WARDSYNC, "verify", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_verify_agrees_then_catches_a_tampered_counter(db_url, instance_dir, phone, session):
    household = str(uuid.uuid4())
    answer = phone.push(
        [
            {
                "id": str(uuid.uuid4()),
                "form": "activation",
                "form_version": 1,
                "campaign": "camp",
                "org_unit": "W1",
                "recorded_at": "2023-07-29T09:00:00+07:00",
                "data": {"citizen_id": "079100000001", "status": "activated"},
            },
            {
                "id": str(uuid.uuid4()),
                "form": "gift",
                "form_version": 1,
                "campaign": "camp",
                "org_unit": "W1",
                "recorded_at": "2023-07-29T10:00:00+07:00",
                "data": {
                    "household_id": household,
                    "gift_kind": "pack",
                    "round": "r1",
                    "value_vnd": 300000,
                },
            },
        ]
    )
    assert [r["status"] for r in answer.get_json()["results"]] == ["applied", "applied"]

    clean = _verify(db_url, instance_dir)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "agree" in clean.stdout

    session.execute(
        update(Counter).where(Counter.metric == "gift_value_vnd").values(value=Counter.value + 1)
    )
    session.commit()
    tampered = _verify(db_url, instance_dir, "--campaign", "camp")
    assert tampered.returncode == 1
    assert "gift_value_vnd 2023-07-29: stored 300001, recounted 300000" in tampered.stdout

    session.execute(
        update(Counter).where(Counter.metric == "gift_value_vnd").values(value=Counter.value - 1)
    )
    # The phones' tallies (the volunteer table's) are recounted too.
    session.execute(
        update(DeviceTally)
        .where(DeviceTally.form == "activation")
        .values(stored=DeviceTally.stored + 1)
    )
    session.commit()
    tampered = _verify(db_url, instance_dir, "--campaign", "camp")
    assert tampered.returncode == 1
    assert f"tally:{phone.device_id}:activation:stored : stored 2, recounted 1" in tampered.stdout

    unknown = _verify(db_url, instance_dir, "--campaign", "nope")
    assert unknown.returncode != 0
    assert "No campaign 'nope'" in unknown.stderr
