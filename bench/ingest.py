"""Push throughput: phones push the bench's mix to a real gunicorn server, beside the raw database.

``--clients`` devices (16) enrol over HTTP with the real client package and push requests of
``--batch-size`` forms (500; 1 is how ODK Collect and a one-form phone send) at once, until
each has sent ``--batches`` requests or ``--seconds`` have passed, whichever comes first. The
mix: 60 % activations (30 % of them later visits to a citizen already seen, with stale
``base_version``s), 20 % household help, 15 % gifts (two rounds per household, so suspected
doubles arise), 5 % voids, plus 5 % of each 500 resent from the previous 500.

Printed per backend:

- first receipts/s (each form counted once: the resent 5 % answer "duplicate" and store
  nothing), the rate with resends beside it, request latency p50/p99, the outcomes, and how
  often the client retried;
- the CPU left idle during the timed window: the system-wide idle + iowait share from
  ``/proc/stat``, over the window, and its least and most idle second;
- ``--resends``: then every device re-pushes, identically, the requests it pushed, and the
  rate, latency and idle CPU of those answers (all must be "duplicate");
- the raw database, same run, same rows (the ones this run stored): ``executemany INSERT …
  ON CONFLICT DO NOTHING``, 500 per statement, into a scratch copy of ``submissions`` with all
  its indexes and foreign keys (its shape printed as the database reports it), and the ratio;
  below 500 per request also ``--batch-size`` rows per statement with a commit each, from one
  connection, for the first 10,000 of those rows;
- ``--preload N``: N stored submissions loaded first (``bench/preload.py``: COPY on
  PostgreSQL, records, households and feed rows with them, indexes in place), then ANALYZE;
  ``--growth N`` runs at 0 and at N stored, each on a fresh database, and prints the ratio.

Run: ``.venv/bin/python -m bench.ingest --backend both`` (see bench/README.md for the rest).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import MetaData, inspect, select, text
from sqlalchemy.dialects import postgresql, sqlite
from wardsync_client import Connection

from bench import preload
from bench.common import fresh_database, percentile, seed, server
from sync.db import make_engine
from sync.models import Submission

DEVICES = 16
BATCH = 500
WARDS = 10
WORKERS = 4  # processes: the GIL makes threads a poor fit for CPU-bound pushes
THREADS = 2
RAW_COMMITS = 10_000  # rows for the one-row-per-commit baseline (a commit costs ~1 ms here)


def _time(minute: int) -> str:
    day, hour = 1 + minute // 1440 % 27, minute // 60 % 24
    return f"2023-08-{day:02d}T{hour:02d}:{minute % 60:02d}:00+07:00"


def stream(device: int, ward: str, rnd: random.Random) -> Iterator[list[dict]]:
    """One phone's forms, 500 at a time, without end: edits of earlier citizens, same-key
    gifts (doubles), voids, and 5 % of each batch resent from the one before."""
    previous: list[dict] = []
    citizens: list[str] = []
    events: list[str] = []
    households = [  # random-looking, as the phones' uuid4s are, so they land all over the index
        str(uuid.UUID(bytes=hashlib.blake2b(b"%d:%d" % (device, h), digest_size=16).digest(),
                      version=4))
        for h in range(200)
    ]  # fmt: skip
    minute = 0
    while True:
        batch: list[dict] = []
        if previous:  # a resend of part of the previous batch, as after a lost response
            batch += rnd.sample(previous, k=BATCH // 20)
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
        previous = batch
        yield batch


def chunks(device: int, ward: str, rnd: random.Random, size: int = BATCH) -> Iterator[list[dict]]:
    """The same stream cut into requests of ``size`` forms (a phone sending one at a time
    sends the same forms, resends included, one per request)."""
    for batch in stream(device, ward, rnd):
        for i in range(0, len(batch), size):
            yield batch[i : i + size]


def make_batches(
    device: int, ward: str, count: int, rnd: random.Random, size: int = BATCH
) -> list[list[dict]]:
    """The first ``count`` requests of ``chunks``."""
    return list(itertools.islice(chunks(device, ward, rnd, size), count))


class CountingConnection(Connection):
    """The real client, counting the retries it makes (transient errors, 503s)."""

    retries = 0

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        self.retries += 1
        super()._sleep(attempt, retry_after)


class IdleCpu(threading.Thread):
    """The system-wide idle + iowait share of the CPU, from ``/proc/stat``, sampled every
    second between ``start()`` and ``stop()``."""

    def __init__(self):
        super().__init__(daemon=True)
        self.done = threading.Event()
        self.seconds: list[float] = []
        self.first = self.last = _cpu_times()

    def run(self) -> None:
        before = self.first
        while not self.done.wait(1.0):
            now = _cpu_times()
            self.seconds.append(_idle_share(before, now))
            before = now

    def stop(self) -> dict:
        self.last = _cpu_times()
        self.done.set()
        self.join()
        seconds = self.seconds or [_idle_share(self.first, self.last)]
        return {
            "idle": _idle_share(self.first, self.last),
            "min": min(seconds),
            "max": max(seconds),
        }


def _cpu_times() -> list[int]:
    with open("/proc/stat") as f:
        return [int(v) for v in f.readline().split()[1:]]  # the "cpu" line: all cores


def _idle_share(before: list[int], after: list[int]) -> float:
    delta = [a - b for a, b in zip(after, before, strict=True)]
    total = sum(delta[:8])  # user nice system idle iowait irq softirq steal (guest is in user)
    return (delta[3] + delta[4]) / total if total else 0.0


def _idle_text(cpu: dict) -> str:
    return (
        f"CPU idle (idle+iowait, all cores) {cpu['idle']:.0%} over the window "
        f"(seconds: {cpu['min']:.0%}–{cpu['max']:.0%})"
    )


def run_together(count: int, work, what: str) -> tuple[float, dict]:
    """Run ``work(d, failed)`` for ``d`` in ``range(count)``, each in its own thread, all let go
    at once; returns the wall time from that moment and the idle CPU over it. ``failed`` is set
    as soon as one fails, so the others can stop; the first failure then ends the run."""
    barrier = threading.Barrier(count + 1)
    failed = threading.Event()
    errors: list[BaseException] = []

    def run(d: int) -> None:
        try:
            barrier.wait()
            work(d, failed)
        except Exception as exc:  # noqa: BLE001 - reported after the others stop
            errors.append(exc)
            failed.set()

    threads = [threading.Thread(target=run, args=(d,)) for d in range(count)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    cpu = IdleCpu()
    cpu.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{what} failed: {errors[0]!r} (see the server log)")
    return wall, cpu.stop()


def _push_all(connections, plans, deadline: float) -> dict:
    """Each device pushes its requests in turn until they run out or ``deadline`` passes;
    returns the wall time, latencies, outcomes and the requests each device sent."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    sent: list[list[list[dict]]] = [[] for _ in connections]
    lock = threading.Lock()

    def device(d: int, failed: threading.Event) -> None:
        for batch in plans[d]:
            if time.perf_counter() >= deadline or failed.is_set():
                break
            started = time.perf_counter()
            answer = connections[d].push(batch)
            elapsed = time.perf_counter() - started
            sent[d].append(batch)
            with lock:
                latencies.append(elapsed)
                for r in answer["results"]:
                    statuses[r["status"]] = statuses.get(r["status"], 0) + 1

    wall, cpu = run_together(len(connections), device, "a device's push")
    return {"seconds": wall, "latencies": latencies, "statuses": statuses, "sent": sent, "cpu": cpu}


def run_server_bench(url: str, codes: list[str], args) -> dict:
    size, clients = args.batch_size, len(codes)
    plans = [
        itertools.islice(
            chunks(d, f"W{d % WARDS}", random.Random(d), size), args.batches
        )  # a count-bounded run when --batches is given, else bounded by --seconds
        for d in range(clients)
    ]
    with server(url, workers=args.workers, threads=args.threads) as base:
        connections = []
        for d, code in enumerate(codes):
            connection = CountingConnection(base)
            connection.enroll(code, f"bench-{d}")
            connections.append(connection)
        main = _push_all(connections, plans, time.perf_counter() + args.seconds)
        main["retries"] = sum(c.retries for c in connections)
        resends = None
        if args.resends:
            for c in connections:
                c.retries = 0
            resends = _push_all(connections, main["sent"], time.perf_counter() + args.seconds)
            resends["items"] = sum(len(b) for plan in resends["sent"] for b in plan)
            resends["retries"] = sum(c.retries for c in connections)
        devices = [c.tokens.device_id for c in connections]
    items = [item for plan in main["sent"] for b in plan for item in b]
    # The resent 5 % are answered "duplicate" and store nothing: the rate counts each form
    # once, at its first receipt.
    first = len({item["id"] for item in items})
    main.update(
        submissions=len(items),
        first_receipts=first,
        requests=sum(len(plan) for plan in main["sent"]),
        rate=first / main["seconds"],
        rate_with_resends=len(items) / main["seconds"],
        devices=devices,
        resends=resends,
    )
    return main


def run_raw_baseline(
    url: str, devices: list[str] | None = None, per_statement: int = BATCH, limit: int | None = None
) -> dict:
    """The database alone: the same stored rows (those of ``devices``, or all), executemany
    ``INSERT … ON CONFLICT DO NOTHING``, ``per_statement`` rows per statement, into a scratch
    copy of ``submissions`` with the same columns, indexes and foreign keys. 500 per statement
    go in one transaction; fewer, a commit per statement (as a push of that size commits)."""
    engine = make_engine(url)
    table = Submission.__table__
    query = select(table).order_by(table.c.xid, table.c.seq).limit(limit)
    if devices is not None:
        query = query.where(table.c.device_id.in_(devices))
    with engine.begin() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    metadata = MetaData()
    for t in table.metadata.sorted_tables:  # what the foreign keys point at
        if t.name != table.name:
            t.to_metadata(metadata)
    raw = table.to_metadata(metadata, name="bench_raw_submissions")
    for index in raw.indexes:  # index names are per schema
        index.name = index.name.replace("ix_submissions", "ix_bench_raw_submissions")
    raw.primary_key.name = "pk_bench_raw_submissions"
    for fk in raw.foreign_key_constraints:
        fk.name = f"fk_bench_raw_submissions_{fk.column_keys[0]}"
    raw.drop(engine, checkfirst=True)
    raw.create(engine)  # a scratch table for the baseline only, dropped below
    for r in rows:
        r["id"] = str(uuid.uuid4())
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(raw).on_conflict_do_nothing(index_elements=["id"])
    started = time.perf_counter()
    if per_statement >= BATCH:
        with engine.begin() as conn:
            for i in range(0, len(rows), per_statement):
                conn.execute(stmt, rows[i : i + per_statement])
    else:
        with engine.connect() as conn:
            for i in range(0, len(rows), per_statement):
                conn.execute(stmt, rows[i : i + per_statement])
                conn.commit()
    seconds = time.perf_counter() - started
    shape = _shape(engine, raw.name)
    raw.drop(engine)
    engine.dispose()
    return {
        "rows": len(rows),
        "seconds": seconds,
        "rate": len(rows) / seconds if seconds else 0.0,
        "shape": shape,
        "per_statement": per_statement,
    }


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


def _stored(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM submissions")).scalar()
    engine.dispose()
    return count


def prepare(backend: str, stored: int, args) -> tuple[str, list[str], str]:
    """A fresh database with ``stored`` submissions in it, ANALYZEd; returns its URL, the
    devices' enrolment codes and a line saying what was loaded."""
    workdir = Path(tempfile.mkdtemp(prefix="wardsync-bench-"))
    url = fresh_database(backend, workdir)
    codes = seed(url, WARDS, args.clients + 1)  # the last: the loader of --preload
    loader_code, codes = codes[-1], codes[:-1]
    note = "nothing preloaded"
    engine = make_engine(url)
    if stored:
        with server(url, workers=1, threads=1) as base:  # the push path's own rows as models
            loader = Connection(base)
            loader.enroll(loader_code, "bench-loader")
            ward = f"W{args.clients % WARDS}"
            for batch in make_batches(9999, ward, 2, random.Random(9999)):
                answer = loader.push(batch)
                refused = [r for r in answer["results"] if r["status"] == "rejected"]
                if refused:
                    raise SystemExit(f"preload: the template push was refused: {refused[0]}")
        device_id = loader.tokens.device_id
        loaded = preload.load(engine, stored, preload.templates(engine, device_id))
        note = (
            f"preloaded {loaded['submissions']:,} submissions, {loaded['activation_records']:,} "
            f"activation records, {loaded['households']:,} households, {loaded['feed']:,} feed "
            f"rows in {loaded['seconds']:.0f} s ({loaded['waited']:.0f} s of it waiting for the "
            "database)"
        )
    seconds = preload.analyze(engine)
    engine.dispose()
    return url, codes, f"{note}; ANALYZE {seconds:.1f} s; {_stored(url):,} submissions stored"


def run(backend: str, stored: int, args) -> dict:
    url, codes, note = prepare(backend, stored, args)
    tag = f"[{backend}{f' @{stored:,}' if stored else ''}]"
    print(f"{tag} {note}", flush=True)
    result = run_server_bench(url, codes, args)
    raw = run_raw_baseline(url, result["devices"])
    lat = result["latencies"]
    print(
        f"{tag} {len(codes)} devices, {args.workers} workers x {args.threads} threads, "
        f"{result['requests']:,} requests of {args.batch_size} = {result['submissions']:,} "
        f"forms sent ({result['first_receipts']:,} distinct, the rest resends) in "
        f"{result['seconds']:.2f} s"
    )
    print(
        f"{tag}   wardsync push: {result['rate']:,.0f} first receipts/s "
        f"({result['rate_with_resends']:,.0f}/s counting resends); request latency "
        f"p50 {percentile(lat, 0.5) * 1000:.0f} ms, p99 {percentile(lat, 0.99) * 1000:.0f} ms; "
        f"outcomes {result['statuses']}; client retries {result['retries']}"
    )
    print(f"{tag}   {_idle_text(result['cpu'])}")
    resends = result["resends"]
    if resends:
        rl = resends["latencies"]
        print(
            f"{tag}   identical resends: {resends['items']:,} forms in "
            f"{sum(len(p) for p in resends['sent']):,} requests, "
            f"{resends['items'] / resends['seconds']:,.0f} answers/s; request latency p50 "
            f"{percentile(rl, 0.5) * 1000:.0f} ms, p99 {percentile(rl, 0.99) * 1000:.0f} ms; "
            f"outcomes {resends['statuses']}; client retries {resends['retries']}; "
            f"{_idle_text(resends['cpu'])}"
        )
        if set(resends["statuses"]) - {"duplicate"}:
            print(f"{tag}   WARNING: a resend was answered other than 'duplicate'")
    print(f"{tag}   baseline table: {raw['shape']}")
    print(
        f"{tag}   raw executemany INSERT ... ON CONFLICT DO NOTHING of the same {raw['rows']:,} "
        f"rows, {BATCH} per statement: {raw['rate']:,.0f} rows/s; wardsync/raw = "
        f"{result['rate'] / raw['rate']:.3f}"
    )
    if args.batch_size < BATCH:
        one = run_raw_baseline(
            url, result["devices"], per_statement=args.batch_size, limit=RAW_COMMITS
        )
        print(
            f"{tag}   raw, {args.batch_size} row(s) per statement and a commit each, one "
            f"connection, the first {one['rows']:,} of the same rows: {one['rate']:,.0f} "
            f"rows/s; wardsync/raw = {result['rate'] / one['rate']:.3f}"
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--batch-size", type=int, default=BATCH, help="forms per request")
    parser.add_argument("--clients", type=int, default=DEVICES, help="devices pushing at once")
    parser.add_argument(
        "--batches", type=int, default=None,
        help="requests per device (default: 8 at --batch-size 500; else until --seconds)",
    )  # fmt: skip
    parser.add_argument(
        "--seconds", type=float, default=None,
        help="stop starting requests after this (default: 60 below 500 per request)",
    )  # fmt: skip
    parser.add_argument("--resends", action="store_true", help="then resend it all, identically")
    parser.add_argument("--preload", type=int, default=0, help="stored submissions before")
    parser.add_argument(
        "--growth", type=int, default=None, metavar="N",
        help="run at 0 and at N stored submissions and print the ratio",
    )  # fmt: skip
    parser.add_argument("--workers", type=int, default=WORKERS, help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=THREADS, help="threads per process")
    args = parser.parse_args()
    if args.batches is None and args.seconds is None:
        if args.batch_size >= BATCH:
            args.batches = 8
        else:
            args.seconds = 60.0
    if args.seconds is None:
        args.seconds = float("inf")
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    sizes = [0, args.growth] if args.growth is not None else [args.preload]
    for backend in backends:
        rates = [run(backend, stored, args)["rate"] for stored in sizes]
        if args.growth is not None:
            print(
                f"[{backend}] growth: {rates[1]:,.0f}/s at {args.growth:,} stored against "
                f"{rates[0]:,.0f}/s at 0: ratio {rates[1] / rates[0]:.2f} (aim >= 0.90)"
            )


if __name__ == "__main__":
    main()
