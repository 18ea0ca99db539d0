"""GET /api/v1/progress: totals against targets, children, the daily series, and scope."""

from __future__ import annotations

import uuid

import pytest

from sync.models import Counter


def _sub(form: str, unit: str, at: str, data: dict) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "form": form,
        "form_version": 1,
        "campaign": "camp",
        "org_unit": unit,
        "recorded_at": at,
        "data": data,
    }


@pytest.fixture
def pushed(client, world, phone):
    """W1 (the phone's ward) gets activations over two days, help and gifts."""
    set_targets = client.put(
        "/api/v1/campaigns/camp/targets",
        json=[
            {"org_unit": "W1", "metric": "accounts_activated", "value": 4},
            {"org_unit": "W2", "metric": "accounts_activated", "value": 6},
            {"org_unit": "C2", "metric": "accounts_activated", "value": 10},
        ],
        headers=world.headers("admin"),
    )
    assert set_targets.status_code == 200
    household = str(uuid.uuid4())
    answer = phone.push(
        [
            _sub(
                "activation",
                "W1",
                "2023-07-29T09:00:00+07:00",
                {"citizen_id": "079100000001", "status": "activated"},
            ),
            _sub(
                "activation",
                "W1",
                "2023-07-30T09:00:00+07:00",
                {"citizen_id": "079100000002", "status": "installed"},
            ),
            _sub(
                "activation",
                "W1",
                "2023-07-30T10:00:00+07:00",
                {"citizen_id": "079100000003", "status": "no_smartphone"},
            ),
            _sub(
                "household_help",
                "W1",
                "2023-07-30T11:00:00+07:00",
                {"household_id": household, "kind": "yard_concrete", "volunteers": 3, "hours": 1.5},
            ),
            _sub(
                "gift",
                "W1",
                "2023-07-30T12:00:00+07:00",
                {
                    "household_id": household,
                    "gift_kind": "pack",
                    "round": "r1",
                    "value_vnd": 500000,
                },
            ),
        ]
    )
    assert {r["status"] for r in answer.get_json()["results"]} == {"applied"}


def _get(client, world, who, unit, daily=False):
    query = {"campaign": "camp", "org_unit": unit, **({"daily": "1"} if daily else {})}
    return client.get("/api/v1/progress", query_string=query, headers=world.headers(who))


def test_ward_totals_against_target(client, world, pushed):
    body = _get(client, world, "lead-w1", "W1").get_json()
    totals = body["totals"]
    assert body["org_unit"] == {"code": "W1", "name": "Ward One"}
    assert totals["accounts_activated"] == {"value": 1, "target": 4, "percent": 25.0}
    assert totals["accounts_installed"]["value"] == 2
    assert totals["citizens_reached"]["value"] == 3
    assert totals["no_smartphone"]["value"] == 1
    assert totals["volunteer_hours"]["value"] == 4.5
    assert totals["gift_value_vnd"]["value"] == 500000
    assert totals["households_helped"]["value"] == 1


def test_city_sums_its_wards_and_their_targets(client, world, pushed):
    body = _get(client, world, "lead-c1", "C1").get_json()
    assert body["totals"]["accounts_activated"] == {"value": 1, "target": 10, "percent": 10.0}
    children = {c["org_unit"]["code"]: c["totals"] for c in body["children"]}
    assert set(children) == {"W1", "W2"}
    assert children["W2"]["accounts_activated"] == {"value": 0, "target": 6, "percent": 0.0}
    # The province: C1 has 4 + 6 from its wards, C2 its own 10.
    province = _get(client, world, "hq", "P").get_json()
    assert province["totals"]["accounts_activated"]["target"] == 20
    assert province["totals"]["citizens_reached"]["value"] == 3


def test_daily_series_sums_to_the_total(client, world, pushed):
    body = _get(client, world, "admin", "C1", daily=True).get_json()
    days = {d["date"]: d for d in body["daily"]}
    assert days["2023-07-29"]["accounts_activated"] == 1
    assert days["2023-07-30"]["accounts_installed"] == 1
    for metric in ("citizens_reached", "accounts_installed", "gift_value_vnd", "volunteer_hours"):
        assert sum(d[metric] for d in body["daily"]) == body["totals"][metric]["value"]


def test_totals_equal_the_counters(client, world, pushed, session):
    from sqlalchemy import func, select

    body = _get(client, world, "hq", "P").get_json()
    for metric in ("citizens_reached", "gifts_delivered", "help_events"):
        stored = session.scalar(select(func.sum(Counter.value)).where(Counter.metric == metric))
        assert body["totals"][metric]["value"] == stored


@pytest.mark.parametrize(
    ("who", "unit", "status"),
    [
        ("admin", "W1", 200),
        ("hq", "W3", 200),
        ("lead-w1", "W1", 200),
        ("lead-c1", "W1", 200),
        ("lead-w1", "C1", 403),
        ("lead-w3", "W1", 403),
        ("vol-w1", "W1", 403),
        (None, "W1", 401),
    ],
)
def test_scope(client, world, who, unit, status):
    response = _get(client, world, who, unit)
    assert response.status_code == status
    if status != 200:
        assert response.content_type == "application/problem+json"
        assert "totals" not in response.get_json()


def test_unknown_campaign_and_unit(client, world):
    assert _get(client, world, "admin", "nope").status_code == 404
    missing = client.get(
        "/api/v1/progress",
        query_string={"campaign": "nope", "org_unit": "W1"},
        headers=world.headers("admin"),
    )
    assert missing.status_code == 404
    bad = client.get(
        "/api/v1/progress", query_string={"campaign": "camp"}, headers=world.headers("admin")
    )
    assert bad.status_code == 422
    assert "org_unit" in bad.get_json()["errors"]
