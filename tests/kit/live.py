"""A real server process that can be killed and restarted, and a TCP proxy in front of it that
loses responses the way a phone's network does: after the server has committed and answered.

Nothing here imitates the server or the client: the proxy only relays (or drops) bytes.
Loaded as a pytest plugin by the root conftest, so its fixtures serve every test folder.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

WARDSYNC = str(Path(sys.executable).with_name("wardsync"))


def wait_for(condition, *, timeout: float = 60.0, what: str = "the condition"):
    """Poll ``condition`` until it holds (returning its value) or ``timeout`` passes (fail).

    Tests wait for what they can observe (rows in the database, an outbox shrinking, a
    connection refused), never for a length of time that happened to be enough.
    """
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)
    return value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``wardsync serve`` (gunicorn) in its own process group, so a kill takes every worker
    down at once, like a machine losing power mid-request."""

    def __init__(self, env: dict[str, str], log_path: Path, workers: int = 2):
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.workers = workers
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [WARDSYNC, "serve", "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.starts += 1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.base + "/readyz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("the server did not start:\n" + self.log_path.read_text()[-3000:])

    def _signal(self, sig: int) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        self._signal(signal.SIGTERM)


class ChaosProxy:
    """Relays TCP to the server. With ``lose_responses`` set, that share of responses is
    dropped — the connection closed as the server's answer starts to arrive, so the request
    was fully handled and committed but the client never hears of it. With ``cut_after`` set,
    a response is cut off after that many bytes (a stream broken mid-download)."""

    def __init__(self, upstream_port: int, seed: int = 7):
        self.upstream_port = upstream_port
        self.random = random.Random(seed)
        self.lose_responses = 0.0
        self.cut_after: int | None = None
        self.lost = 0
        self.cut = 0
        self.refused = 0  # connections that found the server down
        self._lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.port = self.listener.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closed = True
        self.listener.close()
        self._thread.join(timeout=10)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=120)
        except OSError:
            with self._lock:
                self.refused += 1
            client.close()  # the server is down: the client sees its connection drop
            return
        asked = threading.Event()  # set when a request goes up; the next answer is a new one

        def up() -> None:
            try:
                while data := client.recv(65536):
                    asked.set()
                    upstream.sendall(data)
            except OSError:
                pass
            finally:
                _shut(upstream)

        threading.Thread(target=up, daemon=True).start()
        sent = 0
        try:
            while data := upstream.recv(65536):
                if asked.is_set():
                    asked.clear()
                    sent = 0
                    with self._lock:
                        lose = self.random.random() < self.lose_responses
                        if lose:
                            self.lost += 1
                    if lose:
                        return
                if self.cut_after is not None and sent + len(data) > self.cut_after:
                    client.sendall(data[: max(0, self.cut_after - sent)])
                    with self._lock:
                        self.cut += 1
                    return
                client.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            _shut(client)
            _shut(upstream)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@pytest.fixture
def server_env(app, db_url, tmp_path) -> dict[str, str]:
    """The environment the server (and the ``wardsync`` command) runs with: the test's
    database and the test app's secret."""
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
