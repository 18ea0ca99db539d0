"""Enketo's form engine, built from the npm registry at test time, for the browser tests that
fill wardsync's XForms the way Enketo does.

Enketo Express is a Node server around two packages: ``enketo-transformer`` turns an XForm into
the HTML form and the XML model, and ``enketo-core`` runs that form in the browser (its XPath,
constraints, relevance, itemsets and ``setvalue`` actions) and writes the instance it submits.
Those two are the part that decides whether a form works in Enketo, so the tests run exactly
them, at pinned versions, in Chromium; the tests' own code plays the server's part (fetching
the form list, the form and its media, and posting the submission as Enketo Express does).

Nothing of Enketo is kept in the repository: the packages are installed into a cache outside
it (``WARDSYNC_ENKETO_CACHE``, by default ``~/.cache/wardsync/enketo``), once per set of pins,
and ``enketo-core`` is bundled there with esbuild. Without npm or its registry the tests skip,
saying so, unless ``WARDSYNC_REQUIRE_ENKETO=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

# enketo-core 9.0.1 asks for openrosa-xpath-evaluator 3.2.0, which the registry does not have;
# 8.1.0 is the newest release that installs from it.
PACKAGES = {"enketo-core": "8.1.0", "enketo-transformer": "4.2.0", "esbuild": "0.24.2"}
# enketo-core names a GitHub commit of Leaflet.draw (its map widgets, which no wardsync form
# uses); the registry's release stands in for it, since the build may reach only the registry.
OVERRIDES = {"leaflet-draw": "npm:leaflet-draw@1.0.4"}
ENTRY = "import { Form } from 'enketo-core';\nwindow.EnketoForm = Form;\n"
TRANSFORMER = "node_modules/enketo-transformer/dist/enketo-transformer/web/transformer.js"
PAGE = Path(__file__).with_name("enketo_page.html")


def _unavailable(reason: str):
    if os.environ.get("WARDSYNC_REQUIRE_ENKETO") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def build() -> Path:
    """The directory holding ``enketo-core.js`` (an IIFE defining ``window.EnketoForm``) and
    ``transformer.js`` (an ES module exporting ``transform``), built once per set of pins;
    concurrent test workers wait for one build."""
    npm = shutil.which("npm")
    if npm is None:
        _unavailable("npm is not installed: Enketo's form engine is built from the npm registry")
    pins = json.dumps([PACKAGES, OVERRIDES, ENTRY], sort_keys=True).encode()
    root = Path(
        os.environ.get("WARDSYNC_ENKETO_CACHE", Path.home() / ".cache" / "wardsync" / "enketo")
    )
    where = root / hashlib.sha256(pins).hexdigest()[:16]
    where.mkdir(parents=True, exist_ok=True)
    done = where / "enketo-core.js"
    with open(where / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            _install(npm, where)
    return where


def _install(npm: str, where: Path) -> None:
    package = {
        "name": "wardsync-enketo-test",
        "private": True,
        "dependencies": PACKAGES,
        "overrides": OVERRIDES,
    }
    (where / "package.json").write_text(json.dumps(package, indent=1))
    (where / "entry.js").write_text(ENTRY)
    install = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if install.returncode != 0:
        _unavailable(f"npm could not install Enketo's packages: {install.stderr[-800:]}")
    bundle = subprocess.run(
        [
            str(where / "node_modules" / ".bin" / "esbuild"),
            "entry.js",
            "--bundle",
            "--format=iife",
            "--platform=browser",
            "--log-level=error",
            "--outfile=enketo-core.tmp.js",
        ],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bundle.returncode == 0, bundle.stderr
    shutil.copyfile(where / TRANSFORMER, where / "transformer.js")
    (where / "enketo-core.tmp.js").rename(where / "enketo-core.js")


ORIGIN = "http://enketo.test"


def open_harness(page, built: Path) -> None:
    """Load the harness page (``tests/kit/enketo_page.html``) and Enketo's two files into
    ``page`` from a made-up origin that only Playwright's router answers: the page never
    reaches a network, as a form opened offline in Enketo would not."""
    files = {
        "/": (PAGE.read_bytes(), "text/html; charset=utf-8"),
        "/enketo-core.js": ((built / "enketo-core.js").read_bytes(), "text/javascript"),
        "/transformer.js": ((built / "transformer.js").read_bytes(), "text/javascript"),
    }

    def answer(route):
        path = route.request.url.removeprefix(ORIGIN).split("?", 1)[0]
        if path in files:
            body, kind = files[path]
            route.fulfill(status=200, body=body, headers={"Content-Type": kind})
        else:
            route.fulfill(status=404, body=b"")

    page.route(f"{ORIGIN}/**", answer)
    page.goto(f"{ORIGIN}/")
    page.wait_for_function("window.harnessReady === true")
