"""An HTTP proxy in front of a real ``wardsync serve`` that injects the faults a phone meets:
an overloaded gateway (429 or 503 with ``Retry-After``), a broken or slow upstream (502, 504
after the server has answered), a body limit (413, as a reverse proxy's
``client_max_body_size``), and connections cut before the request is forwarded, after the
server has answered, or halfway through an answer.

It imitates neither server nor client: every request it lets through is the client's own,
sent whole to the server, and every answer it relays is the server's own. Each request gets a
connection of its own upstream (``Connection: close``), so faults line up with requests.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field

REASONS = {413: "Payload Too Large", 429: "Too Many Requests", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}  # fmt: skip


@dataclass(frozen=True)
class Fault:
    """What to do with one request. ``kind``:

    - ``answer``: reply ``status`` (with ``retry_after``) without forwarding;
    - ``after``: forward, let the server answer (and commit), reply ``status`` instead;
    - ``cut``: close the connection without forwarding;
    - ``lose``: forward, then close the connection as the server's answer starts;
    - ``truncate``: forward, relay the head and half the body of the answer, then close.
    """

    kind: str
    status: int = 0
    retry_after: str | None = None

    @classmethod
    def answer(cls, status: int, retry_after: str | None = None) -> Fault:
        return cls("answer", status, retry_after)

    @classmethod
    def after(cls, status: int) -> Fault:
        return cls("after", status)


CUT, LOSE, TRUNCATE = Fault("cut"), Fault("lose"), Fault("truncate")


@dataclass
class Seen:
    method: str
    path: str
    length: int
    action: str
    at: float = field(default_factory=time.monotonic)


class FaultProxy:
    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.plans: dict[str, list[Fault]] = {}  # path prefix -> faults for the next requests
        self.max_body: int | None = None  # larger request bodies get 413
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self.listener.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def plan(self, path: str, *faults: Fault) -> None:
        """The next requests whose path starts with ``path`` meet these faults, in order."""
        with self._lock:
            self.plans.setdefault(path, []).extend(faults)

    def requests_to(self, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path.startswith(path)]

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
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _next_fault(self, path: str, length: int) -> Fault | None:
        with self._lock:
            if self.max_body is not None and length > self.max_body:
                return Fault.answer(413)
            for prefix, faults in self.plans.items():
                if path.startswith(prefix) and faults:
                    return faults.pop(0)
        return None

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(120)
        try:
            while True:
                request = _read_request(client)
                if request is None:
                    return
                head, body, method, path = request
                fault = self._next_fault(path, len(body))
                with self._lock:
                    self.seen.append(Seen(method, path, len(body), fault.kind if fault else "pass"))
                if fault and fault.kind == "cut":
                    return
                if fault and fault.kind == "answer":
                    client.sendall(_reply(fault.status, fault.retry_after))
                    continue
                answer = self._forward(head, body)
                if answer is None or (fault and fault.kind == "lose"):
                    return
                if fault and fault.kind == "after":
                    client.sendall(_reply(fault.status, fault.retry_after))
                    continue
                if fault and fault.kind == "truncate":
                    split = answer.index(b"\r\n\r\n") + 4
                    client.sendall(answer[: split + (len(answer) - split) // 2])
                    return
                client.sendall(answer)
                return  # the server said Connection: close; so do we
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
        try:
            with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=120) as up:
                up.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
                chunks = []
                while data := up.recv(65536):
                    chunks.append(data)
                return b"".join(chunks)
        except OSError:
            return None  # the server is down: the client sees its connection drop


def _read_request(sock: socket.socket):
    """One request off a client connection: (head, body, method, path), None at its end."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        data = sock.recv(65536)
        if not data:
            return None
        buffer += data
    head, _, rest = buffer.partition(b"\r\n\r\n")
    method, path, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
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
    return head, rest[:length], method, path


def _reply(status: int, retry_after: str | None) -> bytes:
    body = f'{{"title": "{REASONS[status]}", "status": {status}}}'.encode()
    head = [
        f"HTTP/1.1 {status} {REASONS[status]}",
        "Content-Type: application/problem+json",
        f"Content-Length: {len(body)}",
    ]
    if retry_after is not None:
        head.append(f"Retry-After: {retry_after}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
