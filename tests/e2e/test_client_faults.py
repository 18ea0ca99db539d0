"""Every retry path of the real client (``wardsync_client``) against a real ``wardsync serve``
behind a proxy that injects the faults phones meet: 429/503 with Retry-After (seconds or a
date), 502, 504 after the server committed, connections cut before forwarding, answers lost or
cut halfway, and a body limit that makes the client halve its batch.

Each test ends with what a volunteer would check: every form stored exactly once, the outbox
empty (or holding only what was refused, with the reason).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from kit.fault_proxy import CUT, LOSE, TRUNCATE, Fault, FaultProxy
from sqlalchemy import func, select
from wardsync_client import DeviceStore, Unreachable, connect, enroll, sync_device
from wardsync_client import sync as client_sync

from sync.accounts import devices
from sync.models import Submission, User

PUSH, PULL = "/api/v1/sync/push", "/api/v1/sync/pull"
QUICK = {"attempts": 4, "base_delay": 0.05, "max_delay": 0.2, "timeout": 30}


@pytest.fixture
def faults(live_server):
    proxy = FaultProxy(live_server.port)
    yield proxy
    proxy.close()


@pytest.fixture
def phone(world, session, faults, tmp_path):
    admin = session.scalar(select(User).where(User.username == "admin"))
    code, _ = devices.create_code(session, admin, "vol-w1", ["W1"])
    session.commit()
    session.close()
    store = DeviceStore(tmp_path / "phone.sqlite3")
    enroll(store, faults.base, code, "phone")
    yield store
    store.close()


def _record(store: DeviceStore, n: int, note: str = "nhà số") -> list[str]:
    return [
        store.record(
            "household_help",
            "camp",
            "W1",
            {
                "household_id": f"00000000-0000-4000-8000-{i:012d}",
                "kind": "cleanup",
                "note": f"{note} {i}",
            },
        )
        for i in range(n)
    ]


def _stored(engine, ids: list[str]) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(select(Submission.id).where(Submission.id.in_(ids))).scalars()
        return sorted(rows)


def _count(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Submission))


def _gaps(seen) -> list[float]:
    return [b.at - a.at for a, b in zip(seen, seen[1:], strict=False)]


def _delivered(phone, engine, ids) -> None:
    assert phone.queued_count() == 0
    assert phone.sent_ids() == set(ids)
    assert _stored(engine, ids) == sorted(ids) and _count(engine) == len(ids)


def test_429_and_503_wait_as_long_as_retry_after_asks(phone, faults, engine):
    ids = _record(phone, 3)
    faults.plan(PUSH, Fault.answer(429, "1"), Fault.answer(503, "2"))
    report = sync_device(phone, connect(phone, **QUICK))
    assert report.sent == {"applied": 3}
    pushes = faults.requests_to(PUSH)
    assert [s.action for s in pushes] == ["answer", "answer", "pass"]
    # Backoff alone would wait at most 0.1 s; the gateway asked for 1 s, then 2 s.
    first, second = _gaps(pushes)
    assert first >= 1.0 and second >= 2.0
    _delivered(phone, engine, ids)


def test_retry_after_given_as_a_date_is_honoured(phone, faults, engine):
    ids = _record(phone, 1)
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)
    faults.plan(PUSH, Fault.answer(429, when))
    sync_device(phone, connect(phone, **QUICK))
    [gap] = _gaps(faults.requests_to(PUSH))
    assert gap >= 1.5  # the date has whole seconds: at least two of the three remain
    _delivered(phone, engine, ids)


def test_502_and_a_connection_cut_before_forwarding_are_retried(phone, faults, engine):
    ids = _record(phone, 5)
    faults.plan(PUSH, Fault.answer(502), CUT, Fault.answer(502))
    report = sync_device(phone, connect(phone, **QUICK))
    assert report.sent == {"applied": 5}
    assert [s.action for s in faults.requests_to(PUSH)] == ["answer", "cut", "answer", "pass"]
    _delivered(phone, engine, ids)


@pytest.mark.parametrize(
    "fault", [Fault.after(504), LOSE, TRUNCATE], ids=["504 after commit", "lost", "cut halfway"]
)
def test_an_answer_lost_after_the_server_committed_is_resent_once(phone, faults, engine, fault):
    ids = _record(phone, 4)
    faults.plan(PUSH, fault)
    report = sync_device(phone, connect(phone, **QUICK))
    # The first push was stored; its answer never arrived; the resend is told "duplicate".
    assert report.sent == {"duplicate": 4}
    assert [s.action for s in faults.requests_to(PUSH)] == [fault.kind, "pass"]
    _delivered(phone, engine, ids)


def test_413_halves_the_batch_until_it_fits(phone, faults, engine):
    ids = _record(phone, 40, note="x" * 300)
    faults.max_body = 6_000  # about ten of these forms
    report = sync_device(phone, connect(phone, **QUICK))
    pushes = faults.requests_to(PUSH)
    refused = [s for s in pushes if s.action == "answer"]
    passed = [s for s in pushes if s.action == "pass"]
    assert refused and all(s.length > 6_000 for s in refused)
    assert all(s.length <= 6_000 for s in passed) and len(passed) == report.batches
    assert sorted(s.length for s in refused)[0] < 2 * 6_000  # it halved, not gave up
    assert report.sent == {"applied": 40}
    _delivered(phone, engine, ids)


def test_a_form_too_big_for_any_batch_is_kept_with_the_reason(phone, faults, engine):
    small = _record(phone, 2)
    big = phone.record(
        "household_help",
        "camp",
        "W1",
        {
            "household_id": "00000000-0000-4000-8000-0000000000ff",
            "kind": "other",
            "note": "y" * 500,
        },
    )
    faults.max_body = 600  # a small form fits (about 350 bytes); the big one never does
    report = sync_device(phone, connect(phone, **QUICK))
    assert report.sent == {"applied": 2, "rejected": 1}
    [kept] = phone.rejected()
    assert kept.id == big and "413" in str(kept.errors)
    assert _stored(engine, [*small, big]) == sorted(small)


def test_after_every_attempt_fails_the_outbox_is_intact_and_the_next_sync_delivers(
    phone, faults, engine
):
    ids = _record(phone, 3)
    faults.plan(PUSH, *[Fault.answer(502)] * QUICK["attempts"])
    with pytest.raises(Unreachable):
        client_sync.push(phone, connect(phone, **QUICK))
    assert phone.queued_count() == 3 and _count(engine) == 0
    sync_device(phone, connect(phone, **QUICK))
    _delivered(phone, engine, ids)


def test_pull_retries_through_the_same_faults(phone, faults, engine):
    _record(phone, 2)
    sync_device(phone, connect(phone, **QUICK))
    phone.forget_pulled()
    faults.plan(PULL, Fault.answer(429, "1"), Fault.after(504), TRUNCATE)
    report = client_sync.pull(phone, connect(phone, **QUICK))
    assert [s.action for s in faults.requests_to(PULL)][-4:] == [
        "answer",
        "after",
        "truncate",
        "pass",
    ]
    assert report.pulled > 0 and len(phone.pulled("household")) == 2
