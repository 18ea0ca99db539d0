"""ODK Collect's way of sending, measured: one form per request, 16 phones at once, beside the
JSON push of the same forms in batches of one, and the raw database.

For each backend, two runs, each on a fresh database and a fresh gunicorn (``--workers`` ×
``--threads``, as ``bench/ingest.py``):

- **OpenRosa**: ``--clients`` OpenRosa devices (made as a lead's devices page makes them),
  each a thread with its own keep-alive connection, as Collect has: one ``HEAD …/submission``
  (Collect asks before it sends), then one ``POST …/submission`` per form, a chunked multipart
  body whose ``xml_submission_file`` part is the instance XML as Collect writes it (the
  elements of the XForm it downloaded from the form list, ``meta/instanceID``, start and end);
- **JSON**: as many phones enrolled with codes pushing the same forms, one per request, through
  the real client package (``wardsync_client.Connection``), as ``bench.ingest --batch-size 1``.

The forms are ``bench.ingest``'s mix cut into requests of one (activations with later visits,
household help, gifts with doubles, 5 % resent), without its voids and ``base_version``s,
which Collect has no way to send (an edit is how Collect voids). Each phone sends until it has
sent ``--requests`` forms or ``--seconds`` have passed. Printed: first receipts/s (each form
counted once: the resends answer duplicate), request latency p50/p99, the outcomes, the idle
CPU, and the raw database's one-row-per-commit rate for the same rows.

Run: ``.venv/bin/python -m bench.openrosa --backend both`` (``--seconds 60`` by default; see
bench/README.md). Smoke run: ``--clients 4 --seconds 5``.
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import defusedxml.ElementTree as defused
import requests

from bench.common import fresh_database, percentile, seed, server
from bench.ingest import (
    RAW_COMMITS,
    WARDS,
    CountingConnection,
    chunks,
    run_raw_baseline,
    run_together,
)
from bench.ingest import _idle_text as idle_text
from sync.accounts import openrosa_devices
from sync.db import make_engine, make_session_factory
from sync.models import User

DEVICES = 16
WORKERS = 4
THREADS = 2
BOUNDARY = "----benchCollectBoundary"
HEADERS = {"X-OpenRosa-Version": "1.0", "User-Agent": "bench (as org.odk.collect.android)"}
FORMS_NS = "{http://openrosa.org/xforms/xformsList}"


def forms(device: int, ward: str) -> itertools.chain:
    """One phone's forms, one per request, without end: the ingest mix, less what Collect
    cannot send."""
    for (item,) in chunks(device, ward, random.Random(device), size=1):
        if item["form"] != "void":
            yield {k: v for k, v in item.items() if k != "base_version"}


def instance_xml(item: dict, version: str) -> bytes:
    """The instance Collect writes for ``item`` (recorded_at is its ``end``)."""
    root = ET.Element("data", {"id": item["form"], "version": version})
    ET.SubElement(root, "campaign").text = item["campaign"]
    ET.SubElement(root, "org_unit").text = item["org_unit"]
    for name, value in item["data"].items():
        ET.SubElement(root, name).text = "" if value in ("", None) else str(value)
    at = item["recorded_at"].replace(":00+07:00", ":00.000+07:00")
    ET.SubElement(root, "start").text = at
    ET.SubElement(root, "end").text = at
    meta = ET.SubElement(root, "meta")
    ET.SubElement(meta, "instanceID").text = f"uuid:{item['id']}"
    return b"<?xml version='1.0' ?>" + ET.tostring(root, encoding="utf-8")


def multipart(xml: bytes) -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="xml_submission_file"; '
            'filename="submission.xml"\r\nContent-Type: text/xml\r\n\r\n'
        ).encode()
        + xml
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def make_collect_devices(url: str, count: int) -> list[tuple[str, str, str]]:
    """(device id, key, ward) per device, made as the lead's page makes them."""
    engine = make_engine(url)
    made = []
    with make_session_factory(engine)() as session:
        admin = session.query(User).filter_by(username="admin").one()
        for d in range(count):
            ward = f"W{d % WARDS}"
            device, key = openrosa_devices.create(session, admin, f"vol{d}", [ward], f"collect-{d}")
            made.append((device.id, key, ward))
        session.commit()
    engine.dispose()
    return made


def _run_phones(senders, deadline: float, limit: int | None) -> dict:
    """Each sender sends its forms one by one until ``limit`` or ``deadline``."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    sent: list[int] = [0] * len(senders)
    ids: set[str] = set()
    lock = threading.Lock()

    def phone(d: int, failed: threading.Event) -> None:
        send, plan = senders[d]
        for item in itertools.islice(plan, limit):
            if time.perf_counter() >= deadline or failed.is_set():
                break
            started = time.perf_counter()
            status = send(item)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1
                ids.add(item["id"])
            sent[d] += 1

    seconds, cpu = run_together(len(senders), phone, "a phone")
    return {
        "seconds": seconds,
        "latencies": latencies,
        "statuses": statuses,
        "requests": sum(sent),
        "first_receipts": len(ids),
        "rate": len(ids) / seconds if seconds else 0.0,
        "cpu": cpu,
    }


def run_openrosa(backend: str, args) -> tuple[dict, str, list[str]]:
    url = fresh_database(backend, Path(tempfile.mkdtemp(prefix="wardsync-bench-")))
    seed(url, WARDS, args.clients)
    made = make_collect_devices(url, args.clients)
    with server(url, workers=args.workers, threads=args.threads) as base:
        senders = []
        for d, (_device_id, key, ward) in enumerate(made):
            session = requests.Session()
            root = f"{base}/openrosa/key/{key}"
            listed = session.get(root + "/formList", headers=HEADERS, timeout=60)
            listed.raise_for_status()
            versions = {
                x.find(f"{FORMS_NS}formID").text: x.find(f"{FORMS_NS}version").text
                for x in defused.fromstring(listed.content)
            }
            head = session.head(root + "/submission", headers=HEADERS, timeout=60)
            assert head.status_code == 204, head.status_code
            senders.append((_collect_sender(session, root, versions), forms(d, ward)))
        result = _run_phones(senders, time.perf_counter() + args.seconds, args.requests)
    return result, url, [device_id for device_id, _, _ in made]


def _collect_sender(session: requests.Session, root: str, versions: dict[str, str]):
    headers = {**HEADERS, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}

    def send(item: dict) -> str:
        body = multipart(instance_xml(item, versions[item["form"]]))
        answer = session.post(
            root + "/submission", data=iter([body]), headers=headers, timeout=120
        )  # a generator: sent chunked, as Collect does
        if answer.status_code != 201:
            return f"http {answer.status_code}: {_message(answer.content)[:80]}"
        text = _message(answer.content)
        return "duplicate" if "trước đó" in text else "conflict" if "xem xét" in text else "ok"

    return send


def _message(xml: bytes) -> str:
    match = re.search(rb"<message[^>]*>(.*?)</message>", xml, re.S)
    return match[1].decode("utf-8", "replace") if match else xml[:80].decode("utf-8", "replace")


def run_json(backend: str, args) -> tuple[dict, str, list[str]]:
    url = fresh_database(backend, Path(tempfile.mkdtemp(prefix="wardsync-bench-")))
    codes = seed(url, WARDS, args.clients)
    with server(url, workers=args.workers, threads=args.threads) as base:
        senders = []
        devices = []
        for d, code in enumerate(codes):
            connection = CountingConnection(base)
            connection.enroll(code, f"bench-{d}")
            devices.append(connection.tokens.device_id)
            senders.append((_json_sender(connection), forms(d, f"W{d % WARDS}")))
        result = _run_phones(senders, time.perf_counter() + args.seconds, args.requests)
    return result, url, devices


def _json_sender(connection):
    def send(item: dict) -> str:
        return connection.push([item])["results"][0]["status"]

    return send


def report(tag: str, what: str, result: dict, raw: dict) -> None:
    lat = result["latencies"]
    print(
        f"{tag} {what}: {result['rate']:,.0f} submissions/s (first receipts; "
        f"{result['requests']:,} requests, {result['first_receipts']:,} distinct, in "
        f"{result['seconds']:.1f} s); latency p50 {percentile(lat, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(lat, 0.99) * 1000:.1f} ms; outcomes {result['statuses']}"
    )
    print(f"{tag}   {idle_text(result['cpu'])}")
    print(
        f"{tag}   raw, 1 row per statement and a commit each, the first {raw['rows']:,} of the "
        f"same rows: {raw['rate']:,.0f} rows/s; wardsync/raw = "
        f"{result['rate'] / raw['rate'] if raw['rate'] else 0:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--clients", type=int, default=DEVICES, help="phones sending at once")
    parser.add_argument("--seconds", type=float, default=60.0, help="stop starting requests")
    parser.add_argument("--requests", type=int, default=None, help="at most this many per phone")
    parser.add_argument("--workers", type=int, default=WORKERS, help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=THREADS, help="threads per process")
    args = parser.parse_args()
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    for backend in backends:
        tag = f"[{backend}]"
        print(
            f"{tag} {args.clients} phones, one form per request, {args.workers} workers x "
            f"{args.threads} threads, {args.seconds:g} s"
            + (f" or {args.requests} forms per phone" if args.requests else ""),
            flush=True,
        )
        rates = {}
        for what, run in (("OpenRosa (ODK Collect)", run_openrosa), ("JSON push", run_json)):
            result, url, devices = run(backend, args)
            raw = run_raw_baseline(url, devices, per_statement=1, limit=RAW_COMMITS)
            report(tag, what, result, raw)
            rates[what] = result["rate"]
        json_rate = rates["JSON push"]
        print(
            f"{tag} OpenRosa/JSON = "
            f"{rates['OpenRosa (ODK Collect)'] / json_rate if json_rate else 0:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
