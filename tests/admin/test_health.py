"""Operations: liveness, readiness (database answers, schema at head), the OpenAPI document."""

from __future__ import annotations

from migrations import api as migrations_api


def test_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_at_head(client):
    assert client.get("/readyz").status_code == 200


def test_readyz_when_the_schema_is_behind(client, db_url):
    migrations_api.downgrade(db_url, "0001")
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.content_type == "application/problem+json"
    finally:
        migrations_api.upgrade(db_url)


def test_openapi_lists_the_contract(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in (
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/org-units",
        "/api/v1/campaigns",
        "/api/v1/campaigns/{code}/targets",
        "/api/v1/users",
        "/api/v1/enrollment-codes",
        "/api/v1/devices/enroll",
        "/api/v1/devices/{device_id}",
        "/api/v1/sync/push",
        "/api/v1/sync/pull",
        "/api/v1/progress",
        "/api/v1/conflicts",
    ):
        assert path in spec["paths"], path
