"""A PostgreSQL server of the test's own, to stop and restart without touching the machine's.

Outage tests restart PostgreSQL in the middle of a sequence of requests; doing that to the
shared server would break every other test running beside them. This starts a throwaway
cluster (``initdb`` into a temporary folder, a free port, ``fsync=off``) with the machine's
PostgreSQL binaries, as the ``postgres`` user when run as root.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from migrations import api as migrations_api

REQUIRE_PG = os.environ.get("WARDSYNC_REQUIRE_POSTGRES") == "1"


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class Cluster:
    def __init__(self, bindir: Path, root: Path, port: int):
        self.bindir = bindir
        self.data = root / "data"
        self.socket_dir = root / "socket"
        self.log = root / "postgres.log"
        self.port = port
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def _run(self, *args: str) -> None:
        self.as_postgres(str(self.bindir / args[0]), *args[1:])

    def as_postgres(self, *argv: str) -> None:
        """Run a command as the server's own user (the data directory's owner)."""
        if os.geteuid() == 0:
            argv = ("runuser", "-u", "postgres", "--", *argv)
        run = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        if run.returncode != 0:
            raise subprocess.CalledProcessError(run.returncode, argv, run.stdout, run.stderr)

    def tool(self, name: str) -> str:
        """The path of one of the server's programs (``pg_basebackup``, …)."""
        return str(self.bindir / name)

    def configure(self, settings: dict[str, str]) -> None:
        """Add settings to ``postgresql.conf`` (they apply from the next start)."""
        lines = "".join(f"{key} = '{value}'\n" for key, value in settings.items())
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(lines)

    def init(self) -> None:
        for path in (self.data.parent, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            postgres = pwd.getpwnam("postgres")
            for path in (self.data.parent, self.socket_dir):
                os.chown(path, postgres.pw_uid, postgres.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                engine = create_engine(self.url.replace("postgresql:", "postgresql+psycopg:"))
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
                engine.dispose()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


@contextlib.contextmanager
def own_cluster(settings: dict[str, str] | None = None):
    """A started PostgreSQL server of the caller's own (``settings`` added to its
    ``postgresql.conf``), with an empty ``postgres`` database; removed afterwards."""
    from kit.live import free_port

    bindir = _binaries()
    if bindir is None or (os.geteuid() == 0 and shutil.which("runuser") is None):
        reason = "no PostgreSQL server binaries (initdb) on this machine"
        if REQUIRE_PG:
            pytest.fail(f"WARDSYNC_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    # Not under pytest's tmp_path: its parents are private to this user, and the server runs
    # as the postgres user.
    root = Path(tempfile.mkdtemp(prefix="wardsync-pg-"))
    cluster = Cluster(bindir, root, free_port())
    cluster.init()
    cluster.configure(settings or {})
    cluster.start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def private_postgres():
    """A migrated, empty wardsync database on a PostgreSQL server of this test's own."""
    with own_cluster() as cluster:
        migrations_api.upgrade(cluster.url)
        yield cluster
