"""A volunteer's day with the phone app (/app/), in headless Chromium against a real server, on
SQLite and PostgreSQL: enrolled from the lead's QR link, recording with the network really cut
(context.set_offline), reloading offline, sending when the network returns; and what goes wrong
on a bad day: a page closed mid-sync, a refused form, a second gift, two phones at one door, an
update while a form is open, a lost refresh answer, a revoked phone.

One server (behind a relay that can lose or hold answers) and one browser per module; each test
has a ward and volunteer of its own, so the progress it checks is its own.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from phone_kit import (
    CAMPAIGN,
    PASSWORD,
    enrol,
    launch_browser,
    open_app,
    outbox_ids,
    phone,
    record,
    send_now,
    sent_ids,
    shoot,
    start_phone_server,
    stop_phone_server,
    until,
    unsent,
    wait_idle,
    wait_unsent,
    wait_worker,
)


@pytest.fixture(scope="module")
def kit(database, tmp_path_factory):
    # A short-lived access token: the app refreshes before nearly every request, so the
    # refresh path (and its grace window) is exercised throughout.
    kit = start_phone_server(
        database, tmp_path_factory.mktemp(f"phone-{database.backend}"),
        WARDSYNC_ACCESS_TOKEN_TTL="5",
    )
    yield kit
    stop_phone_server(kit)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        yield browser
        browser.close()


def enrolled(browser, kit, team):
    """A phone with the app installed from the team's enrolment link, enrolled and synced."""
    context = browser.new_context(viewport={"width": 360, "height": 780}, service_workers="allow")
    context.set_default_timeout(20_000)
    page = open_app(context, team.enrol_link())
    enrol(page)
    wait_worker(page)
    return context, page


# --- enrol by the QR link, record offline, reload offline, back online ---------------------------


def lead_creates_a_code(browser, kit, team) -> str:
    """The ward lead's page, as the lead uses it: the link the QR code holds."""
    with phone(browser) as lead:
        page = lead.new_page()
        page.goto(kit.base + "/login")
        page.fill("input[name=username]", "lead-ta")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(kit.base + "/devices")
        page.select_option("select[name=volunteer]", team.volunteer)
        page.select_option("select[name=org_units]", [team.ward])
        page.click("form.stack button[type=submit]")
        return page.locator("#enrol-link").get_attribute("href")


def test_enrol_by_the_qr_link_record_offline_reload_and_sync(browser, kit):
    team = kit.team()
    link = lead_creates_a_code(browser, kit, team)
    assert link.startswith(kit.base + "/app/#enroll=")
    with phone(browser) as context:
        page = open_app(context, link)
        assert page.input_value("input[name=code]") == link.split("#enroll=")[1]
        shoot(page, "enrol")
        enrol(page)
        assert "#enroll" not in page.url  # the code does not stay in the address bar
        wait_worker(page)

        context.set_offline(True)
        page.wait_for_selector(".net[data-online='0']")
        record(page, "activation", {"citizen_id": "079123456789"}, {"status": "activated"},
               address="12 hẻm 5, Lái Thiêu")
        record(page, "household_help", {"quantity": "12,5", "hours": "3"},
               {"kind": "road_repair", "unit": "m"}, address="7 Nguyễn Trãi")
        record(page, "gift", {"gift_kind": "rice", "round": "2023-tet", "value_vnd": "450.000"},
               address="3 Đường số 9")
        assert unsent(page) == 3
        saved = outbox_ids(page)
        assert len(set(saved)) == 3
        shoot(page, "offline-outbox")

        # Reloaded with no network: the app comes from the service worker's cache.
        page.reload()
        page.wait_for_selector("body[data-ready='1']")
        assert unsent(page) == 3
        assert outbox_ids(page) == saved
        assert page.locator("section.outbox li.item").count() == 3
        assert "*********789" in page.locator("section.outbox").inner_text()
        assert "079123456789" not in page.locator("body").inner_text()

        context.set_offline(False)  # the 'online' event sends the outbox
        wait_unsent(page, 0)
        wait_idle(page)
        assert sorted(sent_ids(page)) == sorted(saved)
        page.wait_for_selector("#receipt[data-accepted='3'][data-mine='3']")
        shoot(page, "synced")

    assert sorted(s.id for s in team.stored()) == sorted(saved)
    assert team.progress() == {
        "citizens_reached": 1,
        "accounts_installed": 1,
        "accounts_activated": 1,
        "help_events": 1,
        "households_helped": 1,
        "volunteer_hours": 3,
        "gifts_delivered": 1,
        "gift_value_vnd": 450_000,
    }
    help_event = next(s for s in team.stored() if s.form == "household_help")
    assert help_event.data["quantity"] == "12.5"
