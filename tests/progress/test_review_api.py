"""The review queue: suspected doubles confirmed or rejected, conflicts settled, records
corrected; the counters follow each action exactly and `verify` stays clean."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from sync.models import AuditEntry
from sync.progress.verify import verify as verify_counters


def verify(session) -> list:
    """`verify` in a transaction of its own, closed so the app's next write is not held up."""
    try:
        return verify_counters(session)
    finally:
        session.close()


def _sub(form: str, at: str, data: dict, hlc: str | None = None) -> dict:
    body = {
        "id": str(uuid.uuid4()),
        "form": form,
        "form_version": 1,
        "campaign": "camp",
        "org_unit": "W1",
        "recorded_at": at,
        "data": data,
    }
    if hlc:
        body["hlc"] = hlc
    return body


def _totals(client, world, who="lead-w1", unit="W1"):
    response = client.get(
        "/api/v1/progress",
        query_string={"campaign": "camp", "org_unit": unit},
        headers=world.headers(who),
    )
    assert response.status_code == 200, response.get_json()
    return {k: v["value"] for k, v in response.get_json()["totals"].items()}


def _queue(client, world, who="lead-w1", status="open"):
    response = client.get(
        "/api/v1/conflicts",
        query_string={"campaign": "camp", "status": status},
        headers=world.headers(who),
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def _two_gifts(phone):
    household = str(uuid.uuid4())
    data = {
        "household_id": household,
        "gift_kind": "pack",
        "round": "2023-tet",
        "value_vnd": 400000,
    }
    first = _sub("gift", "2023-07-29T09:00:00+07:00", data)
    second = _sub("gift", "2023-07-29T10:00:00+07:00", data)
    results = phone.push([second, first]).get_json()["results"]
    return first, second, results


def test_confirmed_double_starts_counting(client, world, phone, session):
    first, second, results = _two_gifts(phone)
    assert results[0]["flags"] == ["suspected_double"] and results[0]["status"] == "conflict"
    assert _totals(client, world)["suspected_doubles"] == 1
    [item] = _queue(client, world)
    assert item["kind"] == "suspected_double" and second["id"] in item["submissions"]

    answer = client.post(
        f"/api/v1/conflicts/{item['id']}/resolve",
        json={"confirm": True},
        headers=world.headers("lead-w1"),
    )
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["status"] == "resolved"
    totals = _totals(client, world)
    assert (totals["gifts_delivered"], totals["gift_value_vnd"], totals["suspected_doubles"]) == (
        2,
        800000,
        0,
    )
    assert _queue(client, world) == []
    assert verify(session) == []
    actions = session.scalars(select(AuditEntry.action)).all()
    session.close()
    assert "review.double" in actions


def test_rejected_double_never_counts(client, world, phone, session):
    _, _, _ = _two_gifts(phone)
    [item] = _queue(client, world)
    client.post(
        f"/api/v1/conflicts/{item['id']}/resolve",
        json={"confirm": False},
        headers=world.headers("lead-w1"),
    )
    totals = _totals(client, world)
    assert (totals["gifts_delivered"], totals["suspected_doubles"]) == (1, 0)
    again = client.post(
        f"/api/v1/conflicts/{item['id']}/resolve",
        json={"confirm": True},
        headers=world.headers("lead-w1"),
    )
    assert again.status_code == 422
    assert verify(session) == []


def test_status_conflict_settled_by_a_correction(client, world, phone, session):
    results = phone.push(
        [
            _sub(
                "activation",
                "2023-07-29T09:00:00+07:00",
                {"citizen_id": "079100000001", "status": "activated"},
            ),
            _sub(
                "activation",
                "2023-07-29T10:00:00+07:00",
                {"citizen_id": "079100000001", "status": "refused"},
            ),
        ]
    ).get_json()["results"]
    assert results[1]["status"] == "conflict"
    totals = _totals(client, world)
    assert (totals["accounts_activated"], totals["refused"], totals["open_conflicts"]) == (1, 1, 1)
    [item] = _queue(client, world)
    assert item["kind"] == "status_conflict"

    answer = client.post(
        f"/api/v1/conflicts/{item['id']}/resolve",
        json={"values": {"status": "installed"}, "reason": "checked by phone"},
        headers=world.headers("lead-w1"),
    )
    assert answer.status_code == 200, answer.get_json()
    totals = _totals(client, world)
    assert (
        totals["accounts_activated"],
        totals["accounts_installed"],
        totals["refused"],
        totals["open_conflicts"],
    ) == (0, 1, 0, 0)
    assert verify(session) == []

    # A phone that later (by clock) reports the activation moves the record up again. Its
    # clock follows the server's, as a phone's hybrid clock does after talking to it.
    server_hlc = phone.push([]).get_json()["server_hlc"]
    later_ms = int(server_hlc.split(":")[0]) + 1
    answer = phone.push(
        [
            _sub(
                "activation",
                "2023-07-29T11:00:00+07:00",
                {"citizen_id": "079100000001", "status": "activated"},
                hlc=f"{later_ms}:0",
            )
        ]
    )
    assert answer.get_json()["results"][0]["status"] == "applied"
    assert _totals(client, world)["accounts_activated"] == 1
    assert verify(session) == []


def test_correction_moves_a_status_down_and_is_audited(client, world, phone, session):
    [result] = phone.push(
        [
            _sub(
                "activation",
                "2023-07-29T09:00:00+07:00",
                {"citizen_id": "079100000009", "status": "activated"},
            )
        ]
    ).get_json()["results"]
    record_id = result["record_id"]
    answer = client.post(
        f"/api/v1/records/{record_id}/correct",
        json={"values": {"status": "visited", "note": "nhập nhầm"}, "reason": "wrong citizen"},
        headers=world.headers("lead-w1"),
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert (body["status"], body["note"], body["record_version"]) == ("visited", "nhập nhầm", 2)
    totals = _totals(client, world)
    assert (totals["accounts_activated"], totals["citizens_reached"]) == (0, 1)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "record.correct")).one()
    assert entry.details["reason"] == "wrong citizen"
    assert verify(session) == []
    pulled = phone.pull().get_json()["changes"]
    [record] = [c for c in pulled if c["entity"] == "activation"]
    assert (record["data"]["status"], record["version"]) == ("visited", 2)


def test_scope_of_the_queue(client, world, phone):
    _two_gifts(phone)
    [item] = _queue(client, world)
    assert _queue(client, world, "lead-c1") != []
    assert _queue(client, world, "lead-w3") == []
    outsider = client.post(
        f"/api/v1/conflicts/{item['id']}/resolve",
        json={"confirm": True},
        headers=world.headers("lead-w3"),
    )
    assert outsider.status_code == 404
    for who, status in (("hq", 403), ("vol-w1", 403), (None, 401)):
        response = client.get(
            "/api/v1/conflicts", query_string={"campaign": "camp"}, headers=world.headers(who)
        )
        assert response.status_code == status
    # A record that exists, in W1: out of lead-w3's scope it is not found and stays as it is;
    # W1's own lead may correct it.
    [result] = phone.push(
        [
            _sub(
                "activation",
                "2023-07-29T09:00:00+07:00",
                {"citizen_id": "079100000077", "status": "activated"},
            )
        ]  # fmt: skip
    ).get_json()["results"]
    correct = f"/api/v1/records/{result['record_id']}/correct"
    body = {"values": {"status": "visited"}, "reason": "x"}
    record_outsider = client.post(correct, json=body, headers=world.headers("lead-w3"))
    assert record_outsider.status_code == 404
    assert _totals(client, world)["accounts_activated"] == 1
    own = client.post(correct, json=body, headers=world.headers("lead-w1"))
    assert own.status_code == 200 and own.get_json()["status"] == "visited"
    assert _totals(client, world)["accounts_activated"] == 0


def test_bad_resolutions(client, world, phone):
    _two_gifts(phone)
    [item] = _queue(client, world)
    url = f"/api/v1/conflicts/{item['id']}/resolve"
    for body, field in (
        ({}, "_schema"),
        ({"confirm": "yes"}, "confirm"),
        ({"values": {"status": "gone"}}, "values.status"),
        ({"values": {"citizen_id": "079100000001"}}, "values.citizen_id"),
    ):
        response = client.post(url, json=body, headers=world.headers("lead-w1"))
        assert response.status_code == 422, (body, response.get_json())
        assert field in response.get_json()["errors"], (body, response.get_json())
