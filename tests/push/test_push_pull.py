"""Pull: the device's slice of the change feed, paged, compacted, resumable."""

from __future__ import annotations

import base64
import json

import pytest
from kit.enrol import enroll_phone
from push_kit import activation, gift, household_help, new_id, results, statuses
from sqlalchemy import text

PROBLEM = "application/problem+json"


@pytest.fixture
def field(client, world, phone):
    """Work done in W1 by ``phone``, and in W2 and W3 by other volunteers' phones."""
    for username, unit in (("vol-w2", "W2"), ("vol-w3", "W3")):
        made = client.post(
            "/api/v1/users",
            json={"username": username, "role": "volunteer", "org_units": [unit]},
            headers=world.headers("admin"),
        )
        assert made.status_code == 201
    w2 = enroll_phone(client, world, "vol-w2", ("W2",), "lead-c1")
    w3 = enroll_phone(client, world, "vol-w3", ("W3",), "lead-w3")
    targets = client.put(
        "/api/v1/campaigns/camp/targets",
        json=[
            {"org_unit": "W1", "metric": "accounts_activated", "value": 100},
            {"org_unit": "W3", "metric": "accounts_activated", "value": 300},
            {"org_unit": "C1", "metric": "accounts_activated", "value": 500},
        ],
        headers=world.headers("admin"),
    )
    assert targets.status_code == 200

    mine = {"households": [new_id(), new_id(), new_id()]}
    answers = results(
        phone.push(
            [
                activation(
                    "079100000001", "installed", data={"household_id": mine["households"][0]}
                ),
                activation("079100000002", "activated", minute=1),
                activation("079100000003", "visited", minute=2),
                household_help(mine["households"][1], minute=3, data={"household_address": "1 A"}),
                gift(mine["households"][2], minute=4),
            ]
        )
    )
    mine["records"] = sorted({str(r["record_id"]) for r in answers if "record_id" in r})
    assert len(mine["records"]) == 3

    others = {"households": [new_id(), new_id()], "records": []}
    for device, unit, citizen, household in (
        (w2, "W2", "079200000001", others["households"][0]),
        (w3, "W3", "079300000001", others["households"][1]),
    ):
        pushed = results(
            device.push(
                [
                    activation(citizen, "activated", org_unit=unit),
                    household_help(household, org_unit=unit, minute=1),
                ]
            )
        )
        assert [r["status"] for r in pushed] == ["applied", "applied"]
        others["records"].append(str(pushed[0]["record_id"]))
    return {"mine": mine, "others": others, "w3": w3}


def pull_all(phone, cursor=None, limit=1000) -> tuple[list[dict], str, list[dict]]:
    """Every page from ``cursor`` on: the changes, the last cursor, and the pages."""
    changes, pages = [], []
    while True:
        response = phone.pull(cursor, limit)
        assert response.status_code == 200, response.get_json()
        page = response.get_json()
        pages.append(page)
        assert len(page["changes"]) <= limit
        changes.extend(page["changes"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return changes, cursor, pages
        assert len(pages) < 100, "the feed does not end"


def by_entity(changes: list[dict]) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = {}
    for change in changes:
        out.setdefault(change["entity"], {})[change["id"]] = change
    return out


def keys(changes: list[dict]) -> list[tuple[str, str]]:
    return [(c["entity"], c["id"]) for c in changes]


def test_the_first_pull_is_the_devices_slice(phone, field):
    response = phone.pull()
    assert response.status_code == 200
    page = response.get_json()
    assert page["has_more"] is False
    assert page["reset"] is False
    changes = page["changes"]
    assert len(set(keys(changes))) == len(changes)  # compacted: each entity once
    assert all(c["op"] == "put" for c in changes)
    seen = by_entity(changes)

    units = seen["org_unit"]
    assert set(units) == {"P", "C1", "W1"}
    assert units["P"]["data"] == {"code": "P", "name": "Province"}
    assert units["C1"]["data"] == {"code": "C1", "name": "City One"}
    assert units["W1"]["data"]["parent"] == "C1"
    assert units["W1"]["data"]["name"] == "Ward One"

    assert set(seen["campaign"]) == {"camp"}
    assert seen["campaign"]["camp"]["data"]["timezone"] == "Asia/Ho_Chi_Minh"
    assert set(seen["target"]) == {"camp|W1|accounts_activated"}
    assert seen["target"]["camp|W1|accounts_activated"]["data"]["value"] == 100

    assert sorted(seen["activation"]) == field["mine"]["records"]
    statuses_seen = sorted(c["data"]["status"] for c in seen["activation"].values())
    assert statuses_seen == ["activated", "installed", "visited"]
    assert all(c["data"]["org_unit"] == "W1" for c in seen["activation"].values())
    assert all(c["version"] == 1 for c in seen["activation"].values())

    assert sorted(seen["household"]) == sorted(field["mine"]["households"])
    assert {c["data"]["org_unit"] for c in seen["household"].values()} == {"W1"}

    raw = response.get_data(as_text=True)
    for secret in ("W2", "W3", "C2", "City Two", "079200000001", "079300000001"):
        assert secret not in raw
    for household in field["others"]["households"]:
        assert household not in raw


def test_a_device_elsewhere_sees_only_its_own_slice(field):
    changes, _, _ = pull_all(field["w3"])
    seen = by_entity(changes)
    assert set(seen["org_unit"]) == {"P", "C2", "W3"}
    assert sorted(seen["activation"]) == [field["others"]["records"][1]]
    assert sorted(seen["household"]) == [field["others"]["households"][1]]
    assert set(seen["target"]) == {"camp|W3|accounts_activated"}


def test_paging_by_two_walks_the_whole_feed_once(phone, field):
    whole = phone.pull(limit=1000).get_json()
    assert whole["has_more"] is False
    paged, last_cursor, pages = pull_all(phone, limit=2)
    assert len(pages) >= len(whole["changes"]) // 2
    assert all(p["has_more"] for p in pages[:-1])
    assert keys(paged) == keys(whole["changes"])
    assert paged == whole["changes"]
    assert len(set(keys(paged))) == len(paged)

    # The last cursor is the end of the feed: nothing more, and it stays put.
    after = phone.pull(last_cursor).get_json()
    assert after["changes"] == []
    assert after["has_more"] is False
    assert phone.pull(after["next_cursor"]).get_json()["changes"] == []


def test_changes_after_a_cursor_come_once_compacted(phone, field):
    _, cursor, _ = pull_all(phone)
    record_id = field["mine"]["records"][0]
    edits = [
        activation("079100000001", "installed", minute=10 + n, data={"note": f"edit {n}"})
        for n in range(3)
    ]
    versions = []
    for edit in edits:  # three separate pushes: three separate commits
        [answer] = results(phone.push([edit]))
        assert (answer["status"], str(answer["record_id"])) == ("applied", record_id)
        versions.append(answer["record_version"])
    assert versions == [2, 3, 4]
    new_household = new_id()
    assert statuses(phone.push([gift(new_household, minute=20)])) == ["applied"]
    # Work elsewhere after the cursor stays elsewhere.
    assert statuses(field["w3"].push([household_help(new_id(), org_unit="W3")])) == ["applied"]

    changes, next_cursor, _ = pull_all(phone, cursor, limit=1)
    assert keys(changes) == [("activation", record_id), ("household", new_household)]
    record = changes[0]
    assert record["version"] == 4
    assert record["data"]["note"] == "edit 2"
    assert record["data"]["status"] == "installed"

    assert pull_all(phone, next_cursor)[0] == []  # once, never again


def test_a_resent_batch_brings_no_change(phone, field):
    _, cursor, _ = pull_all(phone)
    batch = [activation("079100000009", "visited"), household_help(new_id())]
    assert statuses(phone.push(batch)) == ["applied", "applied"]
    changes, cursor, _ = pull_all(phone, cursor)
    assert [c["entity"] for c in changes] == ["activation", "household"]
    assert statuses(phone.push(batch)) == ["duplicate", "duplicate"]
    assert pull_all(phone, cursor)[0] == []


def rebuild_feed(session) -> None:
    """What a feed rebuild does to the phones: a new epoch. (A fresh value each time: on
    PostgreSQL the feed_clock row outlives each test, so a fixed one may be there already.)"""
    session.execute(
        text("UPDATE feed_clock SET epoch = :epoch"), {"epoch": f"other-{new_id()[:8]}"}
    )
    session.commit()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


UNREADABLE_CURSORS = [
    "garbage!",
    "%%%",
    _b64(b"not json"),
    _b64(b"[1, 2]"),
    _b64(json.dumps({"e": "x"}).encode()),
    _b64(json.dumps({"e": "x", "s": -1}).encode()),
    _b64(json.dumps({"e": "x", "s": "5"}).encode()),
    _b64(json.dumps({"e": "x", "s": True}).encode()),
    _b64(json.dumps({"e": "x", "s": 2**64}).encode()),
    _b64(json.dumps({"e": "x", "s": 10**30}).encode()),
    "x" * 501,
    "x" * 3000,
]


def test_a_cursor_the_server_cannot_read_is_400(phone):
    for cursor in UNREADABLE_CURSORS:
        response = phone.pull(cursor)
        assert response.status_code == 400, cursor
        assert response.mimetype == PROBLEM
        assert "cursor" in response.get_json()["errors"]


def test_a_huge_sequence_in_this_epoch_is_400_too(phone):
    """A readable epoch with a sequence no feed can reach is still a cursor we cannot use."""
    cursor = phone.pull().get_json()["next_cursor"]
    epoch = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["e"]
    forged = _b64(json.dumps({"e": epoch, "s": 2**63}).encode())
    response = phone.pull(forged)
    assert response.status_code == 400
    assert response.mimetype == PROBLEM


def test_a_limit_outside_1_to_1000_is_422(phone):
    for limit in (0, -1, 1001, "ten", 1.5, ""):
        response = phone.pull(limit=limit)
        assert response.status_code == 422, limit
        assert response.mimetype == PROBLEM
        assert "limit" in response.get_json()["errors"]


def test_limits_1_and_1000_are_taken(phone, field):
    one = phone.pull(limit=1).get_json()
    assert len(one["changes"]) == 1
    assert one["has_more"] is True
    assert phone.pull(limit=1000).status_code == 200


def test_a_cursor_from_another_epoch_resets(phone, field, session):
    full = phone.pull(limit=1000).get_json()
    _, old_cursor, _ = pull_all(phone)
    rebuild_feed(session)

    response = phone.pull(old_cursor)
    assert response.status_code == 200
    page = response.get_json()
    assert page["reset"] is True
    assert page["changes"] == full["changes"]
    assert page["has_more"] is False
    # The new cursor belongs to the new epoch: reading on from it is no reset.
    again = phone.pull(page["next_cursor"]).get_json()
    assert again["reset"] is False
    assert again["changes"] == []


def test_a_reset_pages_like_a_first_pull(phone, field, session):
    whole = phone.pull(limit=1000).get_json()["changes"]
    _, old_cursor, _ = pull_all(phone)
    rebuild_feed(session)

    first = phone.pull(old_cursor, 2).get_json()
    assert first["reset"] is True
    assert first["has_more"] is True
    rest, _, pages = pull_all(phone, first["next_cursor"], limit=2)
    assert all(p["reset"] is False for p in pages)
    assert first["changes"] + rest == whole


def test_a_user_token_cannot_pull(client, world, field):
    response = client.get("/api/v1/sync/pull", headers=world.headers("vol-w1"))
    assert response.status_code == 403
    assert response.mimetype == PROBLEM
    assert "changes" not in response.get_json()
