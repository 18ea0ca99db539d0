"""The phone app in headless Chromium: 1,000 forms queued offline, then synced; the time to
save one form; the app's transfer size on first load; beside the Python client syncing the
same forms and the database's own insert rate for the stored rows, in the same run.

- First load: every byte the server sent (headers included, gzip as served) from opening
  /app/ until the service worker controls the page and has precached the shell, counted by a
  relay in front of the server.
- Save: tapping "save" on a filled-in form until it is stored in IndexedDB (measured by the
  app around its own save handler), then the rest of the 1,000 through the same save function
  without the screen.
- Sync: from the network coming back (``context.set_offline(False)``, which fires the app's
  "online" send) until the app shows nothing unsent; its push and pull parts as the app timed
  them.

Run: ``.venv/bin/python -m bench.phone --backend both``. Needs /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

from playwright.sync_api import sync_playwright
from wardsync_client import DeviceStore, connect, enroll, pull, push

from bench.common import fresh_database, percentile, seed, server
from bench.ingest import run_raw_baseline

CHROMIUM = "/usr/bin/chromium"
UI_SAVES = 20


class CountingRelay:
    """Relays TCP to the server and counts the bytes sent down to the browser."""

    def __init__(self, upstream: str):
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.down = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client):
        upstream = socket.create_connection(self.upstream)

        def up():
            try:
                while data := client.recv(65536):
                    upstream.sendall(data)
            except OSError:
                pass

        threading.Thread(target=up, daemon=True).start()
        try:
            while data := upstream.recv(65536):
                client.sendall(data)
                with self.lock:
                    self.down += len(data)
        except OSError:
            pass
        finally:
            client.close()
            upstream.close()


def forms_for(ward: str, count: int, rnd: random.Random) -> list[dict]:
    """A day's mix: activations (some revisits), help for households, gifts."""
    households = [str(uuid.UUID(int=rnd.getrandbits(128))) for _ in range(count // 4 + 1)]
    out = []
    for i in range(count):
        house = rnd.choice(households)
        kind = rnd.random()
        if kind < 0.6:
            data = {
                "citizen_id": f"0791{rnd.randrange(10**8):08d}",
                "status": rnd.choice(["visited", "installed", "activated", "no_smartphone"]),
                "household_id": house,
                "household_address": f"{rnd.randrange(1, 300)} hẻm {rnd.randrange(1, 40)}",
            }
            form = "activation"
        elif kind < 0.85:
            data = {"household_id": house, "kind": "cleanup", "volunteers": 3, "hours": 1.5}
            form = "household_help"
        else:
            data = {
                "household_id": house,
                "gift_kind": "rice",
                "round": f"r{i % 7}",
                "value_vnd": 300_000,
            }
            form = "gift"
        out.append(
            {"form": form, "form_version": 1, "campaign": "bench", "org_unit": ward, "data": data}
        )
    return out


SAVE_ALL = """async (forms) => {
  const times = [];
  for (const form of forms) {
    const t0 = performance.now();
    await globalThis.wardsync.saveForm(form);
    times.push(performance.now() - t0);
  }
  return times;
}"""


def run_app(base: str, code: str, forms: list[dict]) -> dict:
    relay = CountingRelay(base)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        # bypass_csp: for the measuring scripts only (the app itself needs no eval)
        context = browser.new_context(viewport={"width": 360, "height": 780}, bypass_csp=True)
        context.set_default_timeout(120_000)
        page = context.new_page()
        page.goto(f"{relay.base}/app/#enroll={code}")
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_function(
            "async () => { const r = await navigator.serviceWorker.ready;"
            " return !!r.active && (await caches.keys()).length === 1; }"
        )
        first_load = relay.down

        page.click("#enrol")
        page.wait_for_selector("button.form-button")
        page.wait_for_selector("#send-now:not([disabled])")
        context.set_offline(True)
        ui = []
        for i in range(UI_SAVES):
            page.click("button.form-button[data-form=activation]")
            page.fill("[name=citizen_id]", f"0792{i:08d}")
            page.click("label[for=status-visited]")
            page.click("#save")
            page.wait_for_selector("section.outbox")
            ui.append(page.evaluate("globalThis.__wardsyncLastSaveMs"))
        rest = page.evaluate(SAVE_ALL, forms[UI_SAVES:])
        queued = page.evaluate("async () => (await globalThis.wardsync.getAll('outbox')).length")

        started = time.perf_counter()
        context.set_offline(False)
        page.wait_for_function("document.querySelector('#unsent').dataset.n === '0'")
        synced = time.perf_counter() - started
        timings = page.evaluate("globalThis.__wardsyncLastSync")
        browser.close()
    return {
        "first_load_bytes": first_load,
        "ui_save_ms": ui,
        "save_ms": rest,
        "queued": queued,
        "sync_s": synced,
        "push_s": timings["push_ms"] / 1000,
        "pull_s": timings["pull_ms"] / 1000,
    }


def run_client(base: str, code: str, forms: list[dict], workdir: Path) -> dict:
    store = DeviceStore(workdir / "client.sqlite3")
    enroll(store, base, code, "python-phone")
    for form in forms:
        store.record(
            form["form"],
            form["campaign"],
            form["org_unit"],
            form["data"],
            recorded_at=datetime.now().astimezone(),
        )
    connection = connect(store)
    started = time.perf_counter()
    report = push(store, connection)
    pushed = time.perf_counter() - started
    pull(store, connection, report=report)
    return {"push_s": pushed, "sync_s": time.perf_counter() - started}


def run(backend: str, count: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="wardsync-phone-bench-"))
    url = fresh_database(backend, workdir)
    app_code, client_code = seed(url, 2, 2)  # W0 for the app, W1 for the Python client
    rnd = random.Random(10)
    app_forms = forms_for("W0", count, rnd)
    # The app's first forms are typed on the screen (visits); the client records the same.
    typed = [
        {
            "form": "activation",
            "form_version": 1,
            "campaign": "bench",
            "org_unit": "W1",
            "data": {"citizen_id": f"0793{i:08d}", "status": "visited"},
        }
        for i in range(UI_SAVES)
    ]
    client_forms = typed + [{**f, "org_unit": "W1"} for f in app_forms[UI_SAVES:]]
    with server(url, workers=2, threads=4) as base:
        app = run_app(base, app_code, app_forms)
        client = run_client(base, client_code, client_forms, workdir)
    raw = run_raw_baseline(url)
    saves = app["save_ms"]
    ui = app["ui_save_ms"]
    print(
        f"[{backend}] first load: {app['first_load_bytes'] / 1024:.1f} KiB on the wire "
        f"(gzip, headers included); aim < 150 KB: "
        f"{'met' if app['first_load_bytes'] < 150_000 else 'NOT met'}"
    )
    print(
        f"[{backend}] save one form, tapped: median {statistics.median(ui):.1f} ms, "
        f"p95 {percentile(ui, 0.95):.1f} ms, max {max(ui):.1f} ms; aim < 50 ms: "
        f"{'met' if max(ui) < 50 else 'NOT met'}"
    )
    print(
        f"[{backend}] save one form, no screen ({len(saves)} forms): median "
        f"{statistics.median(saves):.1f} ms, p95 {percentile(saves, 0.95):.1f} ms"
    )
    print(
        f"[{backend}] {app['queued']} forms synced by the app in {app['sync_s']:.2f} s "
        f"(push {app['push_s']:.2f} s, pull {app['pull_s']:.2f} s); aim < 3 s: "
        f"{'met' if app['sync_s'] < 3 else 'NOT met'}"
    )
    print(
        f"[{backend}] the same {count} forms through the Python client: push "
        f"{client['push_s']:.2f} s, sync with pull {client['sync_s']:.2f} s"
    )
    print(
        f"[{backend}] raw INSERT ... ON CONFLICT DO NOTHING of the {raw['rows']} stored rows: "
        f"{raw['seconds']:.2f} s ({raw['rate']:,.0f} rows/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--forms", type=int, default=1000)
    args = parser.parse_args()
    for backend in ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]:
        run(backend, args.forms)


if __name__ == "__main__":
    main()
