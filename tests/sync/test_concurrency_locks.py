"""Concurrency on PostgreSQL: parallel pushes neither lose updates nor deadlock, and the pull
cursor never skips a change when transactions commit out of the order they started in."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import select

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


def test_cursor_never_skips_a_change_committed_out_of_start_order(
    postgres_only, engine, field_setup
):
    """A writer that started later commits first, without waiting for the earlier one; a
    reader between the two commits is shown neither (the earlier writer could still commit
    below it), and afterwards both, nothing skipped."""
    factory = make_session_factory(engine)
    scope = Scope(everything=True)
    with factory() as reader:
        cursor = feed.read(reader, scope, None, 1000).next_cursor

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
        page = feed.read(reader, scope, cursor, 1000)
        assert [e.key for e in page.entries] == []  # W-late waits behind the running writer
        assert page.next_cursor == cursor
    early.commit()
    early.close()

    with factory() as reader:
        page = feed.read(reader, scope, cursor, 1000)
        keys = [e.key for e in page.entries]
        again = feed.read(reader, scope, page.next_cursor, 1000)
    assert keys == ["W-early", "W-late"]
    assert again.entries == []


def test_a_reader_between_two_commits_sees_a_prefix(postgres_only, engine, field_setup):
    """A transaction that has begun but written nothing holds nobody back: it has no id yet,
    and the one it gets when it writes is later than every id before."""
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
        mid = feed.read(reader, scope, start.next_cursor, 1000)
    orgunits.create(first, "W-first", "Commits last", "P")
    first.commit()
    first.close()
    with factory() as reader:
        rest = feed.read(reader, scope, mid.next_cursor, 1000)
    assert [e.key for e in mid.entries] == ["W-second"]
    assert [e.key for e in rest.entries] == ["W-first"]
