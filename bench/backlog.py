"""A phone back online with a day's backlog: 5,000 queued forms synced through the client.

Records the forms into a real client store (offline), then times ``sync_device`` — batched
push of the outbox and pull of the ward's changes — against a real gunicorn server, beside the
database's own rate for inserting the same stored rows (``bench.ingest.run_raw_baseline``).

Run: ``.venv/bin/python -m bench.backlog --backend both``.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import datetime
from pathlib import Path

from wardsync_client import DeviceStore, connect, enroll, pull, push

from bench.common import fresh_database, seed, server
from bench.ingest import BATCH, make_batches, run_raw_baseline


def queue_backlog(store: DeviceStore, forms: int) -> int:
    """The bench's usual mix (activations with revisits, help, gifts with doubles, voids)."""
    seen: set[str] = set()
    for batch in make_batches(0, "W0", forms // BATCH + 2, random.Random(1)):
        for item in batch:
            if item["id"] in seen or len(seen) == forms:
                continue  # the mix resends a few items; a phone queues each form once
            seen.add(item["id"])
            store.record(
                item["form"],
                item["campaign"],
                item["org_unit"],
                item["data"],
                recorded_at=datetime.fromisoformat(item["recorded_at"]),
                submission_id=item["id"],
            )
    return len(seen)


def run(backend: str, forms: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="wardsync-backlog-"))
    url = fresh_database(backend, workdir)
    (code,) = seed(url, 10, 1)
    with server(url, workers=2, threads=2) as base:
        store = DeviceStore(workdir / "phone.sqlite3")
        enroll(store, base, code, "backlog-phone")
        started = time.perf_counter()
        queued = queue_backlog(store, forms)
        recording = time.perf_counter() - started
        connection = connect(store)
        started = time.perf_counter()
        report = push(store, connection)
        pushed = time.perf_counter() - started
        pull(store, connection, report=report)
        total = time.perf_counter() - started
    raw = run_raw_baseline(url)
    rate = queued / pushed
    print(f"[{backend}] {queued} forms queued offline in {recording:.2f} s")
    print(
        f"[{backend}]   sync: push {pushed:.2f} s ({rate:,.0f} forms/s, {report.batches} "
        f"batches, {dict(report.sent)}), then pull of {report.pulled} changes: "
        f"{total:.2f} s in all; aim < 3 s: {'met' if total < 3 else 'NOT met'}"
    )
    print(
        f"[{backend}]   raw INSERT ... ON CONFLICT DO NOTHING of the same {raw['rows']} rows: "
        f"{raw['seconds']:.2f} s ({raw['rate']:,.0f} rows/s); push/raw rate = "
        f"{rate / raw['rate']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--forms", type=int, default=5000)
    args = parser.parse_args()
    for backend in ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]:
        run(backend, args.forms)


if __name__ == "__main__":
    main()
