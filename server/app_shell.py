"""``/app/``: the volunteer's phone app, served from its files in ``clients/phone``.

The service worker is versioned by a hash of every shell file, computed here when ``sw.js`` is
served, so any deploy that changes a byte of the app makes phones install the new version
(which then waits for the volunteer's tap). The hash is a cache of what is on disk, checked
against the files' sizes and times on every request: every worker on every host with the same
files serves the same version, and nothing depends on one process's memory.

Files are served gzip-compressed when the phone accepts it, with an ETag and ``no-cache`` (a
phone revalidates, and the service worker's own cache is what makes the app work offline).
The Content-Security-Policy allows nothing from anywhere else: no CDN, no external fetch.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, request
from wardsync_phone import FILES, ICONS, ROOT, WORKER, icons

bp = Blueprint("phone_app", __name__, url_prefix="/app")

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".webmanifest": "application/manifest+json",
    ".png": "image/png",
}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; manifest-src 'self'; worker-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str
    mimetype: str


def _asset(name: str, body: bytes) -> Asset:
    digest = hashlib.sha256(body).hexdigest()[:32]
    mimetype = TYPES.get(Path(name).suffix, "application/octet-stream")
    return Asset(body, gzip.compress(body, 9, mtime=0), digest, mimetype)


class Shell:
    """The app's files as served: read from disk again whenever a file's size or time changes."""

    def __init__(self, root: Path):
        self.root = root
        self._stamp: tuple | None = None
        self._assets: dict[str, Asset] = {}

    def _current_stamp(self) -> tuple:
        stamp = []
        for name in (*FILES, WORKER):
            stat = (self.root / name).stat()
            stamp.append((name, stat.st_size, stat.st_mtime_ns))
        return tuple(stamp)

    def assets(self) -> dict[str, Asset]:
        stamp = self._current_stamp()
        if stamp != self._stamp:
            self._assets = self._load()
            self._stamp = stamp
        return self._assets

    def _load(self) -> dict[str, Asset]:
        files = {name: (self.root / name).read_bytes() for name in FILES}
        for name, (size, maskable) in ICONS.items():
            files[name] = icons.png(size, maskable)
        template = (self.root / WORKER).read_bytes()
        version = hashlib.sha256()
        for name in sorted(files):
            version.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
        version.update(hashlib.sha256(template).digest())
        shell = ["./", *sorted(n for n in files if n != "index.html")]
        worker = template.replace(b"__VERSION__", version.hexdigest()[:16].encode()).replace(
            b"__SHELL__", json.dumps(shell).encode()
        )
        assets = {name: _asset(name, body) for name, body in files.items()}
        assets[WORKER] = _asset(WORKER, worker)
        return assets

    def version(self) -> str:
        worker = self.assets()[WORKER].body
        start = worker.index(b'VERSION = "') + len(b'VERSION = "')
        return worker[start : start + 16].decode()


def shell() -> Shell:
    return current_app.extensions["wardsync.phone_shell"]


def _serve(name: str) -> Response:
    asset = shell().assets().get(name)
    if asset is None:
        abort(404)
    compressed = "gzip" in request.headers.get("Accept-Encoding", "")
    response = Response(asset.gzipped if compressed else asset.body, mimetype=asset.mimetype)
    if compressed:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    response.set_etag(asset.etag + ("-gz" if compressed else ""))
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if name == WORKER:
        response.headers["Service-Worker-Allowed"] = "/app/"
    return response.make_conditional(request)


@bp.get("/")
def index():
    """The phone app's page (every screen is drawn by its scripts)."""
    return _serve("index.html")


@bp.get("/<path:name>")
def asset(name: str):
    """One file of the app shell: scripts, styles, manifest, icons, or the service worker."""
    return _serve(name)


def init_app(app) -> None:
    root = Path(app.config.get("PHONE_APP_DIR") or ROOT)
    app.extensions["wardsync.phone_shell"] = Shell(root)
    app.register_blueprint(bp)
