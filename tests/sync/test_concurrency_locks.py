"""Concurrency on PostgreSQL: parallel pushes neither lose updates nor deadlock, and the pull
cursor never skips a change when transactions commit out of the order they started in."""

from __future__ import annotations

import threading
import uuid

import pytest
from live_kit import wait_for
from sqlalchemy import select, text

from sync import feed, orgunits
from sync.db import make_session_factory
from sync.ingest import push
from sync.models import ActivationRecord, Counter
from sync.scope import Scope
from sync.verify import verify

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
    factory = make_session_factory(engine)
    scope = Scope(everything=True)
    with factory() as reader:
        start = feed.read(reader, scope, None, 1000)
        cursor = feed.encode_cursor(start.epoch, start.next_seq)

    early = factory()  # starts first, commits last
    orgunits.create(early, "W-early", "Started first", "P")  # holds the feed clock until commit

    late_done = threading.Event()

    def late_writer():
        with factory() as late:
            orgunits.create(late, "W-late", "Started second", "P")
            late.commit()
        late_done.set()

    thread = threading.Thread(target=late_writer)
    thread.start()
    # The late transaction waits for the early one's sequence numbers to commit first:
    # PostgreSQL shows it blocked on the lock the early one holds.
    wait_for(lambda: _blocked(engine), timeout=30, what="the late writer to wait on a lock")
    assert not late_done.is_set()
    with factory() as reader:
        page = feed.read(reader, scope, cursor, 1000)
        assert [e.key for e in page.entries] == []  # nothing committed yet: nothing to skip
    early.commit()
    early.close()
    thread.join(timeout=10)
    assert late_done.is_set()

    with factory() as reader:
        page = feed.read(reader, scope, cursor, 1000)
        keys = [e.key for e in page.entries]
    assert keys == ["W-early", "W-late"]


def test_a_reader_between_two_commits_sees_a_prefix(postgres_only, engine, field_setup):
    """A transaction that started earlier but allocates later gets the later number."""
    factory = make_session_factory(engine)
    scope = Scope(everything=True)
    with factory() as reader:
        start = feed.read(reader, scope, None, 1000)
    first = factory()
    first.execute(select(1))  # begun, nothing allocated yet
    with factory() as second:
        orgunits.create(second, "W-second", "Commits first", "P")
        second.commit()
    with factory() as reader:
        mid = feed.read(reader, scope, feed.encode_cursor(start.epoch, start.next_seq), 1000)
    orgunits.create(first, "W-first", "Commits last", "P")
    first.commit()
    first.close()
    with factory() as reader:
        rest = feed.read(reader, scope, feed.encode_cursor(mid.epoch, mid.next_seq), 1000)
    assert [e.key for e in mid.entries] == ["W-second"]
    assert [e.key for e in rest.entries] == ["W-first"]
