"""The chaos suite's runner: hundreds of phones (the real client package, each its own
``DeviceStore`` file) syncing through a network that drops, cuts, resets, delays and holds
back their requests, while the server's workers are killed, its PostgreSQL restarted or its
SQLite disk filled. Afterwards nothing a phone was told is stored may be missing, nothing may
be counted twice, and the progress must equal ``tests/model.py``'s count of what the phones
recorded.

Phones send what they hold out of recorded order (a random part of the outbox, shuffled),
resend old batches whose answer they had (all of it must come back ``duplicate``), sometimes
die between the server's answer and writing it down (the batch goes again later, cut
differently), and some phones' clocks jump a day ahead (the server clamps them and flags
``clock_suspect``) or hours back. Nothing waits for a fixed time: the disruptions wait for
what they can observe (pushes counted by the proxy, a request in flight, the killed worker
replaced, 503s seen, a push answered again).

``WARDSYNC_CHAOS_SCALE=full`` (``make chaos``) runs the full size; the default is the bounded
form the normal suite runs.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import textwrap
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import requests
from kit.chaos_net import ChaosNet, Faults
from kit.databases import TEST_SECRET
from kit.live import WARDSYNC, ServerProcess, wait_for
from model import Model, epoch_ms
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from wardsync_client import (
    ApiError,
    DeviceStore,
    Unreachable,
    connect,
    enroll,
    push,
    sync_device,
)
from wardsync_client.outbox import Queued

from sync.accounts import devices, users
from sync.admin import campaigns, orgunits
from sync.db import make_engine, make_session_factory
from sync.models import Submission

SCALE = os.environ.get("WARDSYNC_CHAOS_SCALE", "bounded")
CAMPAIGN = "chaos"
PARENTS = {"P": None, "C1": "P", "C2": "P",
           "W1": "C1", "W2": "C1", "W3": "C1", "W4": "C2", "W5": "C2", "W6": "C2"}  # fmt: skip
WARDS = tuple(u for u in PARENTS if u.startswith("W"))
VN = timezone(timedelta(hours=7))
LADDER = ("visited", "no_smartphone", "installed", "activated")
GIFT_VALUES = (150_000, 300_000, 450_000, 1_250_000)
HQ_PASSWORD = "headquarters reads the totals"
# A phone on a bad link: quick retries, a timeout a held-back request outlasts.
CLIENT = {"attempts": 8, "base_delay": 0.05, "max_delay": 1.0, "timeout": 8}

P_FORGET = 0.05  # the phone dies between the server's answer and writing it down
P_REPLAY = 0.3  # after a round, an old batch whose answer the phone had is sent again
P_SYNC = 0.25  # a session ends with the client's own sync (push oldest first, pull, receipt)


@dataclass(frozen=True)
class Size:
    phones: int
    pool: int  # phones online at once (threads)
    first: int  # forms a phone holds before its first push
    rounds: int  # rounds of (record some, push a shuffled part) per session
    per_round: int
    batch: int  # at most this many forms per push
    sessions: int = 2  # times each phone comes online
    workers: int = 2
    kills: int = 0
    restarts: tuple[str, ...] = ()  # pg_ctl stop modes, one restart each
    disk_mb: int = 0  # the tmpfs the SQLite database lives on (the full-disk scenario)
    faults: Faults = field(default_factory=Faults)


CHAOS_FAULTS = Faults(lose=0.15, truncate=0.03, reset=0.05, delay=0.10, stall=0.01, max_stalls=4)
FULL_FAULTS = replace(CHAOS_FAULTS, max_stalls=12)

SIZES = {
    "bounded": {
        "field": Size(300, 24, 4, 1, 4, 8, kills=2, faults=CHAOS_FAULTS),
        "restart": Size(60, 16, 4, 2, 4, 10, restarts=("immediate",), faults=CHAOS_FAULTS),
        "disk": Size(40, 16, 4, 4, 4, 10, disk_mb=24, faults=CHAOS_FAULTS),
    },
    "full": {
        "field": Size(300, 48, 20, 4, 8, 60, workers=3, kills=6, faults=FULL_FAULTS),
        "restart": Size(
            300, 48, 10, 4, 6, 40, workers=3, restarts=("fast", "immediate"), faults=FULL_FAULTS
        ),  # fmt: skip
        "disk": Size(300, 48, 6, 4, 5, 30, workers=3, disk_mb=256, faults=FULL_FAULTS),
    },
}


# A look in seconds while changing the suite: WARDSYNC_CHAOS_SCALE=smoke.
SIZES["smoke"] = {
    name: replace(s, phones=12, pool=6, kills=min(s.kills, 1), restarts=s.restarts[:1])
    for name, s in SIZES["bounded"].items()
}


def size(scenario: str) -> Size:
    return SIZES[SCALE if SCALE in SIZES else "bounded"][scenario]


# --- what the phones recorded and did -----------------------------------------------------


class Ledger:
    """Every form a phone recorded, as it will be sent (its clock stamp included)."""

    def __init__(self) -> None:
        self.forms: dict[str, tuple[str, dict]] = {}  # id -> device, body
        self.invalid: set[str] = set()
        self._lock = threading.Lock()

    def add(self, device: str, body: dict, invalid: bool = False) -> None:
        with self._lock:
            self.forms[body["id"]] = (device, body)
            if invalid:
                self.invalid.add(body["id"])

    def valid_ids(self) -> set[str]:
        return set(self.forms) - self.invalid


class Tally:
    """The phones' side of the books, and anything that went wrong on a phone."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.violations: list[str] = []  # a resend answered as new: a double receipt
        self.errors: list[str] = []  # an exception a phone should never meet
        self._lock = threading.Lock()

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counts[name] += n

    def violation(self, text: str) -> None:
        with self._lock:
            self.violations.append(text)

    def error(self, text: str) -> None:
        with self._lock:
            self.errors.append(text)


class Phone:
    def __init__(self, index: int, ward: str, path: Path, seed: int):
        self.index, self.ward, self.path = index, ward, path
        self.rnd = random.Random(seed * 1000 + index)
        self.events: list[str] = []  # its help visits and gifts, for a later void
        self.history: list[tuple[list[dict], list[str]]] = []  # batches answered, as sent
        # One phone in ten jumps a day ahead mid-run (and is set right for its last round),
        # one in ten hours back.
        self.jump = {3: "ahead", 8: "back"}.get(index % 10)
        self.offset = timedelta(0)
        self.sessions = 0
        self.rounds = 0

    # -- recording ----------------------------------------------------------------------

    def record(self, store: DeviceStore, count: int, ledger: Ledger, invalid: bool) -> None:
        ward_no = WARDS.index(self.ward) + 1
        rnd = self.rnd
        for _ in range(count):
            at = datetime.now(VN) + self.offset
            household = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.ward}/{rnd.randrange(15)}"))
            roll = rnd.random()
            if roll < 0.5:
                status = rnd.choice(LADDER + LADDER[2:] + ("refused", "ineligible"))
                form = "activation"
                data = {"citizen_id": f"{ward_no}{rnd.randrange(60):011d}", "status": status}
            elif roll < 0.7 or (roll > 0.92 and not self.events):
                form, data = "household_help", {
                    "household_id": household,
                    "kind": rnd.choice(("road_repair", "yard_concrete", "sanitation")),
                    "quantity": rnd.randrange(1, 30),
                    "unit": "m2",
                    "volunteers": rnd.randrange(1, 4),
                    "hours": rnd.randrange(1, 5),
                }  # fmt: skip
            elif roll < 0.92:
                form, data = "gift", {
                    "household_id": household,
                    "gift_kind": rnd.choice(("rice", "rice", "blanket")),
                    "round": "2026-tet",
                    "count": rnd.randrange(1, 4),
                    "value_vnd": rnd.choice(GIFT_VALUES),
                }  # fmt: skip
            else:
                target = self.events.pop(rnd.randrange(len(self.events)))
                form, data = "void", {"target": target, "reason": "entered twice"}
            sid = store.record(form, CAMPAIGN, self.ward, data, recorded_at=at)
            if form in ("household_help", "gift"):
                self.events.append(sid)
            ledger.add(store.device_id, _body(store, sid))
        if invalid:  # a mistyped citizen id: rejected, and kept on the phone
            at = datetime.now(VN) + self.offset
            sid = store.record(
                "activation", CAMPAIGN, self.ward, {"citizen_id": "12", "status": "visited"},
                recorded_at=at,
            )  # fmt: skip
            ledger.add(store.device_id, _body(store, sid), invalid=True)

    # -- sending ------------------------------------------------------------------------

    def push_part(self, store: DeviceStore, conn, size: Size, tally: Tally) -> None:
        """A random part of the outbox in a random order: not the order it was recorded in."""
        rows = store.db.execute(
            "SELECT seq, id, body FROM outbox WHERE state = 'queued'"
        ).fetchall()
        if not rows:
            return
        picked = self.rnd.sample(rows, self.rnd.randint(1, min(len(rows), size.batch)))
        batch = [Queued(seq, sid, json.loads(body)) for seq, sid, body in picked]
        seqs = [q.seq for q in batch]
        if seqs != sorted(seqs) or min(seqs) != min(r[0] for r in rows):
            tally.add("out_of_order")
        bodies = [q.body for q in batch]
        answer = conn.push(bodies)
        results = answer.get("results") or []
        if [r.get("id") for r in results] != [q.id for q in batch]:
            tally.error(f"phone {self.index}: the answer does not list the batch in order")
            return
        tally.add("pushes")
        tally.add("pushed_forms", len(batch))
        self.history.append((bodies, [r["status"] for r in results]))
        if self.rnd.random() < P_FORGET:
            tally.add("forgotten")  # died before writing the answer down: all of it goes again
            return
        store.settle(batch, results, answer.get("server_time") or datetime.now(UTC).isoformat())
        store.observe_server_clock(answer.get("server_hlc"))

    def replay(self, conn, tally: Tally) -> None:
        """An old batch, whose answer the phone had, sent again: nothing in it may be new."""
        bodies, first = self.rnd.choice(self.history)
        answer = conn.push(bodies)
        tally.add("replays")
        tally.add("replayed_forms", len(bodies))
        for body, was, result in zip(bodies, first, answer["results"], strict=True):
            expected = "rejected" if was == "rejected" else "duplicate"
            if result["status"] != expected:
                tally.violation(
                    f"{body['id']} ({body['form']}) first answered {was}, "
                    f"resent: {result['status']}"
                )

    def session(self, size: Size, ledger: Ledger, tally: Tally) -> None:
        """The phone comes online for a while: rounds of recording and pushing part of its
        outbox, an old batch resent now and then, its clock jumping mid-way."""
        store = DeviceStore(self.path)
        try:
            conn = connect(store, **CLIENT)
            self.sessions += 1
            if self.sessions == 1:
                self.record(store, size.first, ledger, invalid=self.index % 10 == 0)
            total = size.rounds * size.sessions  # its rounds over the whole run
            for _ in range(size.rounds):
                if self.jump and self.rounds == total // 2:  # mid-run, after its first forms
                    self.offset = timedelta(days=1) if self.jump == "ahead" else -timedelta(hours=5)
                    tally.add(f"clock_{self.jump}")
                if self.jump == "ahead" and total >= 3 and self.rounds == total - 1:
                    self.offset = timedelta(0)  # set right; its clock stamps stay ahead
                self.rounds += 1
                self.record(store, size.per_round, ledger, invalid=False)
                try:
                    self.push_part(store, conn, size, tally)
                    if self.history and self.rnd.random() < P_REPLAY:
                        self.replay(conn, tally)
                except Unreachable:
                    tally.add("gave_up")  # no answer after every retry: the forms stay queued
                except ApiError as exc:
                    _server_error(exc, tally)
            if self.rnd.random() < P_SYNC:
                try:
                    report = sync_device(store, connect(store, **CLIENT))
                    tally.add("client_syncs")
                    tally.add("requeued", report.resent)
                except Unreachable:
                    tally.add("gave_up")
                except ApiError as exc:
                    _server_error(exc, tally)
        except Exception as exc:  # noqa: BLE001 - reported by the scenario
            tally.error(f"phone {self.index}: {type(exc).__name__}: {exc}")
        finally:
            store.close()

    def drain(self, size: Size, tally: Tally, deadline: float) -> None:
        """Send everything still queued, oldest first, as the client does, until done."""
        store = DeviceStore(self.path)
        try:
            conn = connect(store, **CLIENT)
            while store.queued_count():
                try:
                    push(store, conn, batch_size=size.batch)
                except Unreachable:
                    tally.add("gave_up")
                    if time.monotonic() > deadline:
                        raise
                except ApiError as exc:
                    _server_error(exc, tally)
                    if time.monotonic() > deadline:
                        raise
        except Exception as exc:  # noqa: BLE001
            tally.error(f"phone {self.index} draining: {type(exc).__name__}: {exc}")
        finally:
            store.close()


def _server_error(exc: ApiError, tally: Tally) -> None:
    """A 500 stops the real client's sync (it is not worth retrying); the volunteer taps
    *sync* again, and so does the phone here. The check judges the 500 from the server's log."""
    if exc.status != 500:
        raise exc
    tally.add("server_500")


def _body(store: DeviceStore, sid: str) -> dict:
    row = store.db.execute("SELECT body FROM outbox WHERE id = ?", (sid,)).fetchone()
    return json.loads(row[0])


# --- the world ----------------------------------------------------------------------------


def build_world(url: str, phones: int) -> list[tuple[str, str]]:
    """Org units, the campaign (around today), an admin, hq, and a volunteer and enrolment
    code per phone. Returns (code, ward) per phone."""
    engine = make_engine(url)
    today = date.today()
    try:
        with make_session_factory(engine)() as session:
            for code, parent in PARENTS.items():
                orgunits.create(session, code, f"Unit {code}", parent)
            campaigns.create(
                session, CAMPAIGN, "Chaos", today - timedelta(days=30), today + timedelta(days=30)
            )
            admin = users.create(session, "chaos-admin", "admin")
            users.create(session, "hq-report", "hq", password=HQ_PASSWORD)
            codes = []
            for i in range(phones):
                ward = WARDS[i % len(WARDS)]
                users.create(session, f"tnv-{i}", "volunteer", [ward])
                codes.append((devices.create_code(session, admin, f"tnv-{i}", [ward])[0], ward))
            session.commit()
    finally:
        engine.dispose()
    return codes


METRICS_TOKEN = "chaos-suite-metrics-token-0123456789"


def server_env(url: str, tmp: Path) -> dict[str, str]:
    return {
        "WARDSYNC_METRICS_TOKEN": METRICS_TOKEN,
        "WARDSYNC_DATABASE_URL": url,
        "WARDSYNC_SECRET_KEY": TEST_SECRET,
        "WARDSYNC_INSTANCE_PATH": str(tmp / "server-instance"),
        "WARDSYNC_THREADS": "4",
    }


def worker_pids(master: int) -> list[int]:
    """The gunicorn workers: the master's live children (a killed one not yet reaped is a
    zombie, and not counted)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == master and state != "Z":
            found.append(int(entry))
    return sorted(found)


# --- disruptions, each in a thread beside the phones --------------------------------------


class Disruption:
    """Waits for the proxy to have seen ``at`` pushes, then does its damage; ``done`` tells
    it the phones have finished (it then stops waiting)."""

    def __init__(self, net: ChaosNet, done: threading.Event):
        self.net, self.done = net, done
        self.counts: Counter = Counter()
        self.errors: list[str] = []
        self.notes: list[str] = []

    def pushes_reach(self, at: int) -> bool:
        wait_for(
            lambda: self.done.is_set() or self.net.count("requests:push") >= at,
            timeout=600,
            what=f"{at} pushes through the proxy",
        )
        return not self.done.is_set()

    def run_in_thread(self) -> threading.Thread:
        def target() -> None:
            try:
                self.run()
            except BaseException as exc:  # noqa: BLE001 - reported by the scenario
                self.errors.append(f"{type(self).__name__}: {type(exc).__name__}: {exc}")

        thread = threading.Thread(target=target)
        thread.start()
        return thread

    def run(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class KillWorkers(Disruption):
    """``kill -9`` of a gunicorn worker while a request is in flight, ``times`` times spread
    over the run; each time until the master has replaced it and the server answers."""

    def __init__(self, net, done, server: ServerProcess, times: int, every: int, seed: int):
        super().__init__(net, done)
        self.server, self.times, self.every = server, times, every
        self.random = random.Random(seed)

    def run(self) -> None:
        master = self.server.process.pid
        for n in range(self.times):
            if not self.pushes_reach((n + 1) * self.every):
                return
            with contextlib.suppress(AssertionError):  # with the phones nearly done: kill anyway
                wait_for(lambda: self.net.inflight > 0, timeout=20, what="a request in flight")
            workers = worker_pids(master)
            victim = self.random.choice(workers)
            in_flight = self.net.inflight
            os.kill(victim, signal.SIGKILL)
            self.counts["worker_kills"] += 1
            self.counts["in_flight_at_kills"] += in_flight
            wait_for(
                lambda v=victim: (w := worker_pids(master)) and v not in w
                and len(w) == self.server.workers,
                timeout=120,
                what="gunicorn replacing the killed worker",
            )  # fmt: skip
            wait_for(lambda: _ready(self.server.base), timeout=120, what="the server answering")


class RestartPostgres(Disruption):
    """Stop the private PostgreSQL under load (``pg_ctl -m fast`` or ``immediate``), until the
    server has answered 503s; start it; until a push is answered 200 again."""

    def __init__(self, net, done, cluster, modes: tuple[str, ...], every: int):
        super().__init__(net, done)
        self.cluster, self.modes, self.every = cluster, modes, every

    def run(self) -> None:
        for n, mode in enumerate(self.modes):
            if not self.pushes_reach((n + 1) * self.every):
                return
            unavailable = self.net.count_status(503)
            self.cluster.stop(mode)
            stopped = time.monotonic()
            self.counts["pg_restarts"] += 1
            try:
                wait_for(
                    lambda u=unavailable: (
                        self.net.count_status(503) >= u + 10 or self.done.is_set()
                    ),
                    timeout=120,
                    what="503s while PostgreSQL is down",
                )
            finally:
                self.cluster.start()
                self.cluster.wait_ready()
            self.counts["outage_503s"] += self.net.count_status(503) - unavailable
            answered = self.net.status_count("push", 200)
            wait_for(
                lambda a=answered: self.net.status_count("push", 200) > a or self.done.is_set(),
                timeout=180,
                what="a push answered 200 after the restart",
            )
            self.notes.append(
                f"restart {n + 1} ({mode}): {time.monotonic() - stopped:.1f} s from stop "
                "to the next push stored"
            )


class FillDisk(Disruption):
    """Fill the tmpfs the SQLite database lives on with a filler file, until pushes are
    refused ``refusals`` times; then delete the filler, until a push is stored again."""

    def __init__(self, net, done, server, folder: Path, refusals: int, at: int):
        super().__init__(net, done)
        self.server_base = server.base
        self.folder, self.refusals, self.at = folder, refusals, at
        self.during: Counter = Counter()  # statuses answered while the disk was full

    def run(self) -> None:
        if not self.pushes_reach(self.at):
            return
        filler = self.folder / "filler"
        before = self.net.snapshot().statuses
        # The write-ahead log keeps its size after a checkpoint and is written over from its
        # start: megabytes of commits would fit in it on a full disk. Emptied first (as an
        # operator may, while serving), the next commits must grow it, and meet the full disk.
        _truncate_wal(self.folder / "wardsync.sqlite3")
        try:
            written = _fill(filler)
            self.notes.append(f"filler: {written / 2**20:.1f} MiB, the disk full")
            self.counts["disk_fills"] += 1
            wait_for(
                lambda: (
                    self.done.is_set()
                    or self.net.status_count("push", 503) - before[("push", 503)] >= self.refusals
                ),
                timeout=300,
                what=f"{self.refusals} pushes refused on the full disk",
            )
            self.during = self.net.snapshot().statuses - before
            ready = _status(self.server_base + "/readyz")
            self.notes.append(f"/readyz with the disk full: {ready}")
            if self.done.is_set():
                self.errors.append("the phones finished before the full disk refused them")
        finally:
            filler.unlink(missing_ok=True)
        freed = time.monotonic()
        answered = self.net.status_count("push", 200)
        wait_for(
            lambda: self.net.status_count("push", 200) > answered or self.done.is_set(),
            timeout=180,
            what="a push stored after the disk was freed",
        )
        self.notes.append(
            f"freed: a push stored {time.monotonic() - freed:.1f} s after the filler went"
        )


def _truncate_wal(database: Path) -> None:
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as db:
        wait_for(
            lambda: db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0,
            timeout=120,
            what="a checkpoint that empties the write-ahead log",
        )


def _fill(path: Path) -> int:
    """Write until the file system is full; returns the bytes written."""
    written = 0
    with path.open("wb", buffering=0) as out:
        for chunk in (1 << 20, 1 << 12):
            block = b"\0" * chunk
            while True:
                try:
                    written += out.write(block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    return written


def _ready(base: str) -> bool:
    return _status(base + "/readyz") == 200


def _status(url: str) -> int | str:
    try:
        return requests.get(url, timeout=10).status_code
    except requests.RequestException as exc:
        return type(exc).__name__


def stored_metric(base: str) -> float:
    """``wardsync_submissions_stored_total`` for the campaign, summed over the workers."""
    answer = requests.get(
        base + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=60
    )
    answer.raise_for_status()
    return sum(
        sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
        if sample.name == "wardsync_submissions_stored_total"
        and sample.labels.get("campaign") == CAMPAIGN
    )


# --- a scenario ---------------------------------------------------------------------------


@dataclass
class Outcome:
    name: str
    size: Size
    figures: str
    failures: list[str]
    known_bug_hits: int = 0  # 500s that were KNOWN_BUGS' and nothing else


def run(
    name: str,
    url: str,
    tmp: Path,
    size: Size,
    *,
    disruption=None,
    seed: int = 2026,
) -> Outcome:
    """Build the world on ``url``, serve it, put the phones through the chaos with
    ``disruption(net, done, server)`` beside them, drain, and check everything."""
    started = time.monotonic()
    phases: dict[str, float] = {}

    def phase(name: str, since: list[float] = [started]) -> None:  # noqa: B006 - a clock
        now = time.monotonic()
        phases[name], since[0] = now - since[0], now

    codes = build_world(url, size.phones)
    env = server_env(url, tmp)
    server = ServerProcess(env, tmp / "server.log", workers=size.workers)
    server.start()
    net = ChaosNet(server.port, seed=seed)
    # The phones' own files on a tmpfs where there is one: their fsyncs are not under test,
    # and on a shared disk they cost the run more than the server's work.
    shm = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(prefix="wardsync-phones-", dir=shm if shm.is_dir() else tmp))
    phase("world and server")
    try:
        phones = [
            Phone(i, ward, folder / f"{i}.sqlite3", seed) for i, (_, ward) in enumerate(codes)
        ]

        def enrol(phone: Phone) -> None:
            store = DeviceStore(phone.path)
            try:
                enroll(store, net.base, codes[phone.index][0], f"phone-{phone.index}", **CLIENT)
            finally:
                store.close()

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(enrol, phones))
        phase("enrolment")

        ledger, tally = Ledger(), Tally()
        done = threading.Event()
        net.faults = size.faults
        chaos_start = time.monotonic()
        disturber = disruption(net, done, server) if disruption else None
        disturbing = disturber.run_in_thread() if disturber else None
        order = list(phones)
        random.Random(seed).shuffle(order)
        with ThreadPoolExecutor(size.pool) as pool:
            for n in range(size.sessions):
                # Every phone once, in another order each time: what it left queued goes out
                # again beside new forms, mixed with batches replayed from before.
                random.Random(seed + n).shuffle(order)
                list(pool.map(lambda p: p.session(size, ledger, tally), order))
        done.set()
        if disturbing:
            disturbing.join(timeout=600)
        # The last sends, still through the lossy network (nothing held back any more).
        net.faults = replace(size.faults, stall=0.0)
        deadline = time.monotonic() + 600
        with ThreadPoolExecutor(size.pool) as pool:
            list(pool.map(lambda p: p.drain(size, tally, deadline), phones))
        chaos_wall = time.monotonic() - chaos_start
        phase("sessions and drain")
        net.faults = Faults()
        failures, known = check(name, url, env, server, net, phones, ledger, tally, disturber)
        counted = stored_metric(server.base)
        if counted > len(ledger.valid_ids()):  # fewer is a killed worker's last counts
            failures.append(
                f"wardsync_submissions_stored_total {counted:,.0f} for "
                f"{len(ledger.valid_ids()):,} stored"
            )
        phase("checks")
        books = net.snapshot()
        figures = report(
            name, size, phones, ledger, tally, books, disturber,
            wall=time.monotonic() - started, chaos_wall=chaos_wall, known=known, phases=phases,
            counted=counted,
        )  # fmt: skip
        return Outcome(name, size, figures, failures, known)
    finally:
        net.close()
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def check(name, url, env, server, net, phones, ledger, tally, disturber) -> tuple[list[str], int]:
    """Every check, each failure as a sentence (all are reported, not only the first), and
    how many 500s were the known bug's (``KNOWN_BUGS``) and nothing else."""
    failures: list[str] = []
    failures += [f"phone error: {e}" for e in tally.errors[:20]]
    failures += [f"a resend answered as new: {v}" for v in tally.violations[:20]]
    if disturber:
        failures += disturber.errors
    if tally.counts["requeued"]:
        failures.append(
            f"{tally.counts['requeued']} sent forms queued again: a phone's receipt fell "
            "short of what it sent, with no backup restored"
        )
    books = net.snapshot()

    # Each phone: nothing queued, its rejected forms kept, its receipt equal to its sent log.
    def look(phone: Phone) -> tuple[set[str], list[str]]:
        store = DeviceStore(phone.path)
        wrong = []
        try:
            if store.queued_count():
                wrong.append(f"phone {phone.index}: {store.queued_count()} forms still queued")
            mine = store.sent_ids()
            device = store.device_id
            invalid = {sid for sid in ledger.invalid if ledger.forms[sid][0] == device}
            kept = {item.id for item in store.rejected()}
            if kept != invalid:
                wrong.append(f"phone {phone.index}: rejected {sorted(kept)} != {invalid}")
            receipt = connect(store, **CLIENT).receipt()
            if receipt["accepted"] != len(mine):
                wrong.append(
                    f"phone {phone.index}: the server holds {receipt['accepted']} of its forms, "
                    f"it sent {len(mine)}"
                )
        finally:
            store.close()
        return mine, wrong

    sent: set[str] = set()
    with ThreadPoolExecutor(16) as pool:
        for mine, wrong in pool.map(look, phones):
            sent |= mine
            failures += wrong

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(Submission.id, Submission.received_at, Submission.hlc, Submission.result)
            ).all()
    finally:
        engine.dispose()
    stored = {row.id for row in rows}
    valid = ledger.valid_ids()
    if lost := sent - stored:
        failures.append(f"{len(lost)} acknowledged forms lost, e.g. {sorted(lost)[:3]}")
    if lost := books.answered - stored:
        failures.append(f"{len(lost)} forms a 200 answered (delivered or not) not stored")
    if twice := sorted(sid for sid, n in books.fresh.items() if n > 1):
        failures.append(f"{len(twice)} forms answered as new more than once, e.g. {twice[:3]}")
    if stored != valid:
        failures.append(
            f"stored ids != recorded valid ids: {len(valid - stored)} missing, "
            f"{len(stored - valid)} extra"
        )
    if sent != valid:
        failures.append(f"sent logs != recorded valid ids ({len(sent)} vs {len(valid)})")
    log = Path(server.log_path).read_text(errors="replace")
    known = known_bug_hits(log)
    errors_5xx = {k: n for k, n in books.statuses.items() if k[1] >= 500 and k[1] != 503}
    # The bugs it found are fixed (tests/chaos/test_found_bugs.py): meeting one again is a
    # failure like any other 500, named so it is recognised.
    if known:
        failures.append(f"{known} pushes met a fixed bug again: {KNOWN_BUGS['copy_unique']}")
    if errors_5xx:
        failures.append(f"server errors answered: {errors_5xx}")
    if "Traceback" in log:
        failures.append("a Traceback in the server log")
    if logged := _logged_statuses(log):
        failures.append(f"server errors in the access log: {logged}")
    failures += _compare_with_model(server.base, ledger, rows, stored)

    verify = subprocess.run(
        [WARDSYNC, "verify", "--campaign", CAMPAIGN],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if verify.returncode != 0:
        failures.append(f"wardsync verify: {verify.stdout[-2000:]}{verify.stderr[-2000:]}")
    return failures, known


# Server bugs the suite found, fixed since (regression tests in test_found_bugs.py); kept by
# name so a scenario that meets one again says which.
KNOWN_BUGS = {
    "copy_unique": (
        "PostgreSQL: concurrent first receipts of one submission id (a resend arriving while "
        "the first copy is still being stored) fail in sync.store.bulk.insert_rows' COPY with "
        "psycopg UniqueViolation, which @transaction does not rerun: a 500"
    ),
    "refused_counted": (
        "a push refused at commit (503, nothing stored) is counted in "
        "wardsync_submissions_stored_total and push_items_total{status=applied} and logged "
        "'N applied': note_push records the results before the commit"
    ),
}


def known_bug_hits(log: str) -> int:
    """Unhandled errors in the server log that are the COPY unique violation, when every
    unhandled error is (else 0)."""
    unhandled = [line for line in log.splitlines() if "unhandled error" in line]
    hits = [
        line
        for line in unhandled
        if "psycopg.errors.UniqueViolation" in line and "insert_rows" in line
    ]
    return len(hits) if hits and len(hits) == len(unhandled) else 0


def _logged_statuses(log: str) -> dict[int, int]:
    """5xx other than 503 in the server's JSON access lines."""
    found: Counter = Counter()
    for line in log.splitlines():
        if '"status"' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        status = entry.get("status")
        if isinstance(status, int) and status >= 500 and status != 503:
            found[status] += 1
    return dict(found)


def _compare_with_model(base: str, ledger: Ledger, rows, stored: set[str]) -> list[str]:
    """The server's progress for every unit, totals and days, against the model's count of
    the forms the phones recorded, each at the server's clock when it first arrived.

    That clock is the server's alone: the model takes it from the stored receipt time, and
    for a clamped form from the clamped stamp (the server's clock to the millisecond), after
    checking that stamp lies within a second of the receipt time. Which forms are clamped and
    flagged the model decides itself, and the server's flags must agree.
    """
    failures: list[str] = []
    model = Model(PARENTS)
    suspects, flagged = set(), set()
    for row in sorted(rows, key=lambda r: (r.received_at, r.id)):
        if row.id not in ledger.forms or row.id in ledger.invalid:
            continue
        device, body = ledger.forms[row.id]
        server_ms = epoch_ms(row.received_at)
        wall, sent_wall = int(row.hlc.split(":")[0]), int(body["hlc"].split(":")[0])
        if wall != sent_wall:
            if not server_ms - 1000 <= wall <= server_ms + 1:
                failures.append(f"{row.id}: clamped to {wall}, received at {server_ms}")
            server_ms = wall
        answer = model.push(device, [body], server_ms, flags=False)[0]
        if "clock_suspect" in answer.flags:
            suspects.add(row.id)
        if "clock_suspect" in (row.result or {}).get("flags", []):
            flagged.add(row.id)
    if suspects != flagged:
        failures.append(
            f"clock_suspect: the model {len(suspects)}, the server {len(flagged)} "
            f"(differing: {sorted(suspects ^ flagged)[:3]})"
        )
    login = requests.post(
        f"{base}/api/v1/auth/login",
        json={"username": "hq-report", "password": HQ_PASSWORD},
        timeout=60,
    )
    hq = {"Authorization": f"Bearer {login.json()['access_token']}"}
    for unit in PARENTS:
        answer = requests.get(
            f"{base}/api/v1/progress",
            params={"campaign": CAMPAIGN, "org_unit": unit, "daily": "1"},
            headers=hq,
            timeout=60,
        )
        if answer.status_code != 200:
            failures.append(f"progress {unit}: {answer.status_code} {answer.text[:200]}")
            continue
        body = answer.json()
        totals = {name: entry["value"] for name, entry in body["totals"].items()}
        expected = {
            k: float(e["value"]) if k == "volunteer_hours" else e["value"]
            for k, e in model.totals(unit).items()
        }
        if totals != expected:
            differ = {k: (totals.get(k), expected.get(k)) for k in expected
                      if totals.get(k) != expected.get(k)}  # fmt: skip
            failures.append(f"progress {unit} (server, model): {differ}")
        daily = {
            (row["date"], metric): row[metric]
            for row in body["daily"]
            for metric in row
            if metric not in ("date", "open_conflicts") and row[metric]
        }
        want = {k: float(v) if k[1] == "volunteer_hours" else v
                for k, v in model.daily(unit).items()}  # fmt: skip
        if daily != want:
            failures.append(f"daily progress {unit} differs from the model")
    return failures


# --- the figures --------------------------------------------------------------------------


def report(
    name,
    size,
    phones,
    ledger,
    tally,
    books,
    disturber,
    *,
    wall,
    chaos_wall,
    known,
    phases,
    counted,
) -> str:
    c, e = tally.counts, books.events
    d = disturber.counts if disturber else Counter()
    statuses = ", ".join(
        f"{kind} {status}: {n:,}" for (kind, status), n in sorted(books.statuses.items())
    )
    valid = len(ledger.valid_ids())
    lines = [
        f"phones              {len(phones)} ({size.pool} online at once, "
        f"{size.workers} gunicorn workers x 4 threads)",
        f"clock jumps         {c['clock_ahead']} phones a day ahead, {c['clock_back']} 5 h back",
        f"forms recorded      {len(ledger.forms):,} ({valid:,} valid, {len(ledger.invalid)} "
        "invalid, kept on the phones)",
        f"requests            {e['requests']:,} through the proxy ({e['requests:push']:,} pushes, "
        f"{e['requests:pull']:,} pulls, {e['requests:receipt']:,} receipts, "
        f"{e['requests:refresh']:,} refreshes)",
        f"responses dropped   {e['lost']:,} after the server answered, {e['truncated']:,} cut "
        f"in half, {e['no_answer']:,} never answered (worker killed, server down); "
        f"{books.acknowledged_lost:,} were 200s to pushes",
        f"network faults      {e['reset']:,} connections reset mid-request, {e['delayed']:,} "
        f"delayed, {e['stalled']:,} held until the phone gave up",
        f"resends             {e['duplicate_results']:,} forms answered duplicate; "
        f"{c['pushes']:,} phone pushes ({c['out_of_order']:,} out of recorded "
        f"order), {c['replays']:,} old batches replayed ({c['replayed_forms']:,} forms), "
        f"{c['forgotten']:,} answers the phone died before writing down, {c['gave_up']:,} "
        f"sends given up after every retry, {c['client_syncs']:,} client syncs",
        f"statuses seen       {statuses}",
        f"server errors       {c['server_500']} 500s met by phones"
        + (f", {known} of them a fixed bug again: {KNOWN_BUGS['copy_unique']}" if known else ""),
        f"metrics             wardsync_submissions_stored_total {counted:,.0f} for {valid:,} "
        "stored (never more; fewer where a killed worker's last counts died with it)",
        f"worker kills        {d['worker_kills']} (requests in flight at the kills: "
        f"{d['in_flight_at_kills']})",
        f"PostgreSQL restarts {d['pg_restarts']} ({d['outage_503s']} answers 503 while it was "
        "down)",
        f"disk-full refusals  {_refusals(disturber)}",
    ]
    if disturber:
        lines += [f"                    {note}" for note in disturber.notes]
    lines += [
        f"wall time           {wall:.1f} s in all, {chaos_wall:.1f} s from the first push "
        "to the last form stored",
        f"forms/s             {valid / chaos_wall:.1f} valid forms stored per second of that",
        "phases              " + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()),
    ]
    wrapped = [
        textwrap.fill(line, 100, subsequent_indent=" " * 20, break_on_hyphens=False)
        for line in lines
    ]
    return "\n".join([f" chaos: {name} ".center(100, "="), *wrapped, "=" * 100])


def _refusals(disturber) -> str:
    if not isinstance(disturber, FillDisk) or not disturber.during:
        return "0"
    during = disturber.during
    shown = ", ".join(f"{k} {s}: {n}" for (k, s), n in sorted(during.items()))
    return f"{during[('push', 503)]} pushes answered 503 while full (all answers then: {shown})"


# --- helpers for the tests ----------------------------------------------------------------


def sqlite_on(folder: Path) -> str:
    return f"sqlite:///{folder / 'wardsync.sqlite3'}"
