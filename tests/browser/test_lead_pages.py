"""A ward lead's evening, in a real browser (Debian's Chromium, driven by Playwright) against
a real server process."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

import pytest
from kit.live import ServerProcess

from server.web.qr import qr_svg
from sync.accounts import users

PASSWORD = "lead password for the browser"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = os.environ.get("WARDSYNC_CHROMIUM", "/usr/bin/chromium")
POST_WITHOUT_TOKEN = """async (url) => (await fetch(url, {
    method: 'POST', body: new URLSearchParams({confirm: 'yes'})})).status"""


@pytest.fixture
def live_server(db_url, tmp_path):
    server = ServerProcess(
        {
            "WARDSYNC_DATABASE_URL": db_url,
            "WARDSYNC_SECRET_KEY": "browser-test-secret-0123456789-0123456789-0123456789",
            "WARDSYNC_INSTANCE_PATH": str(tmp_path / "server-instance"),
            "WARDSYNC_SESSION_COOKIE_SECURE": "0",
        },
        tmp_path / "server.log",
        workers=1,
    )
    server.start()
    yield server.base
    server.stop()


@pytest.fixture(scope="module")  # one Playwright at a time: the phone app's tests have theirs
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        reason = f"no Chromium at {CHROMIUM} (Debian package 'chromium'; .ci/run installs it)"
        if os.environ.get("WARDSYNC_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 412, "height": 915})  # a phone's screen
    page = context.new_page()
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    page.screenshot(path=str(ARTIFACTS / f"{name}-last.png"), full_page=True)
    context.close()


def _sub(form: str, at: str, data: dict) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "form": form,
        "form_version": 1,
        "campaign": "camp",
        "org_unit": "W1",
        "recorded_at": at,
        "data": data,
    }


def _login(page, base, username):
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def _page_totals(page) -> dict:
    rows = page.locator("table.totals tr[data-metric]")
    return {
        rows.nth(i).get_attribute("data-metric"): float(rows.nth(i).get_attribute("data-value"))
        for i in range(rows.count())
    }


def _api_totals(client, world, unit) -> dict:
    body = client.get(
        "/api/v1/progress",
        query_string={"campaign": "camp", "org_unit": unit},
        headers=world.headers("admin"),
    ).get_json()
    return {k: float(v["value"]) for k, v in body["totals"].items()}


def test_lead_checks_progress_resolves_a_double_and_revokes_a_phone(
    live_server, page, client, world, phone, session
):
    users.create(session, "lead-city", "lead", ["C1"], password=PASSWORD)
    session.commit()
    session.close()
    client.put(
        "/api/v1/campaigns/camp/targets",
        json=[{"org_unit": "W1", "metric": "accounts_activated", "value": 4}],
        headers=world.headers("admin"),
    )
    household = str(uuid.uuid4())
    gift = {"household_id": household, "gift_kind": "pack", "round": "r1", "value_vnd": 300000}
    phone.push(
        [
            _sub(
                "activation",
                "2023-07-29T09:00:00+07:00",
                {"citizen_id": "079100000001", "status": "activated"},
            ),
            _sub(
                "activation",
                "2023-07-30T09:00:00+07:00",
                {"citizen_id": "079100000002", "status": "no_smartphone"},
            ),
            _sub("gift", "2023-07-30T10:00:00+07:00", gift),
            _sub("gift", "2023-07-30T11:00:00+07:00", gift),
        ]
    )

    _login(page, live_server, "lead-city")
    assert page.locator("#unit-name").get_attribute("data-code") == "C1"
    assert _page_totals(page) == _api_totals(client, world, "C1")
    assert page.locator("svg.trend").count() == 2
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "overview-city.png"), full_page=True)

    page.click("ul.children li[data-code=W1] a")
    assert page.locator("#unit-name").get_attribute("data-code") == "W1"
    w1 = _page_totals(page)
    assert w1 == _api_totals(client, world, "W1")
    assert (w1["accounts_activated"], w1["gifts_delivered"], w1["suspected_doubles"]) == (1, 1, 1)
    assert "25.0%" in page.locator("tr[data-metric=accounts_activated]").inner_text()

    page.goto(live_server + "/follow-ups")
    assert page.locator("tr.person").count() == 1
    assert "*********002" in page.locator("tr.person").inner_text()

    page.goto(live_server + "/review")
    item = page.locator("li.item[data-kind=suspected_double]")
    assert item.count() == 1
    item.locator("button[value=yes]").click()
    assert page.locator("#queue-empty").is_visible()
    page.goto(live_server + "/?unit=W1")
    after = _page_totals(page)
    assert (after["gifts_delivered"], after["suspected_doubles"]) == (2, 0)
    assert after == _api_totals(client, world, "W1")

    page.goto(live_server + "/devices")
    row = page.locator(f"tr.device[data-id='{phone.device_id}']")
    row.locator("button").click()
    assert page.locator(f"tr.device[data-id='{phone.device_id}'] td.state").inner_text() in (
        "đã thu hồi",
        "revoked",
    )
    assert phone.push([]).status_code == 401
    page.screenshot(path=str(ARTIFACTS / "devices-revoked.png"), full_page=True)


def test_enrolment_code_with_qr_and_the_english_switch(live_server, page, world, session, client):
    users.create(session, "lead-city", "lead", ["C1"], password=PASSWORD)
    session.commit()
    session.close()
    _login(page, live_server, "lead-city")
    page.goto(live_server + "/devices?lang=en")
    assert page.locator("h1").inner_text() == "Devices"
    page.select_option("select[name=volunteer]", "vol-w1")
    page.select_option("select[name=org_units]", ["W1"])
    page.click("text=Create code")
    code = page.locator("#code-text").inner_text()
    assert page.locator(".qr svg").count() == 1
    # The QR code opens the phone app with the code filled in.
    link = page.locator("#enrol-link").get_attribute("href")
    assert link == f"{live_server}/app/#enroll={code}"
    # (The browser writes the SVG back in its own way: compare the drawing itself.)
    drawn = re.findall(r' d="([^"]+)"', page.locator(".qr").inner_html())
    assert drawn and drawn == re.findall(r' d="([^"]+)"', str(qr_svg(link)))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "enrolment-code.png"), full_page=True)
    enrolled = client.post("/api/v1/devices/enroll", json={"code": code, "name": "new phone"})
    assert enrolled.status_code == 201
    page.goto(live_server + "/?lang=vi")
    assert "Tiến độ" in page.locator("header nav").inner_text()


def test_out_of_scope_and_wrong_password(live_server, page, world, session):
    users.create(session, "lead-far", "lead", ["W3"], password=PASSWORD)
    session.commit()
    session.close()
    page.goto(live_server + "/login")
    page.fill("input[name=username]", "lead-far")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").is_visible()
    _login(page, live_server, "lead-far")
    assert page.locator("#unit-name").get_attribute("data-code") == "W3"
    response = page.goto(live_server + "/?unit=W1")
    assert response.status == 404
    # A form posted without its CSRF token is refused.
    status = page.evaluate(
        POST_WITHOUT_TOKEN,
        live_server + "/review/1",
    )
    assert status == 400
