"""A real server process on the test's database (SQLite or PostgreSQL), behind a chaos proxy."""

from __future__ import annotations

import pytest
from live_kit import ChaosProxy, ServerProcess


@pytest.fixture
def server_env(app, db_url, tmp_path) -> dict[str, str]:
    """The environment the server (and the ``wardsync`` command) runs with: the test app's
    database and secret, so tokens minted by the ``world`` fixture are good there too."""
    return {
        "WARDSYNC_DATABASE_URL": db_url,
        "WARDSYNC_SECRET_KEY": app.config["SECRET_KEY"],
        "WARDSYNC_INSTANCE_PATH": str(tmp_path / "server-instance"),
        "WARDSYNC_THREADS": "4",
    }


@pytest.fixture
def live_server(server_env, tmp_path):
    server = ServerProcess(server_env, tmp_path / "server.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def proxy(live_server):
    chaos = ChaosProxy(live_server.port)
    yield chaos
    chaos.close()
