"""Bodies as a bad network or a hostile client sends them, to a real gunicorn: malformed chunks,
chunked bodies over the limit, bodies cut short. Each gets a clear answer, and a connection the
answer came too early for is closed, so a keep-alive client's next request is not lost."""

from __future__ import annotations

import json
import socket

import pytest
import requests
from kit.databases import TEST_SECRET
from kit.live import ServerProcess

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def live_server(database, tmp_path_factory):
    """One server for the module: these tests change nothing a neighbour would see."""
    workdir = tmp_path_factory.mktemp("transport")
    env = {
        "WARDSYNC_DATABASE_URL": database.fresh_url(),
        "WARDSYNC_SECRET_KEY": TEST_SECRET,
        "WARDSYNC_INSTANCE_PATH": str(workdir / "instance"),
    }
    server = ServerProcess(env, workdir / "server.log")
    server.start()
    yield server
    server.stop()


def exchange(server, head: bytes, body: bytes = b"", *, half_close: bool = False) -> bytes:
    """Send raw bytes and read the whole answer until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head + body)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        return data


def parse(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def chunked_head(path: str = "/api/v1/auth/login", extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Transfer-Encoding: chunked\r\n{extra}\r\n"
    ).encode()


def chunks(payload: bytes, size: int = 65536) -> bytes:
    out = b""
    for start in range(0, len(payload), size):
        piece = payload[start : start + size]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n\r\n"


def server_errors(server) -> list[str]:
    log = server.log_path.read_text()
    return [line for line in log.splitlines() if "Traceback" in line or "unhandled error" in line]


@pytest.fixture(autouse=True)
def no_server_errors(live_server):
    yield
    assert server_errors(live_server) == []


def test_a_malformed_chunk_size_is_a_400_and_the_connection_closes(live_server):
    answer = exchange(live_server, chunked_head(), b"zz\r\n{}\r\n0\r\n\r\n")
    status, headers, body = parse(answer)
    assert status == 400
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    assert json.loads(body)["status"] == 400


def test_a_chunked_body_over_the_limit_is_a_413(live_server):
    payload = b'{"username": "' + b"a" * (6 * MIB) + b'", "password": "x"}'
    status, headers, body = parse(exchange(live_server, chunked_head(), chunks(payload)))
    assert status == 413
    assert headers["connection"] == "close"
    assert "5 MiB" in json.loads(body)["detail"]


def test_a_chunked_body_within_the_limit_is_read_whole(live_server):
    payload = json.dumps({"username": "nobody", "password": "x" * 150}).encode()
    head = chunked_head(extra="Connection: close\r\n")
    status, _, body = parse(exchange(live_server, head, chunks(payload, size=7)))
    assert status == 401, body  # the body was understood: an unknown user


def test_a_body_shorter_than_its_content_length_is_a_400(live_server):
    head = (
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n"
    )
    status, headers, _ = parse(exchange(live_server, head, b'{"username": ', half_close=True))
    assert status == 400
    assert headers["connection"] == "close"


@pytest.mark.parametrize("declared", [6 * MIB, 50 * MIB])
def test_a_keep_alive_client_gets_its_413_and_its_next_request_works(live_server, declared):
    """The 413 is answered before the body is read; the client (requests, keeping its
    connection alive) still reads it, and its next request goes out on a fresh connection."""
    with requests.Session() as client:
        too_big = client.post(
            live_server.base + "/api/v1/auth/login",
            data=b"x" * declared,
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        assert too_big.status_code == 413
        assert too_big.headers["Connection"] == "close"
        assert too_big.headers["Content-Type"] == "application/problem+json"
        after = client.get(live_server.base + "/healthz", timeout=30)
        assert after.status_code == 200


def test_keep_alive_survives_answers_given_after_the_body_was_read(live_server):
    with requests.Session() as client:
        for _ in range(3):
            response = client.post(
                live_server.base + "/api/v1/auth/login",
                json={"username": "nobody", "password": "x"},
                timeout=30,
            )
            assert response.status_code == 401
            assert response.headers.get("Connection") != "close"
