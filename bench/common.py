"""Shared by the benchmarks: a fresh database, a real gunicorn server, enrolled devices."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from migrations import api as migrations_api
from sync.accounts import devices, users
from sync.admin import campaigns, orgunits
from sync.db import make_engine, make_session_factory, normalize_url

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "WARDSYNC_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
# Dropped and created afresh by every run: two benchmarks running at once on one server (two
# worktrees on a shared machine) must each be given their own name, or one drops the other's.
PG_DATABASE = os.environ.get("WARDSYNC_BENCH_DATABASE", "wardsync_bench")


def fresh_database(backend: str, workdir: Path) -> str:
    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    else:
        admin = make_url(normalize_url(PG_ADMIN_URL))
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
        engine.dispose()
        url = admin.set(database=PG_DATABASE).render_as_string(hide_password=False)
    migrations_api.upgrade(url)
    return url


def seed(url: str, wards: int, devices_count: int) -> list[str]:
    """A city of ``wards`` wards, campaign ``bench``; returns one enrolment code per device."""
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        orgunits.create(session, "BD", "Bình Dương", None)
        orgunits.create(session, "TA", "Thuận An", "BD")
        for w in range(wards):
            orgunits.create(session, f"W{w}", f"Phường {w}", "TA")
        campaigns.create(session, "bench", "Benchmark", date(2023, 7, 29), date(2023, 8, 27))
        admin = users.create(session, "admin", "admin")
        codes = []
        for d in range(devices_count):
            users.create(session, f"vol{d}", "volunteer", [f"W{d % wards}"])
            code, _ = devices.create_code(session, admin, f"vol{d}", [f"W{d % wards}"])
            codes.append(code)
        session.commit()
    engine.dispose()
    return codes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(url: str, workers: int = 2, threads: int = 4):
    port = free_port()
    instance = Path(tempfile.mkdtemp(prefix="wardsync-bench-"))
    env = {
        **os.environ,
        "WARDSYNC_DATABASE_URL": url,
        "WARDSYNC_SECRET_KEY": secrets.token_urlsafe(48),
        "WARDSYNC_INSTANCE_PATH": str(instance),
        "WARDSYNC_THREADS": str(threads),
    }
    log = open(instance / "server.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("wardsync")),
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(base + "/readyz", timeout=10).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError(f"server did not start; see {instance / 'server.log'}")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]
