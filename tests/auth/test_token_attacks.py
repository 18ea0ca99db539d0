"""Forged, altered and stale tokens are refused with 401 problem+json, never data."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from server.auth.tokens import ALGORITHM

PROTECTED = "/api/v1/org-units"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _claims(app, token: str) -> tuple[dict, dict]:
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


def _key(app) -> tuple[str, str]:
    kid = app.config["JWT_CURRENT_KID"]
    return kid, app.config["JWT_KEYS"][kid]


def _forge(
    app, claims: dict, *, key: str | None = None, kid: str | None = None, alg: str = ALGORITHM
) -> str:
    current_kid, current_key = _key(app)
    return jwt.encode(
        claims, key or current_key, algorithm=alg, headers={"kid": kid or current_kid}
    )


def _assert_refused(client, token: str) -> None:
    response = client.get(PROTECTED, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.get_json()
    assert response.content_type == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "items" not in response.get_json()


def test_the_genuine_token_works(client, world):
    assert client.get(PROTECTED, headers=world.headers("admin")).status_code == 200


def test_alg_none(client, world, app):
    header, claims = _claims(app, world.tokens["admin"])
    token = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': header['kid']})}.{_b64(claims)}."
    _assert_refused(client, token)


def test_tampered_payload_keeps_the_old_signature(client, world, app):
    _, claims = _claims(app, world.tokens["vol-w1"])
    header_b64, _, signature = world.tokens["vol-w1"].split(".")
    admin_sub = _claims(app, world.tokens["admin"])[1]["sub"]
    forged = f"{header_b64}.{_b64({**claims, 'sub': admin_sub})}.{signature}"
    _assert_refused(client, forged)


def test_expired(client, world, app):
    _, claims = _claims(app, world.tokens["admin"])
    past = datetime.now(UTC) - timedelta(hours=1)
    _assert_refused(
        client, _forge(app, {**claims, "iat": past - timedelta(minutes=15), "exp": past})
    )


@pytest.mark.parametrize("claim", ["aud", "iss"])
def test_wrong_audience_or_issuer(client, world, app, claim):
    _, claims = _claims(app, world.tokens["admin"])
    _assert_refused(client, _forge(app, {**claims, claim: "someone-else"}))


@pytest.mark.parametrize("claim", ["exp", "iat", "jti", "aud", "iss", "sub"])
def test_missing_claim(client, world, app, claim):
    _, claims = _claims(app, world.tokens["admin"])
    _assert_refused(client, _forge(app, {k: v for k, v in claims.items() if k != claim}))


def test_unknown_kid(client, world, app):
    _, claims = _claims(app, world.tokens["admin"])
    _assert_refused(client, _forge(app, claims, kid="retired-key"))


def test_signed_with_another_key(client, world, app):
    _, claims = _claims(app, world.tokens["admin"])
    _assert_refused(client, _forge(app, claims, key="x" * 64))


def test_other_algorithm_with_the_same_secret(client, world, app):
    _, claims = _claims(app, world.tokens["admin"])
    _assert_refused(client, _forge(app, claims, alg="HS512"))


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Bearer ", "Basic YWRtaW46eA==", "Token abc", "Bearer not.a.jwt"]
)
def test_missing_or_malformed_header(client, world, header):
    response = client.get(PROTECTED, headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"


def test_token_has_the_contract_claims(app, world):
    header, claims = _claims(app, world.tokens["admin"])
    assert header["alg"] == "HS256" and header["kid"] == app.config["JWT_CURRENT_KID"]
    assert {"iss", "aud", "sub", "exp", "iat", "jti"} <= set(claims)
    assert claims["exp"] - claims["iat"] == app.config["ACCESS_TOKEN_TTL"]


def test_a_rotated_out_signing_key_still_verifies(db_url, instance_dir, world, app):
    """Key rotation: a new key signs, the old one (listed second) still verifies."""
    from server.app import create_app

    old_kid, old_key = _key(app)
    rotated = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": db_url,
            "JWT_KEYS": {"k-new": "n" * 64, old_kid: old_key},
            "JWT_CURRENT_KID": "k-new",
        }
    )
    client = rotated.test_client()
    assert client.get(PROTECTED, headers=world.headers("admin")).status_code == 200
    retired = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": db_url,
            "JWT_KEYS": {"k-new": "n" * 64},
            "JWT_CURRENT_KID": "k-new",
        }
    )
    response = retired.test_client().get(PROTECTED, headers=world.headers("admin"))
    assert response.status_code == 401
    for a in (rotated, retired):
        a.extensions["wardsync.engine"].dispose()
