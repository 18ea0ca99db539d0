"""The `wardsync` command as an operator runs it: migrations, users, the demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from sync.models import (
    ActivationRecord,
    Campaign,
    Device,
    Household,
    OrgUnit,
    ReviewItem,
    Rollup,
    Submission,
    User,
)
from sync.progress import verify

# A small month (4 volunteers on the first weekend day): the full one is for `make run`.
SMALL_MONTH = ("--wave", "4", "--days", "1")

WARDSYNC = str(Path(sys.executable).with_name("wardsync"))


def _run(db_url, instance, *args, stdin=None):
    env = {**os.environ, "WARDSYNC_DATABASE_URL": db_url, "WARDSYNC_INSTANCE_PATH": str(instance)}
    return subprocess.run(
        [WARDSYNC, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120
    )


def test_db_upgrade_is_idempotent(db_url, instance_dir):
    for _ in range(2):
        result = _run(db_url, instance_dir, "db", "upgrade")
        assert result.returncode == 0, result.stderr
        assert "database at head" in result.stdout


def test_create_user_then_log_in(db_url, instance_dir, world, client):
    created = _run(
        db_url,
        instance_dir,
        "create-user",
        "lead-cli",
        "--role",
        "lead",
        "--org-unit",
        "W1",
        "--password-stdin",
        stdin="a password from stdin\n",
    )
    assert created.returncode == 0, created.stderr
    login = client.post(
        "/api/v1/auth/login", json={"username": "lead-cli", "password": "a password from stdin"}
    )
    assert login.status_code == 200


def test_create_user_with_an_unknown_unit_fails_clearly(db_url, instance_dir, world):
    result = _run(
        db_url,
        instance_dir,
        "create-user",
        "lead-x",
        "--role",
        "lead",
        "--org-unit",
        "NOWHERE",
        "--password-stdin",
        stdin="a password from stdin\n",
    )
    assert result.returncode != 0
    assert "Unknown org unit 'NOWHERE'" in result.stderr


def _snapshot(session) -> dict:
    """What a run of the demo could have added: rows of every kind, and the counters."""
    counts = {
        model.__name__: session.scalar(select(func.count()).select_from(model))
        for model in (Submission, ActivationRecord, Household, ReviewItem, Device, User)
    }
    campaign = session.scalar(select(Campaign))
    counts["rollups"] = dict(verify.stored(session, campaign, Rollup))
    session.close()
    return counts


def _city_totals(client, password) -> dict:
    login = client.post("/api/v1/auth/login", json={"username": "admin", "password": password})
    token = login.get_json()["access_token"]
    answer = client.get(
        "/api/v1/progress",
        query_string={"campaign": "vneid-2023", "org_unit": "BD-TA"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200
    return {metric: total["value"] for metric, total in answer.get_json()["totals"].items()}


def test_demo_loads_once_and_its_credentials_log_in(db_url, instance_dir, client, session):
    first = _run(db_url, instance_dir, "demo", *SMALL_MONTH)
    assert first.returncode == 0, first.stderr
    assert "Loaded in " in first.stdout and " forms (" in first.stdout
    loaded = _snapshot(session)
    assert loaded["Submission"] > 100 and loaded["Device"] == 4
    second = _run(db_url, instance_dir, "demo", *SMALL_MONTH)
    assert second.returncode == 0
    assert "already loaded" in second.stdout
    assert "Loaded in" not in second.stdout
    assert _snapshot(session) == loaded  # a second run adds nothing
    credentials = {
        line.split()[0]: line.split()[2]
        for line in first.stdout.splitlines()
        if line.startswith("  ") and line.split()[1] in ("admin", "hq", "lead", "volunteer")
    }
    assert {"admin", "hq-binhduong", "lead-laithieu", "tnv-an"} <= set(credentials)
    for line in credentials.items():  # the second run prints the same credentials
        assert f"{line[0]}" in second.stdout and line[1] in second.stdout
    login = client.post(
        "/api/v1/auth/login",
        json={"username": "lead-laithieu", "password": credentials["lead-laithieu"]},
    )
    assert login.status_code == 200
    codes = [
        [line.split()[1:] for line in run.stdout.splitlines() if line.startswith("* ")]
        for run in (first, second)
    ]
    assert len(codes[0]) == len(codes[1]) == 6 and codes[0] != codes[1]  # fresh on every run
    volunteer, ward, code = codes[1][0]
    assert (volunteer, ward) == ("tnv-an", "TA-LAITHIEU")
    enrolled = client.post("/api/v1/devices/enroll", json={"code": code, "name": "phone"})
    assert enrolled.status_code == 201
    city = session.scalar(select(OrgUnit).where(OrgUnit.code == "BD-TA"))
    wards = session.scalars(select(OrgUnit.name).where(OrgUnit.parent_id == city.id)).all()
    assert len(wards) == 10 and "Phường Lái Thiêu" in wards and "Xã An Sơn" in wards
    campaign = session.scalar(select(Campaign).where(Campaign.code == "vneid-2023"))
    assert (str(campaign.starts_on), str(campaign.ends_on)) == ("2023-07-29", "2023-08-27")
    session.close()
    totals = _city_totals(client, credentials["admin"])
    assert totals["citizens_reached"] > 0 and totals["gifts_delivered"] > 0
    assert _run(db_url, instance_dir, "verify").returncode == 0


def test_demo_empty_keeps_a_campaign_without_forms(db_url, instance_dir, client, session):
    first = _run(db_url, instance_dir, "demo", "--empty")
    assert first.returncode == 0, first.stderr
    assert "Loaded in" not in first.stdout
    password = next(
        line.split()[2] for line in first.stdout.splitlines() if line.startswith("  admin ")
    )
    empty = _snapshot(session)
    assert empty["Submission"] == empty["Device"] == 0 and empty["rollups"] == {}
    assert set(_city_totals(client, password).values()) == {0}
    # The first run decided: a later one without --empty keeps the campaign as it is.
    again = _run(db_url, instance_dir, "demo")
    assert again.returncode == 0 and "already loaded" in again.stdout
    assert _snapshot(session) == empty
