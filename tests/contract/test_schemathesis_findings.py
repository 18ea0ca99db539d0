"""Server bugs schemathesis found, each pinned here so it stays fixed (both databases)."""

from __future__ import annotations

import pytest

BEYOND_ANY_ID = 11868136237637165961352296005632  # wider than any integer column


def _problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.content_type == "application/problem+json"
    return response.get_json()


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", f"/api/v1/conflicts/{BEYOND_ANY_ID}/resolve", {"confirm": True}),
        (
            "POST",
            f"/api/v1/records/{BEYOND_ANY_ID}/correct",
            {"values": {"note": "x"}, "reason": "r"},
        ),
        ("DELETE", f"/api/v1/api-keys/{BEYOND_ANY_ID}", None),
        ("POST", "/api/v1/conflicts/2147483648/resolve", {"confirm": True}),
    ],
)
def test_an_id_wider_than_any_column_is_404(client, world, method, url, body):
    response = client.open(url, method=method, json=body, headers=world.headers("admin"))
    _problem(response, 404)


def test_a_target_wider_than_its_column_is_422(client, world):
    response = client.put(
        "/api/v1/campaigns/camp/targets",
        json=[{"org_unit": "W1", "metric": "refused", "value": BEYOND_ANY_ID}],
        headers=world.headers("admin"),
    )
    assert "0.value" in _problem(response, 422)["errors"]
