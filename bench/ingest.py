"""Push throughput: 16 devices push realistic 500-item batches to a real gunicorn server.

Prints first receipts/s (each form once: the resent 5 % answer "duplicate" and are left out of
the rate) and p50/p99 batch latency, then, in the same run, the raw database's own rate for
the same rows (executemany INSERT ... ON CONFLICT DO NOTHING into a scratch table with the
submissions table's columns, whose keys and indexes it prints as the database reports them)
and the ratio. Run: ``.venv/bin/python -m bench.ingest [--backend both]``.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import MetaData, Table, inspect, select
from wardsync_client import Connection

from bench.common import fresh_database, percentile, seed, server
from sync.db import make_engine
from sync.models import Submission
from sync.store.upsert import insert_for

DEVICES = 16
BATCH = 500
WARDS = 10
WORKERS = 4  # processes: the GIL makes threads a poor fit for CPU-bound pushes
THREADS = 2


def _time(minute: int) -> str:
    day, hour = 1 + minute // 1440 % 27, minute // 60 % 24
    return f"2023-08-{day:02d}T{hour:02d}:{minute % 60:02d}:00+07:00"


def make_batches(device: int, ward: str, count: int, rnd: random.Random) -> list[list[dict]]:
    """All forms; edits of earlier citizens, same-key gifts (doubles), voids, 5% resends."""
    batches: list[list[dict]] = []
    citizens: list[str] = []
    events: list[str] = []
    households = [str(uuid.UUID(int=device * 1_000_000 + h)) for h in range(200)]
    minute = 0
    for _ in range(count):
        batch: list[dict] = []
        if batches:  # a resend of part of the previous batch, as after a lost response
            batch += rnd.sample(batches[-1], k=BATCH // 20)
        while len(batch) < BATCH:
            minute += 1
            sid = str(uuid.uuid4())
            base = {
                "id": sid,
                "form_version": 1,
                "campaign": "bench",
                "org_unit": ward,
                "recorded_at": _time(minute),
            }
            roll = rnd.random()
            household = rnd.choice(households)
            if roll < 0.6:
                if citizens and rnd.random() < 0.3:
                    citizen = rnd.choice(citizens)  # an edit: a later visit to the same citizen
                else:
                    citizen = f"{device:04d}{len(citizens):08d}"
                    citizens.append(citizen)
                batch.append(
                    {
                        **base,
                        "form": "activation",
                        "base_version": rnd.randint(0, 2),
                        "data": {
                            "citizen_id": citizen,
                            "status": rnd.choice(
                                ["visited", "no_smartphone", "installed", "activated", "refused"]
                            ),
                            "household_id": household,
                            "household_address": f"{rnd.randint(1, 300)} Lê Lợi",
                            "phone_owner": rnd.choice(["self", "family"]),
                            "note": rnd.choice(["", "gọi lại"]),
                        },
                    }
                )
            elif roll < 0.8:
                batch.append(
                    {
                        **base,
                        "form": "household_help",
                        "data": {
                            "household_id": household,
                            "kind": rnd.choice(["road_repair", "yard_concrete", "sanitation"]),
                            "quantity": rnd.randint(1, 50),
                            "unit": "m2",
                            "volunteers": rnd.randint(1, 6),
                            "hours": 2.5,
                        },
                    }
                )
                events.append(sid)
            elif roll < 0.95:
                batch.append(
                    {
                        **base,
                        "form": "gift",
                        "data": {
                            "household_id": household,
                            "gift_kind": "qua-tet",
                            "round": rnd.choice(["2023-tet", "2023-t8"]),
                            "count": 1,
                            "value_vnd": 500_000,
                        },
                    }
                )
                events.append(sid)
            elif events:
                batch.append(
                    {
                        **base,
                        "form": "void",
                        "data": {"target": rnd.choice(events), "reason": "nhập trùng"},
                    }
                )
        batches.append(batch)
    return batches


def run_server_bench(url: str, codes: list[str], batches_per_device: int) -> dict:
    plans = [
        make_batches(d, f"W{d % WARDS}", batches_per_device, random.Random(d))
        for d in range(DEVICES)
    ]
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    with server(url, workers=WORKERS, threads=THREADS) as base:
        connections = []
        for d, code in enumerate(codes):
            connection = Connection(base)
            connection.enroll(code, f"bench-{d}")
            connections.append(connection)
        barrier = threading.Barrier(DEVICES)

        def device(d: int) -> None:
            barrier.wait()
            for batch in plans[d]:
                started = time.perf_counter()
                answer = connections[d].push(batch)
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    for r in answer["results"]:
                        statuses[r["status"]] = statuses.get(r["status"], 0) + 1

        threads = [threading.Thread(target=device, args=(d,)) for d in range(DEVICES)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
    total = sum(len(b) for plan in plans for b in plan)
    # The resent 5 % are answered "duplicate" and store nothing: the rate counts each form
    # once, at its first receipt.
    first = len({item["id"] for plan in plans for b in plan for item in b})
    return {
        "submissions": total,
        "first_receipts": first,
        "seconds": wall,
        "rate": first / wall,
        "rate_with_resends": total / wall,
        "latencies": latencies,
        "statuses": statuses,
    }


def run_raw_baseline(url: str) -> dict:
    """The database alone: the same stored rows, executemany INSERT ... ON CONFLICT DO NOTHING."""
    engine = make_engine(url)
    with engine.begin() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(Submission.__table__))]
    metadata = MetaData()
    raw = Table(
        "bench_raw_submissions", metadata, *(c._copy() for c in Submission.__table__.columns)
    )
    metadata.drop_all(engine)
    metadata.create_all(engine)  # a scratch table for the baseline only, dropped below
    for r in rows:
        r["id"] = str(uuid.uuid4())
    started = time.perf_counter()
    with engine.begin() as conn:

        class _S:  # insert_for wants something with get_bind()
            def get_bind(self):
                return engine

        stmt = insert_for(_S(), raw).on_conflict_do_nothing(index_elements=["id"])
        for i in range(0, len(rows), BATCH):
            conn.execute(stmt, rows[i : i + BATCH])
    seconds = time.perf_counter() - started
    shape = _shape(engine, raw.name)
    metadata.drop_all(engine)
    engine.dispose()
    return {"rows": len(rows), "seconds": seconds, "rate": len(rows) / seconds, "shape": shape}


def _shape(engine, table: str) -> str:
    """The table's keys and indexes as the database reports them, so the baseline is
    described by what it is, not by what it was meant to be."""
    found = inspect(engine)
    indexes = sorted(
        "(" + ", ".join(i["column_names"]) + ")" + (" unique" if i.get("unique") else "")
        for i in found.get_indexes(table)
    )
    foreign = len(found.get_foreign_keys(table))
    return f"primary key (id), {len(indexes)} secondary indexes {indexes}, {foreign} foreign keys"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--batches", type=int, default=8, help="batches per device")
    args = parser.parse_args()
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    for backend in backends:
        workdir = Path(tempfile.mkdtemp(prefix="wardsync-bench-"))
        url = fresh_database(backend, workdir)
        codes = seed(url, WARDS, DEVICES)
        result = run_server_bench(url, codes, args.batches)
        raw = run_raw_baseline(url)
        lat = result["latencies"]
        print(
            f"[{backend}] {DEVICES} devices x {args.batches} batches x {BATCH} submissions "
            f"= {result['submissions']} sent ({result['first_receipts']} distinct, the rest "
            f"resends) in {result['seconds']:.2f} s"
        )
        print(
            f"[{backend}]   wardsync push: {result['rate']:,.0f} first receipts/s "
            f"({result['rate_with_resends']:,.0f}/s counting resends); batch latency "
            f"p50 {percentile(lat, 0.5) * 1000:.0f} ms, p99 {percentile(lat, 0.99) * 1000:.0f} ms; "
            f"outcomes {result['statuses']}"
        )
        print(f"[{backend}]   baseline table: {raw['shape']}")
        print(
            f"[{backend}]   raw INSERT ... ON CONFLICT DO NOTHING of the same {raw['rows']} rows: "
            f"{raw['rate']:,.0f} rows/s; wardsync/raw = {result['rate'] / raw['rate']:.2f}"
        )


if __name__ == "__main__":
    main()
