"""The conflict rules, as a phone and a ward lead see them through the API."""

from __future__ import annotations

import pytest
from kit.enrol import enroll_phone
from push_kit import (
    DAY,
    activation,
    assert_verified,
    counters,
    gift,
    household_help,
    new_id,
    results,
    review_items,
    statuses,
    stored,
    totals,
    void,
)

CITIZEN = "079123456789"


def pulled_record(phone, record_id: int) -> dict:
    changes = phone.pull(limit=1000).get_json()["changes"]
    found = [c for c in changes if c["entity"] == "activation" and c["id"] == str(record_id)]
    assert len(found) == 1
    return found[0]


# --- the status ladder -------------------------------------------------------------------------


def test_the_status_never_moves_down(phone, session):
    installed = results(phone.push([activation(CITIZEN, "installed", minute=0)]))[0]
    assert installed["status"] == "applied"
    assert installed["record_version"] == 1
    visited = results(phone.push([activation(CITIZEN, "visited", minute=10)]))[0]
    assert visited["status"] == "applied"
    assert visited["record_id"] == installed["record_id"]
    assert visited["record_version"] == 2
    no_phone = results(phone.push([activation(CITIZEN, "no_smartphone", minute=20)]))[0]
    assert no_phone["record_version"] == 3

    change = pulled_record(phone, installed["record_id"])
    assert change["data"]["status"] == "installed"
    assert change["version"] == 3
    assert totals(session) == {"citizens_reached": 1, "accounts_installed": 1}
    assert_verified(session)


def test_the_status_climbs_to_the_highest_rung_in_any_order(phone, session):
    pushed = results(
        phone.push(
            [
                activation(CITIZEN, "activated", minute=30),
                activation(CITIZEN, "visited", minute=0),
                activation(CITIZEN, "installed", minute=10),
            ]
        )
    )
    assert [r["record_version"] for r in pushed] == [1, 2, 3]
    assert pulled_record(phone, pushed[0]["record_id"])["data"]["status"] == "activated"
    assert totals(session) == {
        "citizens_reached": 1,
        "accounts_installed": 1,
        "accounts_activated": 1,
    }
    assert_verified(session)


def test_activated_and_refused_open_a_status_conflict(phone, session):
    activated = results(phone.push([activation(CITIZEN, "activated", minute=0)]))[0]
    assert activated["status"] == "applied"
    refused = results(phone.push([activation(CITIZEN, "refused", minute=5)]))[0]
    assert refused["status"] == "conflict"
    assert isinstance(refused["conflict_id"], int)
    assert refused["record_id"] == activated["record_id"]

    assert totals(session) == {
        "citizens_reached": 1,
        "accounts_installed": 1,
        "accounts_activated": 1,
        "refused": 1,
        "open_conflicts": 1,
    }
    [item] = review_items(session)
    assert (item.id, item.kind, item.status) == (refused["conflict_id"], "status_conflict", "open")
    assert item.record_id == activated["record_id"]
    change = pulled_record(phone, activated["record_id"])
    assert change["data"]["status"] == "activated"
    assert change["data"]["outcomes"] == ["refused"]

    # A further refusal opens no second item, and the citizen is still refused once.
    again = results(phone.push([activation(CITIZEN, "refused", minute=9)]))[0]
    assert again["record_version"] == 3
    assert len(review_items(session)) == 1
    assert totals(session)["open_conflicts"] == 1
    assert totals(session)["refused"] == 1
    assert_verified(session)


def test_refused_without_activation_is_no_conflict(phone, session):
    answer = results(
        phone.push([activation(CITIZEN, "installed"), activation(CITIZEN, "refused", minute=1)])
    )
    assert [r["status"] for r in answer] == ["applied", "applied"]
    assert review_items(session) == []
    assert totals(session) == {"citizens_reached": 1, "accounts_installed": 1, "refused": 1}
    assert_verified(session)


# --- other fields: last writer wins, stale writes are flagged ---------------------------------


def test_a_stale_write_from_another_device_opens_a_field_conflict(client, world, phone, session):
    other = enroll_phone(client, world)
    first = results(
        phone.push([activation(CITIZEN, "visited", data={"household_address": "12 Ngõ 4"})])
    )[0]
    assert first["status"] == "applied"

    # The second phone never pulled (base_version 0) and writes a different address, later.
    stale = activation(CITIZEN, "visited", minute=10, data={"household_address": "14 Ngõ 4"})
    answer = results(other.push([stale]))[0]
    assert answer["status"] == "conflict"
    assert answer["record_version"] == 2
    [item] = review_items(session)
    assert (item.id, item.kind, item.status) == (answer["conflict_id"], "field_conflict", "open")
    assert "household_address" in item.fields
    assert totals(session)["open_conflicts"] == 1
    # The deterministic winner is applied all the same: the later clock.
    assert pulled_record(phone, first["record_id"])["data"]["household_address"] == "14 Ngõ 4"
    assert_verified(session)


def test_writes_that_saw_the_record_or_agree_open_no_conflict(client, world, phone, session):
    other = enroll_phone(client, world)
    first = results(phone.push([activation(CITIZEN, "visited", data={"note": "first"})]))[0]
    seen = activation(
        CITIZEN, "visited", minute=10, base_version=first["record_version"], data={"note": "b"}
    )
    same_value = activation(CITIZEN, "installed", minute=11, data={"note": "b"})
    own_stale = activation(CITIZEN, "installed", minute=12, data={"note": "c"})
    assert statuses(other.push([seen])) == ["applied"]
    assert statuses(other.push([same_value])) == ["applied"]  # stale, but the same value
    assert statuses(other.push([own_stale])) == ["applied"]  # stale, over its own write
    assert review_items(session) == []
    assert pulled_record(phone, first["record_id"])["data"]["note"] == "c"
    assert "open_conflicts" not in totals(session)
    assert_verified(session)


# --- gifts: double deliveries ------------------------------------------------------------------


def _gift_pair():
    household = new_id()
    early = gift(household, minute=0, data={"count": 2, "value_vnd": 200_000})
    late = gift(household, minute=30, data={"count": 3, "value_vnd": 300_000})
    return early, late


def _gift_counts() -> dict:
    return {
        ("W1", "gifts_delivered", DAY): 2,
        ("W1", "gift_value_vnd", DAY): 200_000,
        ("W1", "suspected_doubles", DAY): 1,
    }


@pytest.mark.parametrize("order", ["early first", "late first", "one batch"])
def test_of_two_gifts_for_one_household_the_earlier_counts(phone, session, order):
    early, late = _gift_pair()
    if order == "early first":
        answers = results(phone.push([early])) + results(phone.push([late]))
    elif order == "late first":
        answers = list(reversed(results(phone.push([late])) + results(phone.push([early]))))
    else:
        answers = results(phone.push([late, early]))[::-1]
    early_result, late_result = answers
    [item] = review_items(session)
    assert (item.kind, item.status) == ("suspected_double", "open")
    assert late["id"] in item.submissions
    if order == "late first":
        # The late gift counted until the early one arrived: that arrival opened the item.
        assert late_result["status"] == "applied"
        assert (early_result["status"], early_result["conflict_id"]) == ("conflict", item.id)
    else:
        assert early_result["status"] == "applied"
        assert (late_result["status"], late_result["conflict_id"]) == ("conflict", item.id)
        assert late_result["flags"] == ["suspected_double"]
    assert "suspected_double" not in early_result.get("flags", [])

    # The same counts whatever the order: the earlier clock counts, the later is suspected.
    assert counters(session) == _gift_counts()
    assert_verified(session)


def test_another_round_or_kind_is_no_double(phone, session):
    household = new_id()
    items = [
        gift(household, minute=0),
        gift(household, minute=1, data={"round": "2024-tet"}),
        gift(household, minute=2, data={"gift_kind": "rice"}),
        gift(new_id(), minute=3),
    ]
    assert statuses(phone.push(items)) == ["applied"] * 4
    assert totals(session) == {"gifts_delivered": 4}
    assert review_items(session) == []
    assert_verified(session)


def test_voiding_the_counted_gift_makes_the_other_count(phone, session):
    early, late = _gift_pair()
    phone.push([early, late])
    answer = results(phone.push([void(early["id"], minute=40)]))[0]
    assert answer["status"] == "applied"
    assert totals(session) == {"gifts_delivered": 3, "gift_value_vnd": 300_000}
    [item] = review_items(session)
    assert (item.kind, item.status) == ("suspected_double", "resolved")
    assert stored(session, early["id"]).voided is True
    assert_verified(session)


def test_voiding_the_suspected_double_leaves_the_counted_one(phone, session):
    early, late = _gift_pair()
    phone.push([early, late])
    assert statuses(phone.push([void(late["id"], minute=40)])) == ["applied"]
    assert totals(session) == {"gifts_delivered": 2, "gift_value_vnd": 200_000}
    assert [i.status for i in review_items(session)] == ["resolved"]
    assert_verified(session)


@pytest.mark.parametrize("make", [gift, household_help], ids=["gift", "household_help"])
def test_a_void_that_arrives_first_voids_its_target_on_arrival(phone, session, make):
    target = make(new_id(), minute=0, data={"count": 2} if make is gift else {"hours": 2})
    early_void = void(target["id"], minute=5)
    assert statuses(phone.push([early_void])) == ["applied"]
    assert counters(session) == {}

    answer = results(phone.push([target]))[0]
    assert answer["status"] == "applied"
    assert counters(session) == {}  # counts nowhere
    assert stored(session, target["id"]).voided is True
    assert_verified(session)


def test_a_void_arriving_first_for_a_double_leaves_no_suspicion(phone, session):
    early, late = _gift_pair()
    assert statuses(phone.push([void(early["id"], minute=40)])) == ["applied"]
    phone.push([late])
    phone.push([early])
    assert totals(session) == {"gifts_delivered": 3, "gift_value_vnd": 300_000}
    assert [i for i in review_items(session) if i.status == "open"] == []
    assert_verified(session)


def test_a_void_cannot_target_an_activation(phone, session):
    visit = activation(CITIZEN, "activated")
    assert statuses(phone.push([visit])) == ["applied"]
    before = counters(session)
    answer = results(phone.push([void(visit["id"], minute=5)]))[0]
    assert answer["status"] == "rejected"
    assert "data.target" in answer["errors"]
    assert counters(session) == before
    assert stored(session, visit["id"]).voided is False

    in_batch = activation("079100000002", "installed")
    answers = results(phone.push([in_batch, void(in_batch["id"], minute=5)]))
    assert [r["status"] for r in answers] == ["applied", "rejected"]
    assert totals(session)["accounts_installed"] == 2
    assert_verified(session)


# --- days and units ----------------------------------------------------------------------------


def test_counters_land_on_the_campaigns_local_date(phone, session):
    late_evening = household_help(new_id(), recorded_at="2023-07-29T23:30:00+07:00")
    utc_evening = household_help(new_id(), recorded_at="2023-07-29T18:00:00Z")
    late_evening.pop("hlc")
    utc_evening.pop("hlc")
    gift_utc = gift(new_id(), recorded_at="2023-07-29T16:59:59Z", data={"value_vnd": 1})
    gift_utc.pop("hlc")
    visit = activation(CITIZEN, "installed", recorded_at="2023-07-30T00:10:00+07:00")
    visit.pop("hlc")
    assert statuses(phone.push([late_evening, utc_evening, gift_utc, visit])) == ["applied"] * 4

    assert counters(session) == {
        ("W1", "help_events", "2023-07-29"): 1,
        ("W1", "households_helped", "2023-07-29"): 1,
        ("W1", "help_events", "2023-07-30"): 1,
        ("W1", "households_helped", "2023-07-30"): 1,
        ("W1", "gifts_delivered", "2023-07-29"): 1,
        ("W1", "gift_value_vnd", "2023-07-29"): 1,
        ("W1", "citizens_reached", "2023-07-30"): 1,
        ("W1", "accounts_installed", "2023-07-30"): 1,
    }
    assert str(stored(session, utc_evening["id"]).day) == "2023-07-30"
    assert_verified(session)


def test_a_ladder_rung_counts_on_the_day_of_its_earliest_report(phone, session):
    later = activation(CITIZEN, "activated", recorded_at="2023-07-31T10:00:00+07:00")
    earlier = activation(CITIZEN, "installed", recorded_at="2023-07-30T10:00:00+07:00")
    first_visit = activation(CITIZEN, "visited", recorded_at="2023-07-29T10:00:00+07:00")
    for item in (later, earlier, first_visit):
        item.pop("hlc")
        assert statuses(phone.push([item])) == ["applied"]
    assert counters(session) == {
        ("W1", "citizens_reached", "2023-07-29"): 1,
        ("W1", "accounts_installed", "2023-07-30"): 1,
        ("W1", "accounts_activated", "2023-07-31"): 1,
    }
    assert_verified(session)


def test_volunteer_hours_are_counted_in_centi_hours(phone, session):
    household = new_id()
    next_day = "2023-07-30T09:15:00+07:00"
    batch = [
        household_help(household, data={"volunteers": 3, "hours": 1.5}),
        household_help(household, recorded_at=next_day, data={"hours": 0.25}),
        household_help(new_id(), recorded_at=next_day),  # 1 volunteer, 0 hours
    ]
    for item in batch:
        item.pop("hlc")  # the clock is recorded_at's
    answers = statuses(phone.push(batch))
    assert answers == ["applied"] * 3
    assert counters(session) == {
        ("W1", "help_events", "2023-07-29"): 1,
        ("W1", "households_helped", "2023-07-29"): 1,
        ("W1", "volunteer_hours", "2023-07-29"): 450,  # 3 volunteers x 1.5 h
        ("W1", "help_events", "2023-07-30"): 2,
        ("W1", "households_helped", "2023-07-30"): 1,  # the other household
        ("W1", "volunteer_hours", "2023-07-30"): 25,  # 1 volunteer x 0.25 h
    }
    assert_verified(session)


def test_three_decimal_hours_are_refused(phone, session):
    answer = results(phone.push([household_help(new_id(), data={"hours": 1.125})]))[0]
    assert answer["status"] == "rejected"
    assert "data.hours" in answer["errors"]
    assert counters(session) == {}
    assert_verified(session)
