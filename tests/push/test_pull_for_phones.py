"""What a phone needs offline comes in the pull: households with their gifts (to warn before a
second delivery), activation records with their status and household (masked id only); and
GET /api/v1/devices/me, the phone's receipt."""

from __future__ import annotations

import json

from kit.enrol import enroll_phone
from push_kit import activation, assert_verified, gift, new_id, results, statuses, void

PROBLEM = "application/problem+json"


def pull_from(phone, cursor=None) -> tuple[dict[tuple[str, str], dict], str]:
    """Every change after ``cursor`` as ``{(entity, id): change}``, and the cursor after them."""
    seen: dict[tuple[str, str], dict] = {}
    while True:
        page = phone.pull(cursor, 1000).get_json()
        for change in page["changes"]:
            assert (change["entity"], change["id"]) not in seen, "a change came twice"
            seen[(change["entity"], change["id"])] = change
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return seen, cursor


def gifts_of(changes, household) -> list[dict]:
    return changes[("household", household)]["data"]["gifts"]


def counted(kind="pack", round_="2023-tet", count=1, status="counted") -> dict:
    return {
        "campaign": "camp",
        "gift_kind": kind,
        "round": round_,
        "count": count,
        "status": status,
    }


def test_a_household_comes_with_its_gifts(phone):
    house = new_id()
    assert statuses(
        phone.push(
            [
                gift(house, data={"count": 2, "household_address": "12 hẻm 3"}),
                gift(house, minute=1, data={"gift_kind": "rice"}),
            ]
        )
    ) == ["applied", "applied"]
    changes, _ = pull_from(phone)
    household = changes[("household", house)]
    assert household["data"]["address"] == "12 hẻm 3"
    assert household["data"]["org_unit"] == "W1"
    assert sorted(gifts_of(changes, house), key=lambda g: g["gift_kind"]) == [
        counted(count=2),
        counted(kind="rice"),
    ]


def test_a_second_delivery_shows_as_suspected_then_as_the_lead_decides(client, world, phone):
    house = new_id()
    statuses(phone.push([gift(house, minute=0)]))
    other = enroll_phone(client, world)
    changes, cursor = pull_from(phone)
    version = changes[("household", house)]["version"]

    double = results(other.push([gift(house, minute=5)]))[0]
    assert double["status"] == "conflict"
    changes, cursor = pull_from(phone, cursor)
    assert gifts_of(changes, house) == [counted(status="suspected")]
    assert changes[("household", house)]["version"] > version

    answer = client.post(
        f"/api/v1/conflicts/{double['conflict_id']}/resolve",
        json={"confirm": True},
        headers=world.headers("lead-w1"),
    )
    assert answer.status_code == 200
    changes, cursor = pull_from(phone, cursor)
    assert list(changes) == [("household", house)]
    assert gifts_of(changes, house) == [counted(count=2)]  # the confirmed one counts too


def test_a_rejected_double_counts_nothing(client, world, phone):
    house = new_id()
    first, second = results(phone.push([gift(house, minute=0), gift(house, minute=1)]))
    changes, cursor = pull_from(phone)
    assert gifts_of(changes, house) == [counted(status="suspected")]
    client.post(
        f"/api/v1/conflicts/{second['conflict_id']}/resolve",
        json={"confirm": False},
        headers=world.headers("lead-w1"),
    )
    changes, _ = pull_from(phone, cursor)
    assert gifts_of(changes, house) == [counted()]


def test_voids_change_the_households_gifts(phone, session):
    house = new_id()
    first, second = (r["id"] for r in results(phone.push([gift(house), gift(house, minute=1)])))
    changes, cursor = pull_from(phone)
    assert gifts_of(changes, house) == [counted(status="suspected")]

    # Voiding the counted one lets the next count, with no suspected double left.
    assert statuses(phone.push([void(first, minute=2)])) == ["applied"]
    changes, cursor = pull_from(phone, cursor)
    assert list(changes) == [("household", house)]
    assert gifts_of(changes, house) == [counted()]

    # Voiding the last leaves a household with no gift groups at all.
    assert statuses(phone.push([void(second, minute=3)])) == ["applied"]
    changes, _ = pull_from(phone, cursor)
    assert gifts_of(changes, house) == []
    assert_verified(session)


def test_gifts_of_other_rounds_and_campaign_scope(phone):
    house = new_id()
    phone.push([gift(house), gift(house, minute=1, data={"round": "2024-tet"})])
    changes, _ = pull_from(phone)
    assert sorted(gifts_of(changes, house), key=lambda g: g["round"]) == [
        counted(),
        counted(round_="2024-tet"),
    ]


def test_a_household_without_gifts_has_an_empty_list(phone):
    house = new_id()
    phone.push([activation("079100000001", "visited", data={"household_id": house})])
    changes, _ = pull_from(phone)
    assert gifts_of(changes, house) == []


def test_activation_records_carry_status_outcomes_and_household_but_no_raw_id(phone):
    house = new_id()
    answers = results(
        phone.push(
            [
                activation("079100000123", "installed", data={"household_id": house}),
                activation("079100000123", "refused", minute=1),
                activation("079100000456", "visited", minute=2),
            ]
        )
    )
    changes, _ = pull_from(phone)
    record = changes[("activation", str(answers[0]["record_id"]))]["data"]
    assert record["citizen_id"] == "*********123"
    assert record["status"] == "installed"
    assert record["outcomes"] == ["refused"]
    assert record["household_id"] == house
    assert record["org_unit"] == "W1"
    without = changes[("activation", str(answers[2]["record_id"]))]["data"]
    assert without["household_id"] is None
    raw = json.dumps(list(changes.values()))
    assert "079100000123" not in raw and "079100000456" not in raw


# --- GET /api/v1/devices/me --------------------------------------------------------------------


def me(client, phone):
    return client.get("/api/v1/devices/me", headers=phone.headers)


def test_the_receipt_counts_what_the_server_stored_from_this_phone(client, world, phone):
    first = me(client, phone)
    assert first.status_code == 200
    assert first.get_json() == {
        "device_id": phone.device_id,
        "name": "phone",
        "volunteer": "vol-w1",
        "org_units": ["W1"],
        "accepted": 0,
        "last_push_at": None,
    }
    batch = [
        activation("079100000001", "visited"),
        gift(new_id()),
        activation("0791", "visited"),  # rejected: not stored
    ]
    assert statuses(phone.push(batch)) == ["applied", "applied", "rejected"]
    assert statuses(phone.push(batch)) == ["duplicate", "duplicate", "rejected"]
    body = me(client, phone).get_json()
    assert body["accepted"] == 2
    assert body["last_push_at"] is not None

    other = enroll_phone(client, world)
    other.push([gift(new_id())])
    assert me(client, phone).get_json()["accepted"] == 2
    assert me(client, other).get_json()["accepted"] == 1


def test_the_receipt_is_for_device_tokens_only(client, world, phone):
    for who in ("vol-w1", "lead-w1", "admin"):
        answer = client.get("/api/v1/devices/me", headers=world.headers(who))
        assert answer.status_code == 403, who
        assert answer.mimetype == PROBLEM
    assert client.get("/api/v1/devices/me").status_code == 401
    client.delete(f"/api/v1/devices/{phone.device_id}", headers=world.headers("admin"))
    revoked = me(client, phone)
    assert revoked.status_code == 401
    assert revoked.mimetype == PROBLEM
