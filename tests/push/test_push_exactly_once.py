"""Each submission is stored and counted exactly once; bad items are refused one by one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from kit.enrol import enroll_phone
from push_kit import (
    AT,
    activation,
    assert_verified,
    counters,
    gift,
    household_help,
    new_id,
    read,
    record,
    results,
    statuses,
    stored,
    submission_count,
    totals,
    void,
)
from sqlalchemy import JSON, String, Text, select

from sync.models import Base

CITIZEN = "079123456789"
MASKED = "*********789"


def mixed_batch() -> list[dict]:
    """What one phone brings back from an afternoon: visits, help, gifts, a void."""
    home_a, home_b, home_c = new_id(), new_id(), new_id()
    help_a = household_help(
        home_a, minute=1, data={"volunteers": 2, "hours": 1.5, "household_address": "12 Ngõ 4"}
    )
    gift_b = gift(home_b, minute=2, data={"count": 2, "value_vnd": 500_000})
    gift_c = gift(home_c, minute=3, data={"value_vnd": 300_000})
    return [
        activation(CITIZEN, "installed", minute=0, data={"household_id": home_a}),
        activation("079100000002", "activated", minute=0, data={"phone_owner": "family"}),
        activation("079100000003", "no_smartphone", minute=4, data={"note": "call back"}),
        help_a,
        gift_b,
        gift_c,
        void(gift_c["id"], minute=5),
        activation(CITIZEN, "activated", minute=6),
        gift(home_b, minute=7, data={"value_vnd": 250_000}),  # the same gift again: a double
    ]


EXPECTED_TOTALS = {
    "citizens_reached": 3,
    "accounts_installed": 2,
    "accounts_activated": 2,
    "no_smartphone": 1,
    "help_events": 1,
    "households_helped": 1,
    "volunteer_hours": 300,
    "gifts_delivered": 2,
    "gift_value_vnd": 500_000,
    "suspected_doubles": 1,
}


def test_a_mixed_batch_resent_three_times_changes_nothing(phone, session):
    batch = mixed_batch()
    first = results(phone.push(batch))
    assert [r["status"] for r in first] == ["applied"] * 8 + ["conflict"]
    assert first[8]["flags"] == ["suspected_double"]
    assert [r["id"] for r in first] == [item["id"] for item in batch]
    assert first[0]["record_id"] == first[7]["record_id"]
    assert (first[0]["record_version"], first[7]["record_version"]) == (1, 2)
    assert totals(session) == EXPECTED_TOTALS
    before = counters(session)
    rows = submission_count(session)
    assert rows == len(batch)
    version = record(session, first[0]["record_id"]).version

    for _ in range(3):
        again = results(phone.push(batch))
        assert [r["id"] for r in again] == [item["id"] for item in batch]
        assert [r["status"] for r in again] == ["duplicate"] * len(batch)
        assert [r["original_status"] for r in again] == [r["status"] for r in first]
        for key in ("record_id", "record_version", "conflict_id", "flags"):
            assert [r.get(key) for r in again] == [r.get(key) for r in first], key
        assert counters(session) == before
        assert submission_count(session) == rows
    assert record(session, first[0]["record_id"]).version == version
    assert_verified(session)


def test_resending_a_batch_split_differently_changes_nothing(phone, session):
    batch = mixed_batch()
    assert set(statuses(phone.push(batch[:3]))) == {"applied"}
    after_part = counters(session)
    mixed = results(phone.push(list(reversed(batch))))
    assert [r["status"] for r in mixed[-3:]] == ["duplicate"] * 3
    assert [r["status"] for r in mixed[:-3]] == ["conflict"] + ["applied"] * (len(batch) - 4)
    assert counters(session) != after_part
    assert totals(session) == EXPECTED_TOTALS
    assert_verified(session)


def test_a_duplicate_answers_with_the_first_receipts_status(phone, session):
    """A first receipt that opened a conflict is answered as such on every resend."""
    batch = [activation(CITIZEN, "activated", minute=0), activation(CITIZEN, "refused", minute=1)]
    first = results(phone.push(batch[:1])) + results(phone.push(batch[1:]))
    assert [r["status"] for r in first] == ["applied", "conflict"]
    for _ in range(3):
        again = results(phone.push(batch))
        assert [r["status"] for r in again] == ["duplicate", "duplicate"]
        assert [r["original_status"] for r in again] == ["applied", "conflict"]
        assert again[1]["conflict_id"] == first[1]["conflict_id"]
    assert totals(session)["open_conflicts"] == 1
    assert_verified(session)


def test_an_id_reused_for_other_content_is_rejected(phone, session):
    original = gift(new_id(), data={"count": 1, "value_vnd": 100_000})
    assert statuses(phone.push([original])) == ["applied"]
    before = counters(session)

    changed = {**original, "data": {**original["data"], "value_vnd": 900_000}}
    answer = results(phone.push([changed]))[0]
    assert answer["status"] == "rejected"
    assert answer["id"] == original["id"]
    assert "id" in answer["errors"]
    assert counters(session) == before
    assert stored(session, original["id"]).data["value_vnd"] == 100_000

    moved = {**original, "recorded_at": "2023-07-30T09:15:00+07:00"}
    assert statuses(phone.push([moved])) == ["rejected"]
    # ...and the original content is still recognised as a resend afterwards.
    assert results(phone.push([original]))[0]["original_status"] == "applied"
    assert counters(session) == before
    assert_verified(session)


def test_the_same_id_twice_in_one_batch(phone, session):
    item = household_help(new_id(), data={"volunteers": 3, "hours": 2})
    other = household_help(new_id(), minute=1)
    reused = {**other, "data": {**other["data"], "kind": "cleanup"}}
    answer = results(phone.push([item, item, other, reused]))
    assert [r["status"] for r in answer] == ["applied", "duplicate", "applied", "rejected"]
    assert answer[1]["original_status"] == "applied"
    assert "id" in answer[3]["errors"]
    assert submission_count(session) == 2
    assert totals(session) == {"help_events": 2, "households_helped": 2, "volunteer_hours": 600}
    assert stored(session, other["id"]).data["kind"] == "road_repair"
    assert_verified(session)


def _without_hlc(item: dict) -> dict:
    item.pop("hlc")
    return item


BAD_ITEMS = [
    # (what is wrong, the item, the error path)
    ("unknown data field", lambda: activation(CITIZEN, "installed", data={"password": "x"}),
     "data.password"),
    ("wrong status", lambda: activation(CITIZEN, "done"), "data.status"),
    ("11-digit citizen id", lambda: activation("07912345678", "installed"), "data.citizen_id"),
    ("float value_vnd", lambda: gift(new_id(), data={"value_vnd": 100000.5}), "data.value_vnd"),
    ("float value_vnd, whole", lambda: gift(new_id(), data={"value_vnd": 100000.0}),
     "data.value_vnd"),
    ("bool count", lambda: gift(new_id(), data={"count": True}), "data.count"),
    ("string count", lambda: gift(new_id(), data={"count": "2"}), "data.count"),
    ("unknown form", lambda: {**household_help(new_id()), "form": "survey"}, "form"),
    ("form_version 2", lambda: {**household_help(new_id()), "form_version": 2}, "form_version"),
    ("unknown campaign", lambda: {**household_help(new_id()), "campaign": "nope"}, "campaign"),
    ("org unit W2", lambda: {**household_help(new_id()), "org_unit": "W2"}, "org_unit"),
    ("org unit W3", lambda: {**household_help(new_id()), "org_unit": "W3"}, "org_unit"),
    ("org unit C1, above", lambda: {**household_help(new_id()), "org_unit": "C1"}, "org_unit"),
    ("unknown org unit", lambda: {**household_help(new_id()), "org_unit": "W99"}, "org_unit"),
    ("control character", lambda: household_help(new_id(), data={"note": "a\x07b"}), "data.note"),
    ("NUL", lambda: gift(new_id(), data={"donor": "a\x00b"}), "data.donor"),
    ("missing status", lambda: {**activation(CITIZEN, "x"), "data": {"citizen_id": CITIZEN}},
     "data.status"),
    ("unknown top-level field", lambda: {**household_help(new_id()), "extra": 1}, "extra"),
    ("not a uuid", lambda: {**household_help(new_id()), "id": "not-a-uuid"}, "id"),
    ("naive recorded_at", lambda: {**household_help(new_id()), "recorded_at": "2023-07-29T09:15"},
     "recorded_at"),
    # Inputs that once passed validation and then broke the batch or made a second record:
    ("citizen id with a final newline", lambda: activation(CITIZEN + "\n", "installed"),
     "data.citizen_id"),
    ("citizen id in full-width digits", lambda: activation("０７９１２３４５６７８９", "installed"),
     "data.citizen_id"),
    ("code with a final newline", lambda: gift(new_id(), data={"gift_kind": "pack\n"}),
     "data.gift_kind"),
    ("base_version beyond any record", lambda: activation(CITIZEN, "visited", base_version=2**31),
     "base_version"),
    ("recorded_at in year 1", lambda: household_help(new_id(),
     recorded_at="0001-01-01T00:00:00+14:00"), "recorded_at"),
    ("recorded_at at the end of year 9999", lambda: household_help(new_id(),
     recorded_at="9999-12-31T23:59:59-12:00"), "recorded_at"),
    ("recorded_at before 1970, no hlc", lambda: _without_hlc(household_help(new_id(),
     recorded_at="1969-12-31T23:59:00Z")), "recorded_at"),
]  # fmt: skip


def test_one_bad_item_never_rejects_its_neighbours(phone, session):
    batch, expected = [], []
    for n, (_, make, _) in enumerate(BAD_ITEMS):
        batch.append(household_help(new_id(), minute=n, data={"hours": 1}))
        expected.append(("applied", None))
        batch.append(make())
        expected.append(("rejected", BAD_ITEMS[n][2]))
    batch.append(household_help(new_id(), minute=99, data={"hours": 1}))
    expected.append(("applied", None))

    answer = results(phone.push(batch))
    assert len(answer) == len(batch)
    for n, (result, (status, path)) in enumerate(zip(answer, expected, strict=True)):
        what = BAD_ITEMS[n // 2][0] if n % 2 else "neighbour"
        assert result["status"] == status, (what, result)
        if status == "rejected":
            assert path in result["errors"], (what, result["errors"])
            assert all(isinstance(m, list) and m for m in result["errors"].values())
            assert all("." not in k or k.startswith("data.") for k in result["errors"])
        assert result["id"] == (batch[n]["id"] if isinstance(batch[n].get("id"), str) else None)

    good = len(BAD_ITEMS) + 1
    assert submission_count(session) == good
    assert totals(session) == {
        "help_events": good,
        "households_helped": good,
        "volunteer_hours": 100 * good,
    }
    assert_verified(session)


def test_an_item_that_is_not_an_object_is_rejected_alone(phone, session):
    items = [[], "not an object", None, 7]
    neighbour = household_help(new_id())
    answer = results(phone.push([*items, neighbour]))
    assert [r["status"] for r in answer] == ["rejected"] * len(items) + ["applied"]
    assert all(r["errors"] for r in answer[:-1])
    assert submission_count(session) == 1
    assert_verified(session)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def test_a_clock_far_ahead_is_flagged_and_clamped(phone, session):
    before = datetime.now(UTC)
    ahead = before + timedelta(minutes=30)
    ahead_ms = int(ahead.timestamp() * 1000)
    near_ms = int((before + timedelta(minutes=3)).timestamp() * 1000)
    far_hlc = household_help(new_id(), hlc=f"{ahead_ms}:0:x", recorded_at=_iso(before))
    far_recorded = household_help(new_id(), recorded_at=_iso(ahead))
    far_recorded.pop("hlc")
    far_both = activation(CITIZEN, "installed", hlc=f"{ahead_ms}:0:x", recorded_at=_iso(ahead))
    near = household_help(new_id(), hlc=f"{near_ms}:0:x", recorded_at=_iso(before))
    past = household_help(new_id())
    answer = results(phone.push([far_hlc, far_recorded, far_both, near, past]))
    after = datetime.now(UTC)

    assert [r["status"] for r in answer] == ["applied"] * 5
    assert [r.get("flags", []) for r in answer] == [
        ["clock_suspect"],
        ["clock_suspect"],
        ["clock_suspect"],
        [],
        [],
    ]
    after_ms = int(after.timestamp() * 1000)
    for item in (far_hlc, far_recorded, far_both):
        row = stored(session, item["id"])
        assert before - timedelta(seconds=1) <= row.recorded_at <= after, item
        assert int(row.hlc.split(":")[0]) <= after_ms, item
    assert stored(session, near["id"]).recorded_at == datetime.fromisoformat(near["recorded_at"])
    assert stored(session, past["id"]).recorded_at == datetime.fromisoformat(AT)

    # A resend is answered as the first receipt was, flag included.
    resent = results(phone.push([far_hlc]))[0]
    assert resent["status"] == "duplicate"
    assert resent["flags"] == ["clock_suspect"]
    assert_verified(session)


def test_a_far_clock_counts_on_the_clamped_day(phone, session):
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    item = household_help(new_id(), recorded_at="2099-01-01T09:00:00+07:00")
    item.pop("hlc")
    before = datetime.now(zone).date()
    assert results(phone.push([item]))[0]["flags"] == ["clock_suspect"]
    after = datetime.now(zone).date()
    days = {day for (_, metric, day) in counters(session) if metric == "help_events"}
    assert len(days) == 1
    assert days <= {before.isoformat(), after.isoformat()}
    assert_verified(session)


def test_a_clock_reset_to_the_epoch_is_kept_not_refused(phone, session):
    """A phone whose battery died may say 1970: its forms are kept (a lead can see the day)."""
    item = household_help(new_id(), recorded_at="1970-01-01T07:00:00+07:00")
    item.pop("hlc")
    assert statuses(phone.push([item])) == ["applied"]
    assert counters(session) == {
        ("W1", "help_events", "1970-01-01"): 1,
        ("W1", "households_helped", "1970-01-01"): 1,
    }
    assert_verified(session)


def _all_text(session) -> str:
    """Every text and JSON value in every table, as one string."""

    def dump(s):
        chunks = []
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
            if not columns:
                continue
            for row in s.execute(select(*columns)):
                chunks.extend(json.dumps(v, ensure_ascii=False) for v in row if v is not None)
        return "\n".join(chunks)

    return read(session, dump)


def test_raw_citizen_ids_are_never_stored_nor_pulled(phone, session):
    household = new_id()
    batch = [
        activation(
            CITIZEN,
            "installed",
            data={"household_id": household, "note": "met at the door", "phone_owner": "self"},
        ),
        activation(CITIZEN, "activated", minute=5),
        activation(CITIZEN, "refused", minute=6),
        activation("079100000002", "visited", minute=7),
    ]
    # activated and refused in one batch: both items join the status conflict
    assert statuses(phone.push(batch)) == ["applied", "conflict", "conflict", "applied"]

    text = _all_text(session)
    assert MASKED in text  # the dump does reach the activation data
    assert household in text
    assert CITIZEN not in text
    assert "079100000002" not in text

    pulled = phone.pull(limit=1000)
    raw = pulled.get_data(as_text=True)
    assert CITIZEN not in raw
    records = [c for c in pulled.get_json()["changes"] if c["entity"] == "activation"]
    assert sorted(c["data"]["citizen_id"] for c in records) == ["*********002", MASKED]
    assert CITIZEN not in json.dumps(results(phone.push(batch)))
    assert_verified(session)


def test_a_resend_after_other_writes_is_still_a_duplicate(client, world, phone, session):
    """Resends come minutes or days later, after other phones' writes, even from another
    phone holding a copy of the outbox: the id and the content decide, not the sender."""
    item = gift(new_id(), data={"value_vnd": 200_000})
    assert statuses(phone.push([item])) == ["applied"]
    other = enroll_phone(client, world)
    assert statuses(other.push([gift(new_id(), minute=9, data={"gift_kind": "rice"})])) == [
        "applied"
    ]
    assert results(phone.push([item]))[0]["status"] == "duplicate"
    copied = {**item, "hlc": item["hlc"].rsplit(":", 1)[0] + ":other-phone"}
    assert results(other.push([copied]))[0]["status"] == "duplicate"
    assert totals(session) == {"gifts_delivered": 2, "gift_value_vnd": 200_000}
    assert submission_count(session) == 2
    assert_verified(session)
