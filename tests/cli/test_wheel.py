"""The wheel holds every module of the server: ``deploy/Dockerfile`` builds it and installs it
(not editable), so a package left out of setup.cfg's hand-written list would be missing in
production while every test run from the source tree passed."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_every_module_and_template(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("wardsync-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        str(path.relative_to(ROOT))
        for top in ("server", "sync", "migrations")
        for path in (ROOT / top).rglob("*")
        if path.is_file()
        and path.suffix in (".py", ".html", ".mako")
        and "__pycache__" not in path.parts
    }
    assert expected - shipped == set()
    assert any(name.startswith("wardsync_phone/") for name in shipped)
    assert any(name.startswith("wardsync_client/") for name in shipped)
