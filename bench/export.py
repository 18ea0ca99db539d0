"""1,000,000 submissions to CSV through the export endpoint, beside the database's own dump.

Loads the rows straight into ``submissions`` (as ``bench/progress.py`` does: activations of
distinct citizens, stored as the push path stores them, citizen ids already masked), then
downloads ``GET /api/v1/exports/submissions?form=activation&format=csv`` from a real gunicorn
server with an export API key, and prints the seconds, the time to the first byte and the
peak memory of the server's worker processes. In the same run it times the database alone
writing the same rows and columns as CSV: PostgreSQL's ``COPY (SELECT …) TO STDOUT``, or on
SQLite a ``SELECT`` through Python's csv writer.

Run: ``.venv/bin/python -m bench.export --backend both --rows 1000000``.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests
from sqlalchemy import text

from bench.common import fresh_database, server
from bench.progress import build_campaign, load_submissions
from sync.accounts import api_keys
from sync.db import make_engine, make_session_factory

AIM_SECONDS, AIM_MB = 10, 150
STREETS = ("Lê Lợi", "Trần Phú", "Nguyễn Trãi", "Bình Đức 2", "Hùng Vương", "Cách Mạng Tháng 8")
NOTES = (
    "",
    "Đi vắng",
    'Con trai cài giúp, hẹn quay lại "tuần sau"',
    "Máy cũ, không cài được ứng dụng;\nđã hướng dẫn người nhà, gọi lại số 0912 sau 18h",
    "Bà cụ 82 tuổi, mắt kém: tình nguyện viên đọc từng bước, kích hoạt xong lúc 16:40, "
    "đã kiểm tra đăng nhập lại, dặn giữ mật khẩu, không đưa cho ai",
)


def visit(n: int, rnd: random.Random) -> dict:
    """What a volunteer fills in beside the citizen id and status, as real visits vary:
    households of a few people each, addresses and notes of every length (quotes, a newline,
    none at all), fields left out."""
    fields = {"household_id": str(uuid.UUID(int=n // 3 + 1))}
    if rnd.random() < 0.9:
        fields["household_address"] = (
            f"{rnd.randint(1, 400)}/{rnd.randint(1, 60)} {rnd.choice(STREETS)}, "
            f"tổ {rnd.randint(1, 30)}, khu phố {rnd.randint(1, 12)}"
        )
    if rnd.random() < 0.7:
        fields["phone_owner"] = rnd.choice(("self", "family", "volunteer"))
    note = rnd.choice(NOTES)
    if note:
        fields["note"] = note
    return fields


DATA = ("citizen_id", "status", "household_id", "household_address", "phone_owner", "note")


def columns(field) -> str:
    """The export's columns, with ``field(column, key)`` reading a JSON value as text."""
    data = ", ".join(field("s.data", key) for key in DATA)
    return (
        "s.id, s.seq, 'bench', o.code, s.form, s.recorded_at, s.day, s.device_id, "
        f"{field('s.result', 'status')}, s.voided, s.double_decision, {data}"
    )


def load(url: str, rows: int) -> str:
    """The rows, all activations with their fields as visits fill them in; returns an
    export API key."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as session:
        wards, campaign_id = build_campaign(session)
        _, key = api_keys.create(session, "bench export", [])
        session.commit()
    rnd = random.Random(7)
    step = 100_000
    for start in range(0, rows, step):
        with factory() as session:
            load_submissions(
                session,
                campaign_id,
                "bench-device",
                wards,
                start,
                min(step, rows - start),
                rnd,
                shares=(1.0, 1.0),
                vary=visit,
            )
            session.commit()
    engine.dispose()
    return key


def worker_pids(port: int) -> list[int]:
    """The gunicorn processes serving ``port`` (the master and its workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"gunicorn" in cmdline and f"127.0.0.1:{port}".encode() in cmdline:
                pids.append(int(entry.name))
    return pids


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class MemoryWatch(threading.Thread):
    """Samples each server process's resident memory every 20 ms; keeps the peak."""

    def __init__(self, pids: list[int]):
        super().__init__(daemon=True)
        self.pids = pids
        self.before = {pid: rss_mb(pid) for pid in pids}
        self.peak = dict(self.before)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], rss_mb(pid))


def download(base: str, key: str) -> dict:
    watch = MemoryWatch(worker_pids(int(base.rsplit(":", 1)[1])))
    watch.start()
    started = time.perf_counter()
    first_byte = None
    size = lines = 0
    with requests.get(
        base + "/api/v1/exports/submissions",
        params={"campaign": "bench", "form": "activation", "format": "csv"},
        headers={"Authorization": f"Bearer {key}"},
        stream=True,
        timeout=600,
    ) as response:
        response.raise_for_status()
        for chunk in response.iter_content(1 << 16):
            if first_byte is None:
                first_byte = time.perf_counter() - started
            size += len(chunk)
            lines += chunk.count(b"\n")  # no value here holds a line break
    seconds = time.perf_counter() - started
    watch.done.set()
    watch.join()
    worst = max(watch.pids, key=lambda pid: watch.peak[pid] - watch.before[pid])
    return {
        "seconds": seconds,
        "first_byte": first_byte,
        "bytes": size,
        "rows": lines - 1,
        "peak_mb": watch.peak[worst],
        "growth_mb": watch.peak[worst] - watch.before[worst],
    }


def baseline(url: str, backend: str) -> dict:
    """The database alone writing the same rows and columns as CSV."""
    started = time.perf_counter()
    size = 0
    if backend == "postgresql":
        import psycopg

        # The JSON parsed once per row, as the export does.
        select = columns(
            lambda column, key: f"d.{key}" if column == "s.data" else f"{column}->>'{key}'"
        )
        record = ", ".join(f"{key} text" for key in DATA)
        query = (
            f"COPY (SELECT {select} FROM submissions s JOIN org_units o ON o.id = s.org_unit_id, "
            f"json_to_record(s.data) AS d({record}) "
            "WHERE s.form = 'activation' ORDER BY s.seq) TO STDOUT WITH (FORMAT csv, HEADER)"
        )
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as conn, conn.cursor().copy(query) as copy:
            for chunk in copy:
                size += len(chunk)
    else:
        import sqlite3

        select = columns(lambda column, key: f"json_extract({column}, '$.{key}')")
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        sink = io.StringIO()
        writer = csv.writer(sink)
        for row in conn.execute(
            f"SELECT {select} FROM submissions s JOIN org_units o ON o.id = s.org_unit_id "
            "WHERE s.form = 'activation' ORDER BY s.seq"
        ):
            writer.writerow(row)
            if sink.tell() > 1 << 16:
                size += sink.tell()
                sink.seek(0)
                sink.truncate()
        size += sink.tell()
        conn.close()
    return {"seconds": time.perf_counter() - started, "bytes": size}


def run(backend: str, rows: int) -> None:
    url = fresh_database(backend, Path(tempfile.mkdtemp(prefix="wardsync-export-")))
    started = time.perf_counter()
    key = load(url, rows)
    print(f"[{backend}] loaded {rows:,} submissions in {time.perf_counter() - started:.0f} s")
    if backend == "postgresql":
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        engine.dispose()
    with server(url, workers=2, threads=2) as base:
        got = download(base, key)
    raw = baseline(url, backend)
    assert got["rows"] == rows, f"exported {got['rows']} rows of {rows}"
    rate = got["rows"] / got["seconds"]
    print(
        f"[{backend}]   export: {got['rows']:,} rows, {got['bytes'] / 1e6:.0f} MB of CSV in "
        f"{got['seconds']:.1f} s ({rate:,.0f} rows/s); first byte after "
        f"{got['first_byte'] * 1000:.0f} ms; server worker peak RSS {got['peak_mb']:.0f} MB "
        f"(+{got['growth_mb']:.0f} MB during the export)"
    )
    label = "COPY ... TO STDOUT" if backend == "postgresql" else "SELECT + csv.writer"
    print(
        f"[{backend}]   {label} of the same rows: {raw['seconds']:.1f} s "
        f"({raw['bytes'] / 1e6:.0f} MB); wardsync/raw time = {got['seconds'] / raw['seconds']:.1f}"
    )
    seconds_ok = got["seconds"] * 1_000_000 / rows < AIM_SECONDS
    print(
        f"[{backend}]   aim (1M rows < {AIM_SECONDS} s, < {AIM_MB} MB): time "
        f"{'met' if seconds_ok else 'NOT met'} (scaled to 1M rows), memory "
        f"{'met' if got['peak_mb'] < AIM_MB else 'NOT met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    for backend in ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]:
        run(backend, args.rows)


if __name__ == "__main__":
    main()
