"""A TCP relay in front of a real server that loses or holds chosen answers, as a phone's
network does, and counts what it sends down. It only moves bytes (or stops moving them)."""

from __future__ import annotations

import contextlib
import socket
import threading


class Relay:
    """TCP relay to the server that can lose the answer to a chosen request (the connection is
    closed as the answer starts: the server has done the work, the phone never hears of it) or
    hold it until released. It also counts the bytes it sends down and notes every request."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self.listener.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.requests: list[str] = []
        self.lost: list[str] = []
        self.bytes_down = 0
        self._lose: list[str] = []
        self._hold: str | None = None
        self.held = threading.Event()  # set when a held answer has arrived from the server
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def lose_next(self, request_line_start: str) -> None:
        with self._lock:
            self._lose.append(request_line_start)

    def hold_next(self, request_line_start: str) -> None:
        with self._lock:
            self._hold = request_line_start
            self.held.clear()
            self._release.clear()

    def release(self) -> None:
        self._release.set()

    def seen(self, request_line_start: str) -> int:
        with self._lock:
            return sum(1 for line in self.requests if line.startswith(request_line_start))

    def close(self) -> None:
        self._closed = True
        self._release.set()
        self.listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=60)
        except OSError:
            client.close()
            return
        lines: list[str] = []  # request lines sent up and not answered yet
        fresh = threading.Event()
        fresh.set()  # the next bytes from the phone start a request

        def up() -> None:
            try:
                while data := client.recv(65536):
                    if fresh.is_set():
                        fresh.clear()
                        line = data.split(b"\r\n", 1)[0].decode("latin-1")
                        with self._lock:
                            self.requests.append(line)
                        lines.append(line)
                    upstream.sendall(data)
            except OSError:
                pass
            finally:
                _shut(upstream)

        threading.Thread(target=up, daemon=True).start()
        try:
            while data := upstream.recv(65536):
                # No pipelining: an answer starts only once its request is all sent, and the
                # next request only once the answer is all here, so the first chunk after a
                # request line is the start of its answer.
                if lines:
                    line = lines.pop(0)
                    if self._take_loss(line):
                        return
                    if self._take_hold(line):
                        self.held.set()
                        self._release.wait(120)
                fresh.set()
                client.sendall(data)
                with self._lock:
                    self.bytes_down += len(data)
        except OSError:
            pass
        finally:
            _shut(client)
            _shut(upstream)

    def _take_loss(self, line: str) -> bool:
        with self._lock:
            for start in self._lose:
                if line.startswith(start):
                    self._lose.remove(start)
                    self.lost.append(line)
                    return True
        return False

    def _take_hold(self, line: str) -> bool:
        with self._lock:
            if self._hold and line.startswith(self._hold):
                self._hold = None
                return True
        return False


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
