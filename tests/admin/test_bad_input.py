"""Bad input on every endpoint with a body: a problem+json naming the field, never a 500,
never a partial write."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from sync.models import Campaign, EnrollmentCode, OrgUnit, Target, User

ENDPOINTS = {
    "org unit": ("POST", "/api/v1/org-units", "admin"),
    "campaign": ("POST", "/api/v1/campaigns", "admin"),
    "targets": ("PUT", "/api/v1/campaigns/camp/targets", "admin"),
    "user": ("POST", "/api/v1/users", "admin"),
    "enrollment code": ("POST", "/api/v1/enrollment-codes", "lead-c1"),
    "enroll": ("POST", "/api/v1/devices/enroll", None),
    "openrosa device": ("POST", "/api/v1/devices/openrosa", "lead-c1"),
    "login": ("POST", "/api/v1/auth/login", None),
    "refresh": ("POST", "/api/v1/auth/refresh", None),
    "push": ("POST", "/api/v1/sync/push", "phone"),
}


def _rows(session) -> tuple:
    try:
        return tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (OrgUnit, Campaign, Target, User, EnrollmentCode)
        )
    finally:
        session.close()


def _headers(world, phone, who):
    return phone.headers if who == "phone" else world.headers(who)


def _problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_malformed_json_is_400(client, world, phone, session, name):
    method, url, who = ENDPOINTS[name]
    before = _rows(session)
    response = client.open(
        url,
        method=method,
        data='{"code": ',
        content_type="application/json",
        headers=_headers(world, phone, who),
    )
    _problem(response, 400)
    assert _rows(session) == before


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_not_json_is_415(client, world, phone, name):
    method, url, who = ENDPOINTS[name]
    response = client.open(
        url,
        method=method,
        data="code=W9",
        content_type="text/plain",
        headers=_headers(world, phone, who),
    )
    _problem(response, 415)


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_body_over_5_mib_is_413(client, world, phone, name):
    method, url, who = ENDPOINTS[name]
    body = '{"name": "' + "x" * (5 * 1024 * 1024 + 10) + '"}'
    response = client.open(
        url,
        method=method,
        data=body,
        content_type="application/json",
        headers=_headers(world, phone, who),
    )
    _problem(response, 413)


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_nested_past_the_parser_is_400(client, world, phone, name):
    method, url, who = ENDPOINTS[name]
    body = "[" * 50_000 + "]" * 50_000
    response = client.open(
        url,
        method=method,
        data=body,
        content_type="application/json",
        headers=_headers(world, phone, who),
    )
    _problem(response, 400)


CASES = [
    # (endpoint, body, field paths that must be named)
    ("org unit", {}, ["code", "name"]),
    ("org unit", {"code": 5, "name": ["x"]}, ["code", "name"]),
    ("org unit", {"code": "W 9", "name": "n"}, ["code"]),
    ("org unit", {"code": "W9\n", "name": "n"}, ["code"]),
    ("org unit", {"code": "W9", "name": "n" * 101}, ["name"]),
    ("org unit", {"code": "W9", "name": "bad\x00name"}, ["name"]),
    ("org unit", {"code": "W9", "name": "n", "extra": 1}, ["extra"]),
    ("org unit", {"code": "W9", "name": "n", "parent": "NOPE"}, ["parent"]),
    (
        "campaign",
        {"code": "c2", "name": "n", "starts_on": "2024-13-01", "ends_on": "x"},
        ["starts_on", "ends_on"],
    ),
    (
        "campaign",
        {"code": "c2", "name": "n", "starts_on": "2024-02-01", "ends_on": "2024-01-01"},
        ["ends_on"],
    ),
    (
        "campaign",
        {
            "code": "c2",
            "name": "n",
            "starts_on": "2024-01-01",
            "ends_on": "2024-02-01",
            "timezone": "Mars/Olympus",
        },
        ["timezone"],
    ),
    ("targets", {"org_unit": "W1"}, ["_schema"]),
    ("targets", [{"org_unit": "W1", "metric": "accounts_activated", "value": "12"}], ["0.value"]),
    (
        "targets",
        [
            {"org_unit": "W1", "metric": "accounts_activated", "value": 1},
            {"org_unit": "W1", "metric": "smiles", "value": 1},
        ],
        ["1.metric"],
    ),
    (
        "targets",
        [
            {"org_unit": "W1", "metric": "accounts_activated", "value": 1},
            {"org_unit": "W1", "metric": "refused", "value": -1},
        ],
        ["1.value"],
    ),
    (
        "targets",
        [
            {"org_unit": "W1", "metric": "accounts_activated", "value": 1},
            {"org_unit": "NOPE", "metric": "refused", "value": 1},
        ],
        ["1.org_unit"],
    ),
    (
        "user",
        {"username": "a b", "role": "king", "org_units": "W1"},
        ["username", "role", "org_units"],
    ),
    ("user", {"username": "new-vol", "role": "volunteer", "org_units": []}, ["org_units"]),
    (
        "user",
        {"username": "new-vol", "role": "volunteer", "org_units": ["W1"], "password": "short"},
        ["password"],
    ),
    ("enrollment code", {"volunteer": "vol-w1", "org_units": ["W2"]}, ["org_units"]),
    ("enrollment code", {"volunteer": "nobody", "org_units": ["W1"]}, ["volunteer"]),
    ("enroll", {"code": 5}, ["code", "name"]),
    ("login", {"username": "x"}, ["password"]),
    ("push", {"submissions": "all of them"}, ["submissions"]),
    ("push", {"submissions": [], "extra": True}, ["extra"]),
]


@pytest.mark.parametrize(("name", "body", "fields"), CASES)
def test_invalid_body_is_422_naming_the_field(client, world, phone, session, name, body, fields):
    method, url, who = ENDPOINTS[name]
    before = _rows(session)
    response = client.open(url, method=method, json=body, headers=_headers(world, phone, who))
    problem = _problem(response, 422)
    for field in fields:
        assert field in problem["errors"], problem
    assert _rows(session) == before


def test_unknown_paths_and_methods(client, world):
    _problem(client.get("/api/v1/nothing-here", headers=world.headers("admin")), 404)
    response = client.delete("/api/v1/campaigns", headers=world.headers("admin"))
    _problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_an_unexpected_error_is_500_and_leaks_nothing(app, client):
    @app.get("/api/v1/test-boom")
    def boom():
        raise RuntimeError("secret detail: password=hunter2")

    problem = _problem(client.get("/api/v1/test-boom"), 500)
    assert "hunter2" not in str(problem) and "RuntimeError" not in str(problem)
