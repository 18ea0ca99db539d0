"""The grace window for lost answers (WARDSYNC_REFRESH_GRACE_S): a refresh token or an enrolment
code presented again soon after its first use, before anything newer was used, works and
revokes nothing; a replay after a later token was used, or after the window, revokes the family.

The window is judged from the database alone (when the token was used, what it was issued
for), so every worker and host judges alike; "after the window" is made by moving the stored
time of first use back, not by waiting.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from sync.accounts import users
from sync.models import Device, EnrollmentCode, RefreshToken, TokenFamily

PASSWORD = "correct horse battery"
PROBLEM = "application/problem+json"


def refresh(client, token):
    return client.post("/api/v1/auth/refresh", json={"refresh_token": token})


def works(client, access_token: str) -> bool:
    answer = client.get("/api/v1/sync/pull", headers={"Authorization": f"Bearer {access_token}"})
    return answer.status_code == 200


def login_works(client, access_token: str) -> bool:
    answer = client.get("/api/v1/org-units", headers={"Authorization": f"Bearer {access_token}"})
    return answer.status_code == 200


def family_revoked(engine, family_id: str) -> str | None:
    with engine.connect() as conn:
        return conn.scalar(select(TokenFamily.revoked_reason).where(TokenFamily.id == family_id))


def device_family(engine, device_id: str) -> str:
    with engine.connect() as conn:
        return conn.scalar(select(Device.family_id).where(Device.id == device_id))


def age_first_use(engine, seconds: int) -> None:
    """As if every used token and code had been used ``seconds`` earlier than it was."""
    with engine.begin() as conn:
        for table in (RefreshToken.__table__, EnrollmentCode.__table__):
            used = conn.execute(
                select(table.c.id, table.c.used_at).where(table.c.used_at.is_not(None))
            )
            for row_id, used_at in used.all():
                conn.execute(
                    update(table)
                    .where(table.c.id == row_id)
                    .values(used_at=used_at - timedelta(seconds=seconds))
                )


# --- refresh -----------------------------------------------------------------------------------


def test_a_retried_refresh_within_the_window_works_and_both_answers_stay_valid(
    client, phone, engine
):
    lost = refresh(client, phone.refresh_token)  # this answer never reached the phone
    assert lost.status_code == 200
    retried = refresh(client, phone.refresh_token)
    assert retried.status_code == 200
    assert retried.get_json()["refresh_token"] != lost.get_json()["refresh_token"]
    assert family_revoked(engine, device_family(engine, phone.device_id)) is None
    # Whichever answer reached the phone works: both access tokens, and either refresh token.
    assert works(client, lost.get_json()["access_token"])
    assert works(client, retried.get_json()["access_token"])
    assert refresh(client, retried.get_json()["refresh_token"]).status_code == 200


def test_the_first_answer_works_too_when_it_was_the_one_that_arrived(client, phone, engine):
    first = refresh(client, phone.refresh_token).get_json()
    assert refresh(client, phone.refresh_token).status_code == 200  # a needless retry
    following = refresh(client, first["refresh_token"])
    assert following.status_code == 200
    assert works(client, following.get_json()["access_token"])
    assert family_revoked(engine, device_family(engine, phone.device_id)) is None


def test_a_replay_after_a_later_token_was_used_revokes_the_family(client, phone, engine):
    second = refresh(client, phone.refresh_token).get_json()
    third = refresh(client, second["refresh_token"]).get_json()
    replay = refresh(client, phone.refresh_token)  # still within the window, but too late
    assert replay.status_code == 401
    assert replay.mimetype == PROBLEM
    assert family_revoked(engine, device_family(engine, phone.device_id)) == "refresh_token_reuse"
    assert not works(client, third["access_token"])
    assert refresh(client, third["refresh_token"]).status_code == 401


def test_a_replay_after_the_window_revokes_the_family(client, phone, engine, app):
    second = refresh(client, phone.refresh_token).get_json()
    age_first_use(engine, app.config["REFRESH_GRACE_S"] + 1)
    assert refresh(client, phone.refresh_token).status_code == 401
    assert family_revoked(engine, device_family(engine, phone.device_id)) == "refresh_token_reuse"
    assert not works(client, second["access_token"])
    assert refresh(client, second["refresh_token"]).status_code == 401


def test_a_retry_just_inside_the_window_still_works(client, phone, engine, app):
    refresh(client, phone.refresh_token)
    age_first_use(engine, app.config["REFRESH_GRACE_S"] - 2)
    assert refresh(client, phone.refresh_token).status_code == 200
    assert family_revoked(engine, device_family(engine, phone.device_id)) is None


def test_the_unused_sibling_of_a_used_answer_is_reuse(client, phone, engine):
    """Two answers to one token: once the phone used one, the other can only be a thief's."""
    first = refresh(client, phone.refresh_token).get_json()
    second = refresh(client, phone.refresh_token).get_json()
    assert refresh(client, second["refresh_token"]).status_code == 200
    assert refresh(client, first["refresh_token"]).status_code == 401
    assert family_revoked(engine, device_family(engine, phone.device_id)) == "refresh_token_reuse"


def test_the_grace_window_holds_for_a_login_session_too(client, world, session, engine):
    users.create(session, "lead-grace", "lead", ["W1"], password=PASSWORD)
    session.commit()
    pair = client.post(
        "/api/v1/auth/login", json={"username": "lead-grace", "password": PASSWORD}
    ).get_json()
    assert refresh(client, pair["refresh_token"]).status_code == 200
    retried = refresh(client, pair["refresh_token"])
    assert retried.status_code == 200
    assert login_works(client, retried.get_json()["access_token"])


def test_a_window_of_zero_seconds_turns_the_grace_off(client, phone, engine, app):
    app.config["REFRESH_GRACE_S"] = 0
    refresh(client, phone.refresh_token)
    age_first_use(engine, 1)
    assert refresh(client, phone.refresh_token).status_code == 401


# --- enrolment ---------------------------------------------------------------------------------


def new_code(client, world, units=("W1",)) -> str:
    answer = client.post(
        "/api/v1/enrollment-codes",
        json={"volunteer": "vol-w1", "org_units": list(units)},
        headers=world.headers("lead-w1"),
    )
    assert answer.status_code == 201
    return answer.get_json()["code"]


def enroll(client, code, name="phone of Lan"):
    return client.post("/api/v1/devices/enroll", json={"code": code, "name": name})


def test_a_retried_enrolment_within_the_window_answers_the_same_device(client, world, engine):
    code = new_code(client, world)
    lost = enroll(client, code)
    retried = enroll(client, code)
    assert lost.status_code == retried.status_code == 201
    assert lost.get_json()["device_id"] == retried.get_json()["device_id"]
    with engine.connect() as conn:
        assert conn.scalar(select(Device.id).where(Device.name == "phone of Lan")) is not None
        assert len(conn.execute(select(Device.id)).all()) == 1
    # Both answers work, and either refresh token carries the device on.
    assert works(client, lost.get_json()["access_token"])
    assert works(client, retried.get_json()["access_token"])
    assert refresh(client, retried.get_json()["refresh_token"]).status_code == 200
    assert family_revoked(engine, device_family(engine, lost.get_json()["device_id"])) is None


def test_the_first_enrolment_answer_works_when_it_was_the_one_that_arrived(client, world, engine):
    code = new_code(client, world)
    first = enroll(client, code).get_json()
    assert enroll(client, code).status_code == 201
    assert refresh(client, first["refresh_token"]).status_code == 200
    assert family_revoked(engine, device_family(engine, first["device_id"])) is None


def test_a_code_replayed_after_the_device_refreshed_revokes_it(client, world, engine):
    code = new_code(client, world)
    first = enroll(client, code).get_json()
    pair = refresh(client, first["refresh_token"]).get_json()
    replay = enroll(client, code)
    assert replay.status_code == 401
    assert replay.mimetype == PROBLEM
    assert "access_token" not in replay.get_json()
    assert family_revoked(engine, device_family(engine, first["device_id"])) == (
        "enrollment_code_reuse"
    )
    assert not works(client, pair["access_token"])


def test_a_code_replayed_after_the_window_revokes_the_device(client, world, engine, app):
    code = new_code(client, world)
    first = enroll(client, code).get_json()
    age_first_use(engine, app.config["REFRESH_GRACE_S"] + 1)
    assert enroll(client, code).status_code == 401
    assert family_revoked(engine, device_family(engine, first["device_id"])) == (
        "enrollment_code_reuse"
    )
    assert not works(client, first["access_token"])


def test_a_used_code_under_another_name_is_refused(client, world, engine):
    code = new_code(client, world)
    first = enroll(client, code).get_json()
    assert enroll(client, code, name="someone else's phone").status_code == 401
    assert not works(client, first["access_token"])
    with engine.connect() as conn:
        assert len(conn.execute(select(Device.id)).all()) == 1


@pytest.mark.parametrize("code", ["never-issued", "x" * 100])
def test_an_unknown_code_is_refused_and_revokes_nothing(client, world, phone, engine, code):
    assert enroll(client, code).status_code == 401
    assert works(client, phone.access_token)


def test_an_expired_unused_code_is_refused(client, world, engine):
    code = new_code(client, world)
    with engine.begin() as conn:
        table = EnrollmentCode.__table__
        for row_id, expires_at in conn.execute(select(table.c.id, table.c.expires_at)).all():
            conn.execute(
                update(table)
                .where(table.c.id == row_id)
                .values(expires_at=expires_at - timedelta(days=2))
            )
    assert enroll(client, code).status_code == 401


def test_a_revoked_device_is_not_brought_back_by_its_code(client, world, engine):
    code = new_code(client, world)
    first = enroll(client, code).get_json()
    deleted = client.delete(f"/api/v1/devices/{first['device_id']}", headers=world.headers("admin"))
    assert deleted.status_code == 204
    assert enroll(client, code).status_code == 401  # within the window, but revoked
    with engine.connect() as conn:
        assert len(conn.execute(select(Device.id)).all()) == 1
