"""The demo's month on the lead's pages, in Chromium, on both databases: a small month of
Thuận An (two weekend days) loaded through the push path as ``wardsync demo`` loads it, then
the city lead's progress page, the wards below, the volunteer table and the review queue show
what the API serves, formatted as Vietnamese readers write it. Screenshots at 360 and 1280 px.
"""

from __future__ import annotations

import csv
import io

import pytest
from argon2 import PasswordHasher
from kit.world import mint_token
from sqlalchemy import select
from test_lead_pages import _pct, _shots, _vi

from sync.accounts import passwords
from sync.admin import demo
from sync.db import make_session_factory
from sync.models import User

SMALL = {"seed": 2023, "wave": 10, "days": 2}
CAMPAIGN = demo.CAMPAIGN[0]
CITY = demo.CITY[0]


@pytest.fixture
def month(app, engine, monkeypatch):
    """The small month, and the demo's credentials and an admin's API headers."""
    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    with make_session_factory(engine)() as session:
        made = demo.load(session, month=SMALL)
        session.commit()
        demo.load_wanted(session, app.config["CITIZEN_ID_KEY"])
        session.commit()
        admin = session.scalar(select(User).where(User.username == "admin"))
        headers = {"Authorization": f"Bearer {mint_token(app, session, admin)}"}
        session.commit()
    return {c.username: c.password for c in made}, headers


def _api(client, headers, path, **query):
    answer = client.get(path, query_string={"campaign": CAMPAIGN, **query}, headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    return answer


def test_the_demo_months_pages_show_the_apis_figures(pages_server, page, client, month):
    passwords_, headers = month
    page.goto(pages_server + "/login")
    page.fill("input[name=username]", "lead-city")
    page.fill("input[name=password]", passwords_["lead-city"])
    page.click("button[type=submit]")
    assert page.locator("#unit-name").get_attribute("data-code") == CITY

    body = _api(client, headers, "/api/v1/progress", org_unit=CITY).get_json()
    assert body["totals"]["accounts_activated"]["value"] > 0  # a living campaign
    for metric, total in body["totals"].items():
        row = page.locator(f"table.totals tr[data-metric={metric}]")
        assert row.locator(".value").inner_text() == _vi(metric, total["value"]), metric
        if total["target"]:
            assert row.locator(".percent").inner_text() == _pct(total["percent"]), metric
    for child in body["children"]:
        card = page.locator(f"ul.children li[data-code={child['org_unit']['code']}]")
        for metric, total in child["totals"].items():
            if total["target"]:
                figure = card.locator(f".figure[data-metric={metric}]")
                assert figure.locator(".value").inner_text() == _vi(metric, total["value"])
                assert figure.locator(".bar").count() == 1
    chart = page.locator("svg.trend")
    assert float(chart.get_attribute("data-total")) == body["totals"]["accounts_activated"]["value"]
    _shots(page, "demo-city")

    # Who did what: the table's sums are the forms the exports hold.
    page.click("#volunteers-link")
    sums = page.locator("tfoot tr.sums td.num")
    for i, form in enumerate(("activation", "household_help", "gift", "void")):
        exported = _api(client, headers, "/api/v1/exports/submissions", org_unit=CITY, form=form)
        rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
        assert sums.nth(i).inner_text() == _vi("count", len(rows)), form
    _shots(page, "demo-volunteers")

    # The review queue: as many items as the API lists, told in words.
    listed = _api(client, headers, "/api/v1/conflicts").get_json()["items"]
    page.goto(pages_server + "/review?campaign=" + CAMPAIGN)
    assert int(page.locator("#queue-count").get_attribute("data-total")) == len(listed)
    assert page.locator("li.item").count() == min(len(listed), 20)
    _shots(page, "demo-review")
