"""/app/: the phone app's files as the server serves them. The service worker's version is a
hash of the shell, so any change to a file is an update; nothing is fetched from elsewhere."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import struct
from pathlib import Path

import pytest
from wardsync_phone import FILES, ICONS, ROOT

from server.app import create_app

SHELL_NAMES = ("./", *sorted(n for n in (*FILES, *ICONS) if n != "index.html"))


@pytest.fixture
def app_dir(tmp_path) -> Path:
    target = tmp_path / "app"
    shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return target


@pytest.fixture
def shell_client(app_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("WARDSYNC_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
            "SECRET_KEY": "shell-test-secret-0123456789-0123456789-0123456789",
            "PHONE_APP_DIR": str(app_dir),
        }
    )
    return app.test_client()


def worker(client) -> tuple[str, list[str]]:
    text = client.get("/app/sw.js").get_data(as_text=True)
    version = re.search(r'const VERSION = "([0-9a-f]{16})";', text)[1]
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", text)[1])
    return version, shell


def test_the_page_and_its_files_are_served_with_a_strict_policy(shell_client):
    page = shell_client.get("/app/")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    assert page.headers["Cache-Control"] == "no-cache"
    assert shell_client.get("/app").status_code in (301, 308)  # to /app/
    for name in FILES:
        answer = shell_client.get(f"/app/{name}")
        assert answer.status_code == 200, name
        assert "://" not in answer.get_data(as_text=True), f"{name} refers to another site"
    assert shell_client.get("/app/core.js").mimetype == "text/javascript"
    assert shell_client.get("/app/manifest.webmanifest").mimetype == "application/manifest+json"


def test_files_are_gzipped_when_asked_and_revalidate_by_etag(shell_client):
    plain = shell_client.get("/app/sync.js")
    zipped = shell_client.get("/app/sync.js", headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data
    assert len(zipped.data) < len(plain.data) / 2
    again = shell_client.get("/app/sync.js", headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize(
    "name", ["nope.js", "../setup.cfg", "..%2Fsetup.cfg", "icons/x.png", "__init__.py", "icons.py"]
)
def test_nothing_but_the_shell_is_served(shell_client, name):
    answer = shell_client.get(f"/app/{name}")
    assert answer.status_code == 404
    assert answer.mimetype == "application/problem+json"


def test_the_worker_precaches_the_whole_shell(shell_client):
    _, shell = worker(shell_client)
    assert shell == list(SHELL_NAMES)
    for name in shell:  # relative to /app/sw.js, as the browser resolves them
        path = "/app/" if name == "./" else f"/app/{name}"
        assert shell_client.get(path).status_code == 200, name


def test_any_change_to_a_shell_file_is_a_new_version(shell_client, app_dir):
    first, _ = worker(shell_client)
    assert worker(shell_client)[0] == first  # stable while nothing changes
    with (app_dir / "views.js").open("a") as f:
        f.write("\n// a deploy\n")
    second, _ = worker(shell_client)
    assert second != first
    (app_dir / "sw.js").write_text((app_dir / "sw.js").read_text() + "\n// and another\n")
    assert worker(shell_client)[0] not in (first, second)


def test_the_app_installs_with_its_icons(shell_client):
    manifest = shell_client.get("/app/manifest.webmanifest").get_json()
    assert manifest["display"] == "standalone" and manifest["lang"] == "vi"
    sizes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert sizes == {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")}
    page = shell_client.get("/app/").get_data(as_text=True)
    assert 'rel="apple-touch-icon" href="icons/apple-touch-icon.png"' in page
    for name, (size, _) in ICONS.items():
        png = shell_client.get(f"/app/{name}").data
        assert png[:8] == b"\x89PNG\r\n\x1a\n", name
        width, height = struct.unpack(">II", png[16:24])
        assert width == height == size, name
