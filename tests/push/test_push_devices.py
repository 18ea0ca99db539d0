"""Enrolment codes, enrolment, device tokens and their revocation, through the API."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from kit.enrol import enroll_phone
from push_kit import (
    activation,
    count,
    get,
    household_help,
    new_id,
    read,
    statuses,
    submission_count,
)
from sqlalchemy import select, update

from sync.models import Device, EnrollmentCode, OrgUnit, utcnow

PROBLEM = "application/problem+json"


def create_code(client, world, lead="lead-w1", volunteer="vol-w1", units=("W1",)):
    return client.post(
        "/api/v1/enrollment-codes",
        json={"volunteer": volunteer, "org_units": list(units)},
        headers=world.headers(lead),
    )


def enroll(client, code: str, name: str = "phone"):
    return client.post("/api/v1/devices/enroll", json={"code": code, "name": name})


def device_count(session) -> int:
    return count(session, Device)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def push_one(client, token: str):
    item = household_help(new_id())
    return client.post("/api/v1/sync/push", json={"submissions": [item]}, headers=bearer(token))


def pull(client, token: str):
    return client.get("/api/v1/sync/pull", headers=bearer(token))


# --- enrolment codes ---------------------------------------------------------------------------


def test_a_code_enrols_one_device_only(client, world, session):
    created = create_code(client, world)
    assert created.status_code == 201
    body = created.get_json()
    assert set(body) == {"code", "expires_at"}

    first = enroll(client, body["code"])
    assert first.status_code == 201
    assert set(first.get_json()) >= {"device_id", "access_token", "refresh_token", "expires_in"}

    second = enroll(client, body["code"], "another phone")
    assert second.status_code == 401
    assert second.mimetype == PROBLEM
    assert "access_token" not in second.get_json()
    assert device_count(session) == 1


def test_an_unknown_code_is_refused(client, world, session):
    response = enroll(client, "not-a-code-anyone-was-given")
    assert response.status_code == 401
    assert response.mimetype == PROBLEM
    assert device_count(session) == 0


def test_an_expired_code_is_refused(client, world, session):
    code = create_code(client, world).get_json()["code"]
    session.execute(
        update(EnrollmentCode)
        .where(EnrollmentCode.code_hash == hashlib.sha256(code.encode()).hexdigest())
        .values(expires_at=utcnow() - timedelta(minutes=1))
    )
    session.commit()

    response = enroll(client, code)
    assert response.status_code == 401
    assert response.mimetype == PROBLEM
    assert device_count(session) == 0


def test_code_units_must_lie_within_the_volunteers_own(client, world, session):
    # lead-c1 may hand out W2 and C1, but vol-w1 works in W1 only.
    for units in (("W2",), ("C1",), ("W1", "W2")):
        response = create_code(client, world, lead="lead-c1", units=units)
        assert response.status_code == 422, units
        assert response.mimetype == PROBLEM
        assert "org_units" in response.get_json()["errors"]
    assert create_code(client, world, lead="lead-c1", units=("W1",)).status_code == 201


def test_a_lead_out_of_scope_cannot_create_a_code(client, world, session):
    response = create_code(client, world, lead="lead-w3", units=("W1",))
    assert response.status_code == 403
    assert response.mimetype == PROBLEM
    assert "code" not in response.get_json()
    assert count(session, EnrollmentCode) == 0


def test_volunteers_and_hq_cannot_create_codes(client, world, session):
    for who in ("vol-w1", "hq"):
        response = create_code(client, world, lead=who)
        assert response.status_code == 403, who
        assert response.mimetype == PROBLEM
    assert create_code(client, world, lead=None).status_code == 401
    assert count(session, EnrollmentCode) == 0


# --- which token goes where --------------------------------------------------------------------


def test_a_device_token_pushes_and_pulls(phone, session):
    pushed = phone.push([activation("079123456789", "installed")])
    assert pushed.status_code == 200
    assert statuses(pushed) == ["applied"]
    pulled = phone.pull()
    assert pulled.status_code == 200
    assert any(c["entity"] == "activation" for c in pulled.get_json()["changes"])
    assert submission_count(session) == 1


def test_a_user_token_cannot_push_or_pull(client, world, phone, session):
    item = household_help(new_id())
    for who in ("vol-w1", "lead-w1", "admin"):
        response = client.post(
            "/api/v1/sync/push", json={"submissions": [item]}, headers=world.headers(who)
        )
        assert response.status_code == 403, who
        assert response.mimetype == PROBLEM
        pulled = client.get("/api/v1/sync/pull", headers=world.headers(who))
        assert pulled.status_code == 403, who
    assert submission_count(session) == 0


def test_a_device_token_cannot_reach_administration(client, world, phone, session):
    response = client.post(
        "/api/v1/org-units",
        json={"code": "W9", "name": "Ward Nine", "parent": "C1"},
        headers=phone.headers,
    )
    assert response.status_code == 403
    assert response.mimetype == PROBLEM
    assert read(session, lambda s: s.scalar(select(OrgUnit).where(OrgUnit.code == "W9"))) is None

    for method, path, body in (
        ("post", "/api/v1/enrollment-codes", {"volunteer": "vol-w1", "org_units": ["W1"]}),
        ("delete", f"/api/v1/devices/{phone.device_id}", None),
    ):
        answer = getattr(client, method)(path, json=body, headers=phone.headers)
        assert answer.status_code == 403, path
    assert push_one(client, phone.access_token).status_code == 200  # not revoked by itself


# --- revocation --------------------------------------------------------------------------------


def test_revoking_a_device_stops_its_tokens_at_once(client, world, phone, session):
    assert push_one(client, phone.access_token).status_code == 200

    response = client.delete(f"/api/v1/devices/{phone.device_id}", headers=world.headers("lead-w1"))
    assert response.status_code == 204

    pushed = push_one(client, phone.access_token)
    assert pushed.status_code == 401
    assert pushed.mimetype == PROBLEM
    assert pull(client, phone.access_token).status_code == 401
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": phone.refresh_token})
    assert refreshed.status_code == 401
    assert "access_token" not in refreshed.get_json()
    assert submission_count(session) == 1  # only the push made before the revocation

    assert get(session, Device, phone.device_id).revoked_at is not None


def test_revoking_with_a_refreshed_token_in_hand(client, world, phone, session):
    """Tokens issued by refresh before the revocation stop working too."""
    pair = client.post("/api/v1/auth/refresh", json={"refresh_token": phone.refresh_token})
    assert pair.status_code == 200
    token = pair.get_json()["access_token"]
    assert push_one(client, token).status_code == 200

    response = client.delete(f"/api/v1/devices/{phone.device_id}", headers=world.headers("lead-c1"))
    assert response.status_code == 204
    assert push_one(client, token).status_code == 401
    assert pull(client, token).status_code == 401
    again = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": pair.get_json()["refresh_token"]}
    )
    assert again.status_code == 401


def test_a_lead_out_of_scope_cannot_revoke(client, world, phone, session):
    response = client.delete(f"/api/v1/devices/{phone.device_id}", headers=world.headers("lead-w3"))
    assert response.status_code == 404
    assert response.mimetype == PROBLEM
    for who in ("vol-w1", "hq"):
        refused = client.delete(f"/api/v1/devices/{phone.device_id}", headers=world.headers(who))
        assert refused.status_code == 403, who

    assert push_one(client, phone.access_token).status_code == 200
    assert pull(client, phone.access_token).status_code == 200
    assert get(session, Device, phone.device_id).revoked_at is None

    unknown = client.delete(f"/api/v1/devices/{'0' * 32}", headers=world.headers("lead-w3"))
    assert unknown.status_code == 404  # alike: existence out of scope is private


def test_revoking_one_device_leaves_the_others(client, world, phone, session):
    other = enroll_phone(client, world)
    response = client.delete(f"/api/v1/devices/{phone.device_id}", headers=world.headers("admin"))
    assert response.status_code == 204
    assert push_one(client, phone.access_token).status_code == 401
    assert push_one(client, other.access_token).status_code == 200


# --- refresh -----------------------------------------------------------------------------------


def test_a_refreshed_device_token_is_still_a_device_token(client, world, phone, session):
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": phone.refresh_token})
    assert response.status_code == 200
    pair = response.get_json()
    assert pair["access_token"] != phone.access_token
    assert pair["refresh_token"] != phone.refresh_token

    token = pair["access_token"]
    pushed = client.post(
        "/api/v1/sync/push",
        json={"submissions": [activation("079123456789", "visited")]},
        headers=bearer(token),
    )
    assert pushed.status_code == 200
    assert statuses(pushed) == ["applied"]
    # Still held to the device's scope, W1: W2 is out of it.
    out = client.post(
        "/api/v1/sync/push",
        json={"submissions": [household_help(new_id(), org_unit="W2")]},
        headers=bearer(token),
    )
    assert statuses(out) == ["rejected"]
    assert pull(client, token).status_code == 200
    # ...and still refused where a device token may not go.
    admin = client.post(
        "/api/v1/org-units",
        json={"code": "W9", "name": "Nine", "parent": "C1"},
        headers=bearer(token),
    )
    assert admin.status_code == 403
