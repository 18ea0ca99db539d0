"""Concurrency on PostgreSQL: parallel pushes neither lose updates nor deadlock, and the pull
cursor never skips a change when transactions commit out of the order they started in."""

from __future__ import annotations

import random
import threading
import uuid

import pytest
from kit.live import wait_for
from sqlalchemy import func, select, text

from sync.accounts.scope import Scope
from sync.admin import orgunits
from sync.db import make_session_factory
from sync.feed import journal
from sync.models import ActivationRecord, Counter
from sync.progress.verify import verify
from sync.push.pipeline import push

NOW_MS = 1_690_700_000_000


@pytest.fixture
def postgres_only(backend):
    if backend != "postgresql":
        pytest.skip("SQLite has a single writer: there is no race to show")


def _activation(citizen: str, status: str, minute: int, note: str) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "form": "activation",
        "form_version": 1,
        "campaign": "camp",
        "org_unit": "W1",
        "recorded_at": f"2023-07-29T09:{minute:02d}:00+07:00",
        "hlc": f"{1_690_600_000_000 + minute * 60_000}:{minute}",
        "data": {"citizen_id": citizen, "status": status, "note": note},
    }


def test_parallel_batches_on_the_same_records(postgres_only, engine, field_setup, citizen_key):
    citizens = [f"0791000000{i:02d}" for i in range(20)]
    statuses = ["visited", "no_smartphone", "installed", "activated"]
    batches = [
        [
            _activation(c, statuses[(t + i) % 4], t * 5 + i % 5, f"t{t}")
            for i, c in enumerate(citizens)
        ]
        for t in range(8)
    ]
    factory = make_session_factory(engine)
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            with factory() as session:
                device = field_setup.devices[index % 2]
                push(
                    session,
                    device,
                    list(reversed(batches[index])) if index % 2 else batches[index],
                    citizen_key=citizen_key,
                    now_ms=NOW_MS,
                )
                session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []

    with factory() as session:
        records = session.scalars(select(ActivationRecord)).all()
        assert len(records) == len(citizens)
        # No lost update: every record saw all eight submissions about it.
        assert {r.version for r in records} == {len(batches)}
        assert all(r.state["rung"] == 4 for r in records)  # each citizen was activated once
        activated = session.scalar(
            select(Counter.value).where(Counter.metric == "accounts_activated")
        )
        assert activated == len(citizens)
        assert verify(session) == []


def _blocked(engine) -> int:
    """Backends of this database waiting on a lock (pg_blocking_pids names their blockers)."""
    with engine.connect() as conn:
        return conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND cardinality(pg_blocking_pids(pid)) > 0"
            )
        )


def test_cursor_never_skips_a_change_committed_out_of_start_order(
    postgres_only, engine, field_setup
):
    """A writer that started later commits first, without waiting for the earlier one; a
    reader between the two commits is shown neither (the earlier writer could still commit
    below it), and afterwards both, nothing skipped."""
    factory = make_session_factory(engine)
    scope = Scope(everything=True)
    with factory() as reader:
        cursor = journal.read(reader, scope, None, 1000).next_cursor

    early = factory()  # starts first, commits last
    orgunits.create(early, "W-early", "Started first", "P")
    early.flush()

    late_done = threading.Event()

    def late_writer():
        with factory() as late:
            orgunits.create(late, "W-late", "Started second", "P")
            late.commit()
        late_done.set()

    thread = threading.Thread(target=late_writer)
    thread.start()
    assert late_done.wait(timeout=10)  # no feed clock to wait on any more
    thread.join(timeout=10)
    with factory() as reader:
        page = journal.read(reader, scope, cursor, 1000)
        assert [e.key for e in page.entries] == []  # W-late waits behind the running writer
        assert page.next_cursor == cursor
    early.commit()
    early.close()

    with factory() as reader:
        page = journal.read(reader, scope, cursor, 1000)
        keys = [e.key for e in page.entries]
        again = journal.read(reader, scope, page.next_cursor, 1000)
    assert keys == ["W-early", "W-late"]
    assert again.entries == []


def test_a_reader_between_two_commits_sees_a_prefix(postgres_only, engine, field_setup):
    """A transaction that has begun but written nothing holds nobody back: it has no id yet,
    and the one it gets when it writes is later than every id before."""
    factory = make_session_factory(engine)
    scope = Scope(everything=True)
    with factory() as reader:
        start = journal.read(reader, scope, None, 1000)
    first = factory()
    first.execute(select(1))  # begun, nothing allocated yet
    with factory() as second:
        orgunits.create(second, "W-second", "Commits first", "P")
        second.commit()
    with factory() as reader:
        mid = journal.read(reader, scope, start.next_cursor, 1000)
    orgunits.create(first, "W-first", "Commits last", "P")
    first.commit()
    first.close()
    with factory() as reader:
        rest = journal.read(reader, scope, mid.next_cursor, 1000)
    assert [e.key for e in mid.entries] == ["W-second"]
    assert [e.key for e in rest.entries] == ["W-first"]


def _help(household: str, minute: int, unit: str = "W1") -> dict:
    return {
        "id": str(uuid.uuid4()),
        "form": "household_help",
        "form_version": 1,
        "campaign": "camp",
        "org_unit": unit,
        "recorded_at": f"2023-07-29T09:{minute:02d}:00+07:00",
        "hlc": f"{1_690_600_000_000 + minute * 60_000}:{minute}",
        "data": {"household_id": household, "kind": "cleanup", "hours": 1},
    }


def _gift(household: str, minute: int, unit: str = "W1") -> dict:
    item = _help(household, minute, unit)
    item["form"] = "gift"
    item["data"] = {"household_id": household, "gift_kind": "rice", "round": "2023-tet"}
    return item


def _void(target: str, minute: int, unit: str = "W1") -> dict:
    item = _help(str(uuid.uuid4()), minute, unit)
    item["form"] = "void"
    item["data"] = {"target": target, "reason": "twice"}
    return item


def _in_thread(work) -> tuple[threading.Thread, threading.Event, list]:
    done, errors = threading.Event(), []

    def run():
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        done.set()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, done, errors


def test_a_held_ward_holds_back_only_its_own_records(
    postgres_only, engine, field_setup, citizen_key
):
    """A push in W1 is left open, holding its citizen's and household's keys and its counter
    rows (the ward's, and the province's above both wards). Meanwhile a push to W2 and a push
    to other W1 citizens finish; only a push on the held citizen waits, and then goes through."""
    factory = make_session_factory(engine)
    dev_a, dev_b = field_setup.devices
    held_citizen, household = "079100000099", str(uuid.uuid4())

    def push_and_commit(device, items):
        with factory() as session:
            push(session, device, items, citizen_key=citizen_key, now_ms=NOW_MS)
            session.commit()

    third = factory()
    push(
        third,
        dev_a,
        [_activation(held_citizen, "installed", 1, "held"), _help(household, 2)],
        citizen_key=citizen_key,
        now_ms=NOW_MS,
    )  # not committed: every lock it took is still held

    other_ward = [
        _help(str(uuid.uuid4()), 3, "W2"),
        _activation("079200000001", "activated", 3, ""),
    ]
    other_ward[1]["org_unit"] = "W2"
    for items in (
        other_ward,
        [_activation("079100000001", "activated", 4, ""), _gift(str(uuid.uuid4()), 4)],
    ):
        thread, done, errors = _in_thread(lambda items=items: push_and_commit(dev_b, items))
        assert done.wait(timeout=20), "a push on other keys waited for the open transaction"
        thread.join(timeout=5)
        assert errors == []

    same = [_activation(held_citizen, "activated", 5, "later"), _help(household, 5)]
    thread, done, errors = _in_thread(lambda: push_and_commit(dev_b, same))
    wait_for(lambda: _blocked(engine), timeout=30, what="the push to wait on the held lock")
    assert not done.is_set()  # the held citizen's record is locked
    third.commit()
    third.close()
    assert done.wait(timeout=20)
    thread.join(timeout=5)
    assert errors == []
    with factory() as session:
        record = session.scalars(
            select(ActivationRecord).where(ActivationRecord.version == 2)
        ).one()
        assert record.state["rung"] == 4
        assert verify(session) == []


def test_concurrent_gifts_voids_and_helps_on_shared_households_converge(
    postgres_only, engine, field_setup, citizen_key
):
    """Gifts on the same households, voids sent before and after their targets, and help
    events, pushed by eight writers at once in two wards: no deadlock, and the counts are
    those of the same submissions pushed one after another."""
    households = [str(uuid.uuid4()) for _ in range(4)]
    gifts = [_gift(households[n % 4], n, "W1" if n % 2 else "W2") for n in range(24)]
    voids = [_void(g["id"], 30 + n, g["org_unit"]) for n, g in enumerate(gifts[::3])]
    helps = [_help(households[n % 4], 40 + n, "W1" if n % 3 else "W2") for n in range(16)]
    everything = gifts + voids + helps
    rnd = random.Random(11)
    rnd.shuffle(everything)
    batches = [everything[n::8] for n in range(8)]
    factory = make_session_factory(engine)
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        for attempt in range(5):  # a deadlock the database broke is retried, as the API does
            try:
                with factory() as session:
                    push(
                        session,
                        field_setup.devices[index % 2],
                        batches[index],
                        citizen_key=citizen_key,
                        now_ms=NOW_MS,
                    )
                    session.commit()
                return
            except Exception as exc:  # noqa: BLE001
                if attempt == 4:
                    errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with factory() as session:
        assert verify(session) == []
        totals = dict(
            session.execute(
                select(Counter.metric, func.sum(Counter.value)).group_by(Counter.metric)
            ).all()
        )
    voided = {v["data"]["target"] for v in voids}
    live = [g for g in gifts if g["id"] not in voided]
    counted_keys = {g["data"]["household_id"] for g in live}
    assert totals.get("gifts_delivered", 0) == len(counted_keys)  # one per key counts
    assert totals.get("suspected_doubles", 0) == len(live) - len(counted_keys)
    assert totals.get("help_events", 0) == len(helps)
    assert totals.get("households_helped", 0) == len({h["data"]["household_id"] for h in helps})
