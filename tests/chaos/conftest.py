"""The chaos suite's fixtures: a small tmpfs of its own, for a disk that fills up."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def tmpfs():
    """``tmpfs(mb)`` mounts a tmpfs of that size (root only) and returns its folder; each is
    unmounted afterwards. Without root (or CAP_SYS_ADMIN) the test is skipped, saying so."""
    mounted: list[Path] = []

    def mount(mb: int) -> Path:
        folder = Path(tempfile.mkdtemp(prefix="wardsync-disk-"))
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={mb}m", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            shutil.rmtree(folder, ignore_errors=True)
            pytest.skip(
                "a full disk needs a tmpfs of its own, mounted as root (CAP_SYS_ADMIN): "
                f"mount said {done.stderr.strip() or done.returncode}"
            )
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=False)
        shutil.rmtree(folder, ignore_errors=True)
