"""The input gate: text that is not valid Unicode, or holds control characters, is refused
naming the field, on every kind of endpoint, and nothing of it is stored."""

from __future__ import annotations

import json
import uuid

import pytest
from kit.enrol import enroll_phone
from sqlalchemy import func, select

from sync.models import AuditEntry, OrgUnit, Submission, User

AT = "2023-07-29T09:15:00+07:00"
WALL = 1_690_596_900_000
LONE = "\ud800"  # a lone high surrogate: no UTF-8 for it exists
CESU = b"\xed\xa0\x80"  # the same as CESU-8 bytes, which Python's json would decode to it


def raw_json(obj) -> bytes:
    """JSON with any lone surrogate written as a \\u escape (valid JSON syntax)."""
    return json.dumps(obj, ensure_ascii=True).encode()


def post(client, url, body: bytes, headers=None):
    return client.post(
        url, data=body, headers={"Content-Type": "application/json", **(headers or {})}
    )


def help_item(note: str | None = None, **overrides) -> dict:
    data = {"household_id": str(uuid.uuid4()), "kind": "cleanup"}
    if note is not None:
        data["note"] = note
    item = {
        "id": str(uuid.uuid4()),
        "form": "household_help",
        "form_version": 1,
        "campaign": "camp",
        "org_unit": "W1",
        "recorded_at": AT,
        "hlc": f"{WALL}:0:p",
        "data": data,
    }
    item.update(overrides)
    return item


def count(session, model) -> int:
    try:
        return session.scalar(select(func.count()).select_from(model))
    finally:
        session.close()


def problem_fields(response) -> dict:
    assert response.content_type == "application/problem+json", response.data[:300]
    return response.get_json().get("errors", {})


# --- push: one bad item is rejected on its own ------------------------------------------------


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"note": "nhà " + LONE}, "data.note"),
        ({"household_address": "ngõ 5\u0085"}, "data.household_address"),  # C1 NEL
        ({"note": "a\x00b"}, "data.note"),
        ({"note": "a\x9bb"}, "data.note"),  # C1 CSI
        ({LONE: 1}, "data.<invalid name>"),
    ],
)
def test_push_rejects_the_bad_item_and_keeps_its_neighbours(phone, session, bad, field):
    good_before, good_after = help_item(), help_item()
    bad_item = help_item()
    bad_item["data"].update(bad)
    body = raw_json({"submissions": [good_before, bad_item, good_after]})
    response = post(phone.client, "/api/v1/sync/push", body, phone.headers)
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["applied", "rejected", "applied"]
    assert field in results[1]["errors"], results[1]
    assert results[1]["id"] == bad_item["id"]
    assert count(session, Submission) == 2


def test_push_item_whose_id_is_not_text_is_answered_without_echoing_it(phone, session):
    item = help_item(id="abc" + LONE)
    response = post(
        phone.client, "/api/v1/sync/push", raw_json({"submissions": [item]}), phone.headers
    )
    assert response.status_code == 200
    (result,) = response.get_json()["results"]
    assert result["status"] == "rejected" and result["id"] is None
    assert "id" in result["errors"]
    assert count(session, Submission) == 0


def test_push_hlc_with_non_ascii_digits_is_rejected(phone, session):
    item = help_item(hlc="١٢٣:0:x")
    (result,) = phone.push([item]).get_json()["results"]
    assert result["status"] == "rejected" and "hlc" in result["errors"]
    assert count(session, Submission) == 0


def test_cesu8_bytes_make_the_body_malformed(phone, session):
    body = raw_json({"submissions": [help_item(note="XX")]}).replace(b"XX", CESU)
    response = post(phone.client, "/api/v1/sync/push", body, phone.headers)
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert count(session, Submission) == 0


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_json_numbers_are_malformed(phone, constant):
    item = raw_json({"submissions": [help_item()]}).replace(b'"kind"', b'"hours": X, "kind"')
    response = post(phone.client, "/api/v1/sync/push", item.replace(b"X", constant), phone.headers)
    assert response.status_code == 400


def test_a_charset_other_than_utf8_is_refused(phone):
    body = json.dumps({"submissions": []}).encode("latin-1")
    response = phone.client.post(
        "/api/v1/sync/push",
        data=body,
        headers={**phone.headers, "Content-Type": "application/json; charset=latin-1"},
    )
    assert response.status_code == 415


# --- endpoints without a token ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, body, field",
    [
        ("/api/v1/auth/login", {"username": "ad" + LONE, "password": "x"}, "username"),
        ("/api/v1/auth/login", {"username": "admin", "password": LONE}, "password"),
        ("/api/v1/auth/refresh", {"refresh_token": "t" + LONE}, "refresh_token"),
        ("/api/v1/devices/enroll", {"code": "c" + LONE, "name": "p"}, "code"),
        ("/api/v1/devices/enroll", {"code": "c", "name": "p\u0090"}, "name"),
    ],
)
def test_tokenless_endpoints_refuse_bad_text(client, world, url, body, field):
    response = post(client, url, raw_json(body))
    assert response.status_code == 422
    assert field in problem_fields(response)


@pytest.mark.parametrize(
    "url", ["/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/devices/enroll"]
)
def test_tokenless_endpoints_refuse_cesu8(client, world, url):
    response = post(client, url, b'{"username": "a' + CESU + b'", "code": "x", "name": "y"}')
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"


# --- administration and the lead's actions ------------------------------------------------------


def test_admin_endpoints_refuse_bad_text_and_write_nothing(client, world, session):
    units, people = count(session, OrgUnit), count(session, User)
    headers = world.headers("admin")
    for url, body, field in [
        ("/api/v1/org-units", {"code": "W9", "name": "x" + LONE, "parent": "C1"}, "name"),
        (
            "/api/v1/users",
            {"username": "v9", "role": "volunteer", "org_units": ["W1" + LONE]},
            "org_units.0",
        ),
        (
            "/api/v1/campaigns",
            {"code": "c9", "name": "n", "starts_on": "2024-01-01" + LONE, "ends_on": "2024-02-01"},
            "starts_on",
        ),
    ]:
        response = post(client, url, raw_json(body), headers)
        assert response.status_code == 422, (url, response.get_json())
        assert field in problem_fields(response)
    assert (count(session, OrgUnit), count(session, User)) == (units, people)


def test_a_correction_with_a_lone_surrogate_is_refused_and_not_stored(client, world, session):
    phone = enroll_phone(client, world)
    item = help_item()
    item.update(form="activation", data={"citizen_id": "001203004005", "status": "installed"})
    record_id = phone.push([item]).get_json()["results"][0]["record_id"]
    audits = count(session, AuditEntry)
    response = post(
        client,
        f"/api/v1/records/{record_id}/correct",
        raw_json({"values": {"status": "visited"}, "reason": "sai " + LONE}),
        world.headers("lead-w1"),
    )
    assert response.status_code == 422
    assert "reason" in problem_fields(response)
    assert count(session, AuditEntry) == audits
    pulled = phone.pull().get_json()["changes"]
    record = next(c for c in pulled if c["entity"] == "activation")
    assert record["data"]["status"] == "installed"


# --- query strings, paths, headers and form bodies ----------------------------------------------


@pytest.mark.parametrize("raw", ["%ED%A0%80", "%FF", "%C0%AF", "a%00b", "%C2%85"])
def test_query_strings_must_be_valid_text(client, world, raw):
    response = client.get(
        f"/api/v1/progress?campaign=camp&org_unit={raw}", headers=world.headers("admin")
    )
    assert response.status_code == 400
    assert "org_unit" in problem_fields(response)


def test_path_parameters_must_be_valid_text(client, world):
    response = client.delete("/api/v1/devices/ab%00cd", headers=world.headers("admin"))
    assert response.status_code == 400
    assert "device_id" in problem_fields(response)


def test_headers_taken_as_data_must_be_ascii(client, world):
    response = client.get("/api/v1/org-units", headers={"Authorization": "Bearer ab\u00e9cd"})
    assert response.status_code == 400
    assert "Authorization" in problem_fields(response)


def test_web_form_bodies_must_be_valid_utf8(client, world):
    response = client.post(
        "/login",
        data=b"username=ad%ED%A0%80min&password=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert response.content_type.startswith("text/html")  # a page for a page's form
    assert "username" in response.get_data(as_text=True)
