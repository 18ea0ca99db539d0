"""Every endpoint × every role, in and out of scope: the status each must get, and a refused
call writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from sync.models import Campaign, EnrollmentCode, OrgUnit, Target, User

ROLES = ["admin", "hq", "lead-c1", "lead-w1", "lead-w3", "vol-w1", None]


def _rows(session) -> tuple:
    try:
        return tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (OrgUnit, Campaign, Target, User, EnrollmentCode)
        )
    finally:
        session.close()


WRITES = {
    # name: (method, url, body, {role: expected status})
    "create org unit": (
        "POST",
        "/api/v1/org-units",
        {"code": "W9", "name": "Ward Nine", "parent": "C1"},
        {
            "admin": 201,
            "hq": 403,
            "lead-c1": 403,
            "lead-w1": 403,
            "lead-w3": 403,
            "vol-w1": 403,
            None: 401,
        },
    ),
    "create campaign": (
        "POST",
        "/api/v1/campaigns",
        {"code": "c2", "name": "Two", "starts_on": "2024-01-01", "ends_on": "2024-02-01"},
        {
            "admin": 201,
            "hq": 403,
            "lead-c1": 403,
            "lead-w1": 403,
            "lead-w3": 403,
            "vol-w1": 403,
            None: 401,
        },
    ),
    "set targets": (
        "PUT",
        "/api/v1/campaigns/camp/targets",
        [{"org_unit": "W1", "metric": "accounts_activated", "value": 100}],
        {
            "admin": 200,
            "hq": 403,
            "lead-c1": 403,
            "lead-w1": 403,
            "lead-w3": 403,
            "vol-w1": 403,
            None: 401,
        },
    ),
    "create volunteer in W1": (
        "POST",
        "/api/v1/users",
        {"username": "new-vol", "role": "volunteer", "org_units": ["W1"]},
        {
            "admin": 201,
            "hq": 403,
            "lead-c1": 201,
            "lead-w1": 201,
            "lead-w3": 403,
            "vol-w1": 403,
            None: 401,
        },
    ),
    "create lead in W1": (
        "POST",
        "/api/v1/users",
        {"username": "new-lead", "role": "lead", "org_units": ["W1"]},
        {
            "admin": 201,
            "hq": 403,
            "lead-c1": 403,
            "lead-w1": 403,
            "lead-w3": 403,
            "vol-w1": 403,
            None: 401,
        },
    ),
    "enrollment code for W1": (
        "POST",
        "/api/v1/enrollment-codes",
        {"volunteer": "vol-w1", "org_units": ["W1"]},
        {
            "admin": 201,
            "hq": 403,
            "lead-c1": 201,
            "lead-w1": 201,
            "lead-w3": 403,
            "vol-w1": 403,
            None: 401,
        },
    ),
}


@pytest.mark.parametrize("who", ROLES, ids=lambda r: r or "anonymous")
@pytest.mark.parametrize("name", list(WRITES))
def test_writes(client, world, session, name, who):
    method, url, body, expected = WRITES[name]
    before = _rows(session)
    response = client.open(url, method=method, json=body, headers=world.headers(who))
    assert response.status_code == expected[who], response.get_json()
    if expected[who] >= 400:
        assert response.content_type == "application/problem+json"
        assert _rows(session) == before
    else:
        assert _rows(session) != before


READS = {
    "children of C1": (
        "/api/v1/org-units?parent=C1",
        {
            "admin": ["W1", "W2"],
            "hq": ["W1", "W2"],
            "lead-c1": ["W1", "W2"],
            "lead-w1": ["W1"],
            "lead-w3": 404,
            "vol-w1": ["W1"],
            None: 401,
        },
    ),
    "roots": (
        "/api/v1/org-units",
        {
            "admin": ["P"],
            "hq": ["P"],
            "lead-c1": ["C1"],
            "lead-w1": ["W1"],
            "lead-w3": ["W3"],
            "vol-w1": ["W1"],
            None: 401,
        },
    ),
    "campaigns": (
        "/api/v1/campaigns",
        {
            "admin": ["camp"],
            "hq": ["camp"],
            "lead-c1": ["camp"],
            "lead-w1": ["camp"],
            "lead-w3": ["camp"],
            "vol-w1": ["camp"],
            None: 401,
        },
    ),
    "devices": (
        "/api/v1/devices",
        {
            "admin": [],
            "hq": 403,
            "lead-c1": [],
            "lead-w1": [],
            "lead-w3": [],
            "vol-w1": 403,
            None: 401,
        },
    ),
}


@pytest.mark.parametrize("who", ROLES, ids=lambda r: r or "anonymous")
@pytest.mark.parametrize("name", list(READS))
def test_reads(client, world, name, who):
    url, expected = READS[name]
    response = client.get(url, headers=world.headers(who))
    if isinstance(expected[who], int):
        assert response.status_code == expected[who]
        assert response.content_type == "application/problem+json"
        return
    assert response.status_code == 200, response.get_json()
    codes = [i.get("code") or i.get("device_id") for i in response.get_json()["items"]]
    assert codes == expected[who]


def test_devices_are_listed_within_scope_only(client, world):
    code = client.post(
        "/api/v1/enrollment-codes",
        json={"volunteer": "vol-w1", "org_units": ["W1"]},
        headers=world.headers("lead-w1"),
    ).get_json()["code"]
    device = client.post("/api/v1/devices/enroll", json={"code": code, "name": "A"}).get_json()
    listed = {
        who: [
            d["device_id"]
            for d in client.get("/api/v1/devices", headers=world.headers(who)).get_json()["items"]
        ]
        for who in ("admin", "lead-c1", "lead-w1", "lead-w3")
    }
    assert listed == {
        "admin": [device["device_id"]],
        "lead-c1": [device["device_id"]],
        "lead-w1": [device["device_id"]],
        "lead-w3": [],
    }
