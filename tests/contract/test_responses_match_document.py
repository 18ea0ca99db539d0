"""Real answers of the API, on both databases, checked against the document it serves:
status declared, media type declared, body valid against the declared schema."""

from __future__ import annotations

import uuid

import pytest
from document_kit import assert_matches
from kit.enrol import enroll_phone

AT = "2023-07-29T09:15:00+07:00"
WALL = 1_690_596_900_000  # AT in epoch milliseconds


@pytest.fixture
def spec(client):
    return client.get("/api/v1/openapi.json").get_json()


def item(form: str, data: dict, minute: int = 0, **extra) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "form": form,
        "form_version": 1,
        "campaign": "camp",
        "org_unit": "W1",
        "recorded_at": AT,
        "hlc": f"{WALL + minute * 60_000}:0:phone",
        "data": data,
        **extra,
    }


def busy_day(household: str) -> list[dict]:
    """Every kind of result: applied, conflict (status and double), rejected."""
    return [
        item("activation", {"citizen_id": "079123456789", "status": "activated"}, 0),
        item("activation", {"citizen_id": "079123456789", "status": "refused"}, 1),
        item("gift", {"household_id": household, "gift_kind": "rice", "round": "r1"}, 2),
        item("gift", {"household_id": household, "gift_kind": "rice", "round": "r1"}, 3),
        item("household_help", {"household_id": household, "kind": "cleanup", "hours": 1.5}, 4),
        item("activation", {"citizen_id": "12", "status": "visited"}, 5),
        {"form": "activation"},  # no id at all: its result's id is null
    ]


def test_push_and_pull_match_the_document(client, phone, spec):
    batch = busy_day(str(uuid.uuid4()))
    first = assert_matches(spec, "post", "/api/v1/sync/push", phone.push(batch))
    assert {r["status"] for r in first["results"]} == {"applied", "conflict", "rejected"}
    assert first["results"][-1]["id"] is None
    again = assert_matches(spec, "post", "/api/v1/sync/push", phone.push(batch[:5]))
    assert {r["status"] for r in again["results"]} == {"duplicate"}

    page = assert_matches(spec, "get", "/api/v1/sync/pull", phone.pull(limit=3))
    assert page["has_more"] is True
    rest = assert_matches(spec, "get", "/api/v1/sync/pull", phone.pull(page["next_cursor"]))
    entities = {c["entity"] for c in page["changes"] + rest["changes"]}
    assert {"org_unit", "campaign", "household", "activation"} <= entities


def test_review_answers_match_the_document(client, world, phone, spec):
    phone.push(busy_day(str(uuid.uuid4())))
    lead = world.headers("lead-w1")
    listed = assert_matches(
        spec,
        "get",
        "/api/v1/conflicts",
        client.get("/api/v1/conflicts?campaign=camp", headers=lead),
    )
    kinds = {i["kind"]: i for i in listed["items"]}
    assert {"status_conflict", "suspected_double"} <= set(kinds)

    double = kinds["suspected_double"]["id"]
    resolved = client.post(
        f"/api/v1/conflicts/{double}/resolve", json={"confirm": True}, headers=lead
    )
    body = assert_matches(spec, "post", "/api/v1/conflicts/{item_id}/resolve", resolved)
    assert body["status"] == "resolved"

    record = kinds["status_conflict"]["record_id"]
    corrected = client.post(
        f"/api/v1/records/{record}/correct",
        json={"values": {"status": "installed", "note": "checked"}, "reason": "phone shown"},
        headers=lead,
    )
    body = assert_matches(spec, "post", "/api/v1/records/{record_id}/correct", corrected)
    assert body["status"] == "installed" and body["note"] == "checked"

    done = client.get("/api/v1/conflicts?campaign=camp&status=resolved", headers=lead)
    assert assert_matches(spec, "get", "/api/v1/conflicts", done)["items"]


def test_administration_answers_match_the_document(client, world, phone, spec):
    admin = world.headers("admin")
    phone.push(busy_day(str(uuid.uuid4())))
    targets = client.put(
        "/api/v1/campaigns/camp/targets",
        json=[{"org_unit": "W1", "metric": "citizens_reached", "value": 10}],
        headers=admin,
    )
    assert_matches(spec, "put", "/api/v1/campaigns/{code}/targets", targets)
    progress = client.get("/api/v1/progress?campaign=camp&org_unit=C1&daily=1", headers=admin)
    body = assert_matches(spec, "get", "/api/v1/progress", progress)
    assert body["totals"]["citizens_reached"]["percent"] == 10.0
    assert body["totals"]["refused"]["target"] is None and body["daily"]

    lost = enroll_phone(client, world)
    client.delete(f"/api/v1/devices/{lost.device_id}", headers=admin)
    devices = assert_matches(
        spec, "get", "/api/v1/devices", client.get("/api/v1/devices", headers=admin)
    )
    assert {d["revoked_at"] is None for d in devices["items"]} == {True, False}

    for method, path, url, body in [
        ("post", "/api/v1/api-keys", "/api/v1/api-keys", {"name": "n", "scope": "export"}),
        ("post", "/api/v1/org-units", "/api/v1/org-units", {"code": "W9", "name": "Nine"}),
        ("get", "/api/v1/org-units", "/api/v1/org-units", None),
        ("get", "/api/v1/campaigns", "/api/v1/campaigns", None),
        (
            "post",
            "/api/v1/users",
            "/api/v1/users",
            {"username": "vol-new", "role": "volunteer", "org_units": ["W1"]},
        ),
        (
            "post",
            "/api/v1/enrollment-codes",
            "/api/v1/enrollment-codes",
            {"volunteer": "vol-w1", "org_units": ["W1"]},
        ),
    ]:
        response = client.open(url, method=method.upper(), json=body, headers=admin)
        assert response.status_code < 300, (url, response.get_json())
        assert_matches(spec, method, path, response)


def test_login_and_refresh_match_the_document(client, world, spec):
    client.post(
        "/api/v1/users",
        json={"username": "lead-new", "role": "lead", "org_units": ["W1"], "password": "x" * 12},
        headers=world.headers("admin"),
    )
    login = client.post("/api/v1/auth/login", json={"username": "lead-new", "password": "x" * 12})
    pair = assert_matches(spec, "post", "/api/v1/auth/login", login)
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert_matches(spec, "post", "/api/v1/auth/refresh", refreshed)
    wrong = client.post("/api/v1/auth/login", json={"username": "lead-new", "password": "nope"})
    assert_matches(spec, "post", "/api/v1/auth/login", wrong)


def test_exports_match_the_document(client, world, phone, spec):
    phone.push(busy_day(str(uuid.uuid4())))
    hq = world.headers("hq")
    for path, query in [
        ("/api/v1/exports/submissions", "campaign=camp&form=activation&format=csv"),
        ("/api/v1/exports/submissions", "campaign=camp&format=ndjson"),
        ("/api/v1/exports/submissions", "campaign=camp&format=xlsx"),
        ("/api/v1/exports/progress", "campaign=camp&org_unit=C1&format=csv"),
        ("/api/v1/exports/progress", "campaign=camp&org_unit=C1&format=xlsx"),
        ("/api/v1/exports/follow-ups", "campaign=camp&org_unit=W1"),
    ]:
        response = client.get(f"{path}?{query}", headers=hq)
        assert response.status_code == 200, (path, query)
        assert_matches(spec, "get", path, response)


def test_errors_match_the_document(client, world, phone, spec):
    admin = world.headers("admin")
    push = "/api/v1/sync/push"
    cases = [
        ("post", push, client.post(push, data="{", content_type="application/json", **_h(phone))),
        ("post", push, client.post(push, data="x", content_type="text/plain", **_h(phone))),
        ("post", push, client.post(push, json={"submissions": [{}] * 1001}, **_h(phone))),
        ("post", push, client.post(push, json={"submissions": 1}, **_h(phone))),
        ("post", push, client.post(push, json={"submissions": []}, headers=admin)),
        ("post", push, client.post(push, json={"submissions": []})),
        ("get", "/api/v1/sync/pull", phone.pull("not-a-cursor")),
        ("get", "/api/v1/sync/pull", phone.pull(limit=0)),
        (
            "get",
            "/api/v1/progress",
            client.get("/api/v1/progress?campaign=x&org_unit=W1", headers=admin),
        ),
        ("get", "/api/v1/devices", client.get("/api/v1/devices", **_h(phone))),
        (
            "post",
            "/api/v1/org-units",
            client.post("/api/v1/org-units", json={"code": "W1", "name": "x"}, headers=admin),
        ),
        (
            "delete",
            "/api/v1/devices/{device_id}",
            client.delete("/api/v1/devices/nope", headers=admin),
        ),
    ]
    seen = set()
    for method, path, response in cases:
        body = assert_matches(spec, method, path, response)
        assert body["status"] == response.status_code
        seen.add(response.status_code)
    assert seen == {400, 401, 403, 404, 409, 413, 415, 422}


def _h(phone) -> dict:
    return {"headers": phone.headers}
