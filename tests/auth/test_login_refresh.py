"""Login, refresh rotation with reuse detection, and the per-username login limit."""

from __future__ import annotations

import pytest

from sync.accounts import users

PASSWORD = "correct horse battery"


@pytest.fixture
def lead(app, session, world):
    users.create(session, "lead-login", "lead", ["W1"], password=PASSWORD)
    session.commit()
    return "lead-login"


def _login(client, username, password):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def _refresh(client, token):
    return client.post("/api/v1/auth/refresh", json={"refresh_token": token})


def _works(client, access_token) -> bool:
    response = client.get("/api/v1/org-units", headers={"Authorization": f"Bearer {access_token}"})
    return response.status_code == 200


def test_login_gives_a_token_pair(client, lead, app):
    response = _login(client, lead, PASSWORD)
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == app.config["ACCESS_TOKEN_TTL"]
    assert _works(client, body["access_token"])


def test_unknown_user_and_wrong_password_look_alike(client, lead):
    wrong = _login(client, lead, "not the password")
    unknown = _login(client, "nobody-here", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()
    assert wrong.content_type == "application/problem+json"


def test_refresh_rotates(client, lead):
    first = _login(client, lead, PASSWORD).get_json()
    second = _refresh(client, first["refresh_token"])
    assert second.status_code == 200
    pair = second.get_json()
    assert pair["refresh_token"] != first["refresh_token"]
    assert _works(client, pair["access_token"])
    third = _refresh(client, pair["refresh_token"])
    assert third.status_code == 200


def test_reused_refresh_token_revokes_the_family(client, lead):
    first = _login(client, lead, PASSWORD).get_json()
    rotated = _refresh(client, first["refresh_token"]).get_json()
    later = _refresh(client, rotated["refresh_token"]).get_json()
    # The old token comes back after a later one was used: whoever holds it, the family is
    # compromised (a retry within the grace window is tested in test_refresh_grace.py).
    reuse = _refresh(client, first["refresh_token"])
    assert reuse.status_code == 401
    assert _refresh(client, later["refresh_token"]).status_code == 401
    assert not _works(client, later["access_token"])
    assert not _works(client, rotated["access_token"])
    assert not _works(client, first["access_token"])
    # Another session of the same user is untouched, and a new login works.
    fresh = _login(client, lead, PASSWORD).get_json()
    assert _works(client, fresh["access_token"])


def test_unknown_refresh_token(client, world):
    assert _refresh(client, "made-up").status_code == 401


def test_login_limit_counts_failures_per_username(client, lead, world, session):
    users.create(session, "other-lead", "lead", ["W2"], password=PASSWORD)
    session.commit()
    for _ in range(3):
        assert _login(client, lead, PASSWORD).status_code == 200  # successes do not count
    for _ in range(10):
        assert _login(client, lead, "wrong password!").status_code == 401
    limited = _login(client, lead, PASSWORD)
    assert limited.status_code == 429
    assert limited.content_type == "application/problem+json"
    assert int(limited.headers["Retry-After"]) > 0
    assert _login(client, "other-lead", PASSWORD).status_code == 200
