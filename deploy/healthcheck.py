#!/usr/bin/env python3
"""The image's HEALTHCHECK: ``GET /healthz`` on the address gunicorn listens on.

The address is ``WARDSYNC_BIND`` (``host:port``, ``[v6]:port`` or ``unix:/path``); a wildcard
host is reached on loopback. Exit 0 when the answer is 200, 1 otherwise (the image has no
curl; the standard library is enough). Liveness only: it needs no database, so a database
outage does not get the containers restarted, it gets 503s and a failing ``/readyz``.
"""

from __future__ import annotations

import http.client
import os
import socket
import sys

TIMEOUT_S = 4.0


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str):
        super().__init__("localhost", timeout=TIMEOUT_S)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT_S)
        self.sock.connect(self.unix_path)


def connection(bind: str) -> http.client.HTTPConnection:
    if bind.startswith("unix:"):
        return UnixHTTPConnection(bind[len("unix:") :])
    host, _, port = bind.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0"):  # noqa: S104 - a wildcard bind is reached on loopback
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return http.client.HTTPConnection(host, int(port), timeout=TIMEOUT_S)


def main() -> int:
    bind = os.environ.get("WARDSYNC_BIND") or "127.0.0.1:8000"
    try:
        conn = connection(bind.split(",")[0].strip())
        conn.request("GET", "/healthz", headers={"User-Agent": "wardsync-healthcheck"})
        status = conn.getresponse().status
    except (OSError, ValueError, http.client.HTTPException) as exc:
        print(f"wardsync-healthcheck: {bind}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"wardsync-healthcheck: {bind}: /healthz answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
