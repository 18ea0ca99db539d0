"""The phone's local store on its own: what a volunteer's phone keeps, and in what order."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta, timezone

import pytest
from wardsync_client import DeviceStore
from wardsync_client.clock import parse

VN = timezone(timedelta(hours=7))


@pytest.fixture
def store(tmp_path):
    store = DeviceStore(tmp_path / "phone" / "device.sqlite3")
    store.set(device_id="dev1", server="http://server")
    yield store
    store.close()


def _help(store, at, n=0):
    data = {"household_id": f"00000000-0000-4000-8000-{n:012d}", "kind": "cleanup"}
    return store.record("household_help", "camp", "W1", data, recorded_at=at)


def test_the_store_is_readable_by_its_owner_only(store):
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_recording_needs_an_enrolled_device_and_a_time_zone(tmp_path, store):
    blank = DeviceStore(tmp_path / "blank.sqlite3")
    with pytest.raises(RuntimeError, match="not enrolled"):
        _help(blank, datetime.now(VN))
    with pytest.raises(ValueError, match="time zone"):
        _help(store, datetime(2023, 7, 29, 9, 0))
    assert blank.queued_count() == store.queued_count() == 0


def test_clocks_never_go_backwards_even_when_the_phone_clock_does(store):
    late = datetime(2023, 7, 29, 9, 0, tzinfo=VN)
    ids = [_help(store, late), _help(store, late - timedelta(hours=2))]
    bodies = [item.body for item in store.next_batch(10, 1 << 20)]
    assert [b["id"] for b in bodies] == ids
    first, second = (parse(b["hlc"]) for b in bodies)
    assert second > first and second[0] == first[0]  # same wall time, a later counter
    assert bodies[1]["recorded_at"] == (late - timedelta(hours=2)).isoformat()

    # After a sync, forms recorded next order after what the server reported.
    store.observe_server_clock(f"{first[0] + 60_000}:4:server")
    _help(store, late)
    third = parse(store.next_batch(10, 1 << 20)[-1].body["hlc"])
    assert third == (first[0] + 60_000, 5)


def test_settling_a_batch_drops_stored_forms_and_keeps_rejected_ones(store):
    at = datetime(2023, 7, 29, 9, 0, tzinfo=VN)
    ids = [_help(store, at, n) for n in range(4)]
    batch = store.next_batch(10, 1 << 20)
    results = [
        {"id": ids[0], "status": "applied"},
        {"id": ids[1], "status": "duplicate", "original_status": "conflict", "conflict_id": "c"},
        {"id": ids[2], "status": "rejected", "errors": {"data.kind": ["Not a kind."]}},
        {"id": ids[3], "status": "conflict", "flags": ["suspected_double"]},
    ]
    store.settle(batch, results, "2023-07-29T10:00:00+00:00")
    assert store.queued_count() == 0
    assert [(r.id, r.errors) for r in store.rejected()] == [
        (ids[2], {"data.kind": ["Not a kind."]})
    ]
    assert store.sent_counts() == {"applied": 1, "conflict": 2}
    assert store.next_batch(10, 1 << 20) == []
    with pytest.raises(ValueError):  # an answer that does not match the batch settles nothing
        store.settle(store.next_batch(10, 1 << 20), results[:1], "now")
    assert store.discard(ids[2]) and not store.discard(ids[0])
    assert store.rejected() == []


def test_batches_stay_under_the_byte_limit_but_always_hold_one_form(store):
    at = datetime(2023, 7, 29, 9, 0, tzinfo=VN)
    for n in range(5):
        _help(store, at, n)
    size = len(json.dumps(store.next_batch(1, 1 << 20)[0].body, ensure_ascii=False).encode())
    assert len(store.next_batch(10, 2 * size + 10)) == 2
    assert len(store.next_batch(10, 10)) == 1


def test_a_pulled_page_and_its_cursor_are_stored_together(store):
    put = {"entity": "household", "id": "h1", "op": "put", "version": 2, "data": {"address": "A"}}
    store.store_page({"changes": [put], "next_cursor": "c1", "has_more": False})
    assert store.cursor == "c1" and store.pulled("household") == {
        "h1": {"version": 2, "address": "A"}
    }
    with pytest.raises(KeyError):  # a malformed page changes nothing, not even the cursor
        store.store_page({"changes": [{"entity": "household", "id": "h2", "op": "put"}, {}]})
    assert store.cursor == "c1" and set(store.pulled("household")) == {"h1"}
    gone = {"entity": "household", "id": "h1", "op": "delete"}
    store.store_page({"changes": [gone], "next_cursor": "c2"})
    assert store.pulled("household") == {}
    store.store_page({"changes": [put], "next_cursor": "c3"})
    fresh = {**put, "id": "h9"}
    store.store_page({"changes": [fresh], "next_cursor": "c4", "reset": True})
    assert set(store.pulled("household")) == {"h9"} and store.cursor == "c4"


def _send(store, status="applied", synced_at="2026-12-03T10:00:00+00:00"):
    batch = store.next_batch(100, 10**6)
    results = [{"id": item.id, "status": status, "original_status": "applied"} for item in batch]
    store.settle(batch, results, synced_at)
    return [item.id for item in batch]


def test_a_receipt_that_falls_short_queues_the_kept_forms_again_once(store):
    at = datetime(2023, 7, 29, 9, 0, tzinfo=VN)
    for n in range(3):
        _help(store, at, n)
    sent = _send(store)
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    assert store.requeue_if_short(3, now=now) == 0  # the server has all three
    assert store.queued_count() == 0

    # The server was restored and holds one: all three go again, as they were recorded.
    assert store.requeue_if_short(1, now=now) == 3
    again = store.next_batch(100, 10**6)
    assert [item.id for item in again] == sent
    assert [item.body["data"]["household_id"][-1] for item in again] == ["0", "1", "2"]
    # One of them was another phone's first, so it is stored under that phone: the receipt
    # says two of three. That is new, so they go once more; the same figures again are not
    # chased (a shortfall resending cannot close costs one resend, not one per sync).
    _send(store, status="duplicate")
    assert store.requeue_if_short(2, now=now) == 3
    _send(store, status="duplicate")
    assert store.requeue_if_short(2, now=now) == 0 and store.queued_count() == 0
    assert store.sent_ids() == set(sent)


def test_sent_content_is_dropped_after_a_week(store):
    _help(store, datetime(2023, 7, 29, 9, 0, tzinfo=VN))
    _send(store, synced_at="2026-12-03T10:00:00+00:00")
    later = datetime(2026, 12, 10, 10, 0, 1, tzinfo=UTC)
    assert store.requeue_if_short(0, now=later) == 0  # nothing kept to send
    assert store.db.execute("SELECT count(*) FROM sent WHERE body IS NOT NULL").fetchone()[0] == 0
    assert len(store.sent_ids()) == 1  # the receipt of it stays
