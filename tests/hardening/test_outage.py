"""A database that cannot be reached is a 503 with Retry-After on every endpoint, never a 500;
and a PostgreSQL restart in the middle of a phone's pushes loses nothing it acknowledged."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import uuid
from datetime import date
from pathlib import Path

import pytest
import requests
from kit.databases import TEST_SECRET
from kit.live import ServerProcess, free_port
from sqlalchemy import select

from server.app import create_app
from server.auth.tokens import KeyRing
from sync.accounts import users
from sync.admin import campaigns, orgunits
from sync.db import make_engine, make_session_factory
from sync.models import Submission

WARDSYNC = str(Path(sys.executable).with_name("wardsync"))
AT = "2023-07-29T09:15:00+07:00"
WALL = 1_690_596_900_000

# Routes that answer without the database (no token or page session is looked up).
NO_DATABASE = {"/healthz", "/api/v1/openapi.json", "/static/web/<path:filename>", "/metrics"}
BODIES = {
    "/api/v1/auth/login": {"username": "admin", "password": "x"},
    "/api/v1/auth/refresh": {"refresh_token": "t"},
    "/api/v1/devices/enroll": {"code": "c", "name": "phone"},
}


def unreachable_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'no-such-folder' / 'wardsync.sqlite3'}"
    return f"postgresql://postgres@127.0.0.1:{free_port()}/wardsync"


def concrete(rule) -> str:
    # An OpenRosa key of the right shape, so that it is looked up (one of another shape is
    # refused without the database).
    return re.sub(
        r"<(?:int:)?([^>]+)>",
        lambda m: "1" if "int:" in m[0] else "k" * 43 if m[1] == "key" else "abc",
        rule.rule,
    )


def test_every_route_answers_503_when_the_database_is_unreachable(backend, tmp_path, monkeypatch):
    monkeypatch.setenv("WARDSYNC_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": unreachable_url(backend, tmp_path),
            "SECRET_KEY": TEST_SECRET,
        }
    )
    token = KeyRing.from_config(app.config).issue("1", "family")
    client = app.test_client()
    with client.session_transaction() as page_session:  # a lead's page session
        page_session["uid"], page_session["fam"] = 1, "family"
    checked = 0
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            body = BODIES.get(rule.rule, {}) if method in ("POST", "PUT") else None
            response = client.open(
                concrete(rule),
                method=method,
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            )
            where = f"{method} {rule.rule}"
            assert response.status_code != 500, where
            if rule.rule in NO_DATABASE:
                continue
            assert response.status_code == 503, (where, response.status_code, response.data[:200])
            assert int(response.headers["Retry-After"]) > 0, where
            checked += 1
    assert checked >= 20
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "Retry-After" in ready.headers


# --- a real restart -----------------------------------------------------------------------------


def _world(url: str) -> None:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        orgunits.create(session, "C1", "City", None)
        orgunits.create(session, "W1", "Ward", "C1")
        campaigns.create(session, "camp", "Campaign", date(2023, 7, 29), date(2023, 8, 27))
        users.create(session, "lead", "lead", ["W1"], password="lead password 1")
        users.create(session, "vol", "volunteer", ["W1"])
        session.commit()
    engine.dispose()


def _batch(n: int) -> list[dict]:
    return [
        {
            "id": str(uuid.uuid4()),
            "form": "household_help",
            "form_version": 1,
            "campaign": "camp",
            "org_unit": "W1",
            "recorded_at": AT,
            "hlc": f"{WALL + n}:{i}:p",
            "data": {"household_id": str(uuid.uuid4()), "kind": "cleanup", "hours": 1},
        }
        for i in range(20)
    ]


def test_a_postgresql_restart_mid_sequence_gives_503s_and_loses_nothing(private_postgres, tmp_path):
    url = private_postgres.url
    _world(url)
    env = {
        "WARDSYNC_DATABASE_URL": url,
        "WARDSYNC_SECRET_KEY": TEST_SECRET,
        "WARDSYNC_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    server = ServerProcess(env, tmp_path / "server.log", workers=2)
    server.start()
    try:
        api = server.base + "/api/v1"
        lead = requests.post(
            api + "/auth/login",
            json={"username": "lead", "password": "lead password 1"},
            timeout=30,
        ).json()["access_token"]
        code = requests.post(
            api + "/enrollment-codes",
            json={"volunteer": "vol", "org_units": ["W1"]},
            headers={"Authorization": f"Bearer {lead}"},
            timeout=30,
        ).json()["code"]
        phone = requests.post(
            api + "/devices/enroll", json={"code": code, "name": "p"}, timeout=30
        ).json()["access_token"]

        seen: list[tuple[str, int]] = []
        acknowledged: set[str] = set()
        problems: list[str] = []
        stop = threading.Event()
        restarted = threading.Event()

        def phone_and_lead() -> None:
            n = 0
            batch = _batch(n)
            calls = [
                (
                    "push",
                    lambda: requests.post(
                        api + "/sync/push",
                        json={"submissions": batch},
                        headers={"Authorization": f"Bearer {phone}"},
                        timeout=30,
                    ),
                ),
                (
                    "pull",
                    lambda: requests.get(
                        api + "/sync/pull", headers={"Authorization": f"Bearer {phone}"}, timeout=30
                    ),
                ),
                (
                    "progress",
                    lambda: requests.get(
                        api + "/progress",
                        params={"campaign": "camp", "org_unit": "W1"},
                        headers={"Authorization": f"Bearer {lead}"},
                        timeout=30,
                    ),
                ),
                (
                    "login",
                    lambda: requests.post(
                        api + "/auth/login",
                        json={"username": "nobody", "password": "x"},
                        timeout=30,
                    ),
                ),
                ("ready", lambda: requests.get(server.base + "/readyz", timeout=30)),
            ]
            while not stop.is_set():
                for name, call in calls:
                    try:
                        response = call()
                    except requests.RequestException as exc:
                        problems.append(f"{name}: {type(exc).__name__}")
                        continue
                    seen.append((name, response.status_code))
                    if response.status_code == 503:
                        if not response.headers.get("Retry-After"):
                            problems.append(f"{name}: 503 without Retry-After")
                    elif response.status_code >= 500:
                        problems.append(f"{name}: {response.status_code} {response.text[:200]}")
                    if name == "push" and response.status_code == 200:
                        results = response.json()["results"]
                        assert {r["status"] for r in results} <= {"applied", "duplicate"}
                        acknowledged.update(r["id"] for r in results)
                        n += 1
                        batch = _batch(n)  # a 503 means: send the same batch again
                if restarted.is_set() and sum(1 for k, s in seen[-10:] if s == 200) >= 8:
                    return

        worker = threading.Thread(target=phone_and_lead)
        worker.start()
        _wait(lambda: sum(1 for k, s in seen if k == "push" and s == 200) >= 3)
        private_postgres.stop("fast")
        _wait(lambda: sum(1 for _, s in seen if s == 503) >= 10)
        private_postgres.start()
        restarted.set()
        worker.join(timeout=120)
        stop.set()
        assert not worker.is_alive()
        assert problems == []
        outage = [name for name, status in seen if status == 503]
        assert {"push", "pull", "progress", "login", "ready"} <= set(outage)

        engine = make_engine(url)
        with make_session_factory(engine, write=False)() as session:
            stored = set(session.scalars(select(Submission.id)))
        engine.dispose()
        assert acknowledged and acknowledged <= stored
        verify = subprocess.run(
            [WARDSYNC, "verify"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert verify.returncode == 0, verify.stdout + verify.stderr
    finally:
        server.stop()
    assert "Traceback" not in (tmp_path / "server.log").read_text()


def _wait(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the condition was not met in time")
        time.sleep(0.05)


def test_a_connection_lost_after_the_answer_was_made_keeps_the_answer(app, engine, backend):
    """PostgreSQL going away between a view's last statement and the request's end (the
    session's closing rollback fails) still sends the view's answer, and the next request gets
    a fresh connection."""
    if backend != "postgresql":
        pytest.skip("SQLite has no server connection to lose")
    from sqlalchemy import text

    from server import db

    def answered_then_lost():
        session = db.session()
        pid = session.scalar(text("SELECT pg_backend_pid()"))
        # Autocommit: inside one transaction pg_stat_activity is a snapshot taken at its first
        # read, so a backend still exiting then would seem to live on for ever.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            _wait(
                lambda: (
                    other.scalar(
                        text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
                    )
                    == 0
                )
            )
        return "answered"

    app.add_url_rule("/answered-then-lost", view_func=answered_then_lost)
    client = app.test_client()
    response = client.get("/answered-then-lost")
    assert response.status_code == 200 and response.text == "answered"
    assert client.get("/readyz").status_code == 200
