"""A phone network for the chaos suite: a real TCP proxy in front of a real ``wardsync serve``
that loses answers after the server committed, cuts answers in half, resets connections with
half a request sent, delays requests, and holds a request until its client gave up before
sending it on (the server then receives a batch its phone has already resent: an old batch
arriving late).

Like ``kit.live.ChaosProxy`` it imitates neither side: every request the server sees is the
client's own bytes (or the first part of them, for a reset), every answer the client sees is
the server's own. It reads HTTP only to know where a request ends and which answer is which,
and to keep books: every status the server answered, and every push result the server gave,
including the answers it then dropped, so a test can tell whether any submission was ever
received twice as new.

Each request gets a connection of its own upstream (``Connection: close``), so a fault lines
up with one request and one answer.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import random
import select
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

PUSH = "/api/v1/sync/push"
FRESH = {"applied", "conflict"}  # a first receipt: stored and counted by this answer
EVENTS = {"lose": "lost", "truncate": "truncated", "reset": "reset", "delay": "delayed",
          "stall": "stalled"}  # fmt: skip


@dataclass
class Faults:
    """Shares of requests (under ``paths``) that meet each fault; none by default."""

    lose: float = 0.0  # forwarded, answered (committed), the answer dropped
    truncate: float = 0.0  # forwarded, half the answer relayed, then closed
    reset: float = 0.0  # half the request forwarded, then both connections reset
    delay: float = 0.0  # held back up to ``max_delay`` seconds before forwarding
    max_delay: float = 0.3
    stall: float = 0.0  # held until the client gives up waiting, then forwarded anyway
    max_stalls: int = 0
    paths: tuple[str, ...] = ("/api/",)


@dataclass
class Books:
    """What went through, counted under the proxy's lock."""

    events: Counter = field(default_factory=Counter)  # requests, lost, truncated, reset, …
    statuses: Counter = field(default_factory=Counter)  # (path kind, status) the server answered
    fresh: Counter = field(default_factory=Counter)  # submission id -> first receipts answered
    answered: set[str] = field(default_factory=set)  # every id a 200 push answered stored
    acknowledged_lost: int = 0  # 200 push answers the phone never got


def path_kind(path: str) -> str:
    path = path.split("?", 1)[0]
    for prefix, kind in (
        (PUSH, "push"),
        ("/api/v1/sync/pull", "pull"),
        ("/api/v1/devices/me", "receipt"),
        ("/api/v1/auth/refresh", "refresh"),
        ("/api/v1/devices/enroll", "enroll"),
    ):
        if path.startswith(prefix):
            return kind
    return "other"


class ChaosNet:
    def __init__(self, upstream_port: int, seed: int = 15):
        self.upstream_port = upstream_port
        self.faults = Faults()
        self.books = Books()
        self.random = random.Random(seed)
        self.inflight = 0  # requests forwarded whose answer has not come back yet
        self._lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.port = self.listener.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    # -- what a test reads --------------------------------------------------------------

    def count(self, event: str) -> int:
        with self._lock:
            return self.books.events[event]

    def status_count(self, kind: str, status: int) -> int:
        with self._lock:
            return self.books.statuses[(kind, status)]

    def count_status(self, status: int) -> int:
        """Answers with ``status`` to any request."""
        with self._lock:
            return sum(n for (_, s), n in self.books.statuses.items() if s == status)

    def snapshot(self) -> Books:
        with self._lock:
            return Books(
                Counter(self.books.events),
                Counter(self.books.statuses),
                Counter(self.books.fresh),
                set(self.books.answered),
                self.books.acknowledged_lost,
            )

    def close(self) -> None:
        self._closed = True
        self.listener.close()
        self._thread.join(timeout=10)

    # -- relaying -----------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _choose(self, path: str) -> str:
        with self._lock:
            self.books.events["requests"] += 1
            self.books.events[f"requests:{path_kind(path)}"] += 1
            faults = self.faults
            if not path.startswith(faults.paths):
                return "pass"
            roll = self.random.random()
            for name, event in EVENTS.items():
                share = getattr(faults, name)
                if roll < share:
                    if name == "stall" and self.books.events[event] >= faults.max_stalls:
                        return "pass"
                    self.books.events[event] += 1
                    return name
                roll -= share
            return "pass"

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(300)
        try:
            request = _read_request(client)
            if request is None:
                return
            head, body, path = request
            action = self._choose(path)
            if action == "reset":
                self._reset_midway(head, body)
                _reset(client)
                return
            if action == "delay":
                time.sleep(self.random.random() * self.faults.max_delay)  # the network's latency
            if action == "stall":
                _wait_for_hangup(client, limit=120)
            answer = self._forward(head, body)
            if answer is None:
                with self._lock:
                    self.books.events["no_answer"] += 1  # the server died or was down
                return
            delivered = action in ("pass", "delay")
            self._keep_books(path, answer, delivered)
            if action == "truncate":
                split = answer.find(b"\r\n\r\n") + 4
                client.sendall(answer[: split + (len(answer) - split) // 2])
                return
            if delivered:
                client.sendall(answer)
        except OSError:
            return
        finally:
            _shut(client)

    def _forward(self, head: bytes, body: bytes) -> bytes | None:
        lines = [
            line
            for line in head.split(b"\r\n")
            if not line.lower().startswith((b"connection:", b"keep-alive:"))
        ]
        lines.insert(1, b"Connection: close")
        with self._lock:
            self.inflight += 1
        try:
            with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=300) as up:
                up.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
                chunks = []
                while data := up.recv(65536):
                    chunks.append(data)
            answer = b"".join(chunks)
            return answer if answer.startswith(b"HTTP/") else None
        except OSError:
            return None
        finally:
            with self._lock:
                self.inflight -= 1

    def _reset_midway(self, head: bytes, body: bytes) -> None:
        """Half the request reaches the server, then the connection is reset."""
        whole = head + b"\r\n\r\n" + body
        cut = len(head) + 4 + len(body) // 2 if body else len(head) // 2
        try:
            up = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30)
        except OSError:
            return
        with contextlib.suppress(OSError):
            up.sendall(whole[:cut])
        _reset(up)

    def _keep_books(self, path: str, answer: bytes, delivered: bool) -> None:
        head, _, body = answer.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        kind = path_kind(path)
        results = None
        unreadable = False
        if kind == "push" and status == 200:
            try:
                results = _json(head, body).get("results", [])
            except (ValueError, OSError, EOFError):
                # The body stopped short (a worker killed while it was being sent): the phone
                # cannot read it either, so it acknowledges nothing.
                unreadable = True
        with self._lock:
            self.books.statuses[(kind, status)] += 1
            if unreadable:
                self.books.events["unreadable_answers"] += 1
            if results is None:
                return
            if not delivered:
                self.books.acknowledged_lost += 1
            for result in results:
                if result.get("status") in FRESH:
                    self.books.fresh[result["id"]] += 1
                elif result.get("status") == "duplicate":
                    self.books.events["duplicate_results"] += 1
                if result.get("status") in FRESH | {"duplicate"}:
                    self.books.answered.add(result["id"])


def _json(head: bytes, body: bytes) -> dict:
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip().lower()
    if headers.get(b"transfer-encoding") == b"chunked":
        body = _dechunk(body)
    if headers.get(b"content-encoding") == b"gzip":
        body = gzip.decompress(body)
    return json.loads(body)


def _dechunk(body: bytes) -> bytes:
    out, rest = [], body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out.append(rest[:size])
        rest = rest[size + 2 :]
    return b"".join(out)


def _read_request(sock: socket.socket):
    """One request off a client connection: (head, body, path), None at its end."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        data = sock.recv(65536)
        if not data:
            return None
        buffer += data
    head, _, rest = buffer.partition(b"\r\n\r\n")
    path = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)[1]
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        data = sock.recv(min(1 << 20, length - len(rest)))
        if not data:
            return None
        rest += data
    return head, rest[:length], path


def _wait_for_hangup(sock: socket.socket, limit: float) -> None:
    """Until the client closes its end (it gave up waiting for an answer)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], 0.5)
        if readable:
            try:
                if not sock.recv(1, socket.MSG_PEEK):
                    return
            except OSError:
                return


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset rather than a clean end."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
