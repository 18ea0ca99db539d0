"""The `wardsync` command as an operator runs it: migrations, users, the demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from sync.models import Campaign, OrgUnit

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


def test_demo_loads_once_and_its_credentials_log_in(db_url, instance_dir, client, session):
    first = _run(db_url, instance_dir, "demo")
    assert first.returncode == 0, first.stderr
    second = _run(db_url, instance_dir, "demo")
    assert second.returncode == 0
    assert "already loaded" in second.stdout
    credentials = {
        line.split()[0]: line.split()[2]
        for line in first.stdout.splitlines()
        if line.startswith("  ")
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
