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
    open_app,
    outbox_ids,
    phone,
    record,
    send_now,
    sent_ids,
    shoot,
    start_phone_server,
    stop_phone_server,
    unsent,
    until,
    wait_idle,
    wait_unsent,
    wait_worker,
)


@pytest.fixture(scope="module")
def kit(database, tmp_path_factory):
    # A short-lived access token: the app refreshes before nearly every request, so the
    # refresh path (and its grace window) is exercised throughout.
    kit = start_phone_server(
        database,
        tmp_path_factory.mktemp(f"phone-{database.backend}"),
        WARDSYNC_ACCESS_TOKEN_TTL="5",
    )
    yield kit
    stop_phone_server(kit)


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
        with page.expect_navigation():  # logged in (the cookie set) before going on
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
        record(
            page,
            "activation",
            {"citizen_id": "079123456789"},
            {"status": "activated"},
            address="12 hẻm 5, Lái Thiêu",
        )
        record(
            page,
            "household_help",
            {"quantity": "12,5", "hours": "3"},
            {"kind": "road_repair", "unit": "m"},
            address="7 Nguyễn Trãi",
        )
        record(
            page,
            "gift",
            {"gift_kind": "rice", "round": "2023-tet", "value_vnd": "450.000"},
            address="3 Đường số 9",
        )
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


# --- a page closed mid-sync --------------------------------------------------------------------


def test_a_page_closed_mid_sync_loses_nothing_and_counts_nothing_twice(browser, kit):
    team = kit.team()
    context, page = enrolled(browser, kit, team)
    with context:
        context.set_offline(True)
        for n in range(3):
            record(page, "activation", {"citizen_id": f"07910000000{n}"}, {"status": "installed"})
        saved = outbox_ids(page)
        pushes = kit.relay.seen("POST /api/v1/sync/push")

        # The push reaches the server, which stores it; its answer is held back, and the
        # volunteer closes the app before it arrives.
        kit.relay.hold_next("POST /api/v1/sync/push")
        context.set_offline(False)
        assert kit.relay.held.wait(30), "the push did not reach the server"
        until(lambda: len(team.stored()) == 3, what="the server to store the batch")
        page.close()
        kit.relay.release()

        page = open_app(context, kit.base + "/app/")
        assert set(outbox_ids(page)) <= set(saved)  # nothing lost, whatever the first answer did
        wait_unsent(page, 0)
        wait_idle(page)
        assert sorted(sent_ids(page)) == sorted(saved)
        assert kit.relay.seen("POST /api/v1/sync/push") >= pushes + 2  # sent again, same ids
        page.wait_for_selector("#receipt[data-accepted='3'][data-mine='3']")

    assert sorted(s.id for s in team.stored()) == sorted(saved)
    assert team.progress() == {"citizens_reached": 3, "accounts_installed": 3}


# --- a refused form ------------------------------------------------------------------------------

LOOSER_COUNT = """async () => {
  // As if this phone's definitions came from an older server that allowed bigger counts
  // (the ETag is kept, so the server's "not modified" leaves them in place).
  const known = await globalThis.wardsync.getValue('forms');
  for (const form of known.forms) for (const f of form.fields)
    if (form.form === 'gift' && f.name === 'count') f.max = 1000000000;
  await globalThis.wardsync.setValue('forms', known);
}"""


def test_a_refused_form_shows_the_servers_reason_in_vietnamese_and_is_fixed(browser, kit):
    team = kit.team()
    context, page = enrolled(browser, kit, team)
    with context:
        page.evaluate(LOOSER_COUNT)
        page.reload()
        page.wait_for_selector("body[data-ready='1']")
        record(page, "gift", {"gift_kind": "pack", "round": "r1", "count": "5000000"})
        refused = outbox_ids(page)[0]
        send_now(page)
        item = page.locator(f"li.rejected[data-id='{refused}']")
        item.wait_for()
        assert "Số phần: Phải từ 1 đến 1000000." in item.inner_text()
        assert unsent(page) == 1  # kept until fixed or discarded
        shoot(page, "refused")

        item.locator("button.primary").click()  # "Sửa"
        page.wait_for_selector("form.record[data-form=gift]")
        assert page.input_value("[name=count]") == "5000000"
        page.fill("[name=count]", "5")
        page.click("#save")
        page.wait_for_selector("section.outbox")
        # A new form, with a new id, in place of the refused one (the app may already have
        # sent it on its own: it is online).
        # Read as a set: it may move from the outbox to the sent list between the two reads.
        fixed = sorted(set(outbox_ids(page)) | set(sent_ids(page)))
        assert len(fixed) == 1 and fixed[0] != refused
        send_now(page)
        wait_unsent(page, 0)

    assert [s.id for s in team.stored()] == fixed
    assert team.progress() == {"gifts_delivered": 5}


# --- the double-gift warning ---------------------------------------------------------------------


def gift_item(team, household: str, kind: str, round_: str, address: str) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "form": "gift",
        "form_version": 1,
        "campaign": CAMPAIGN,
        "org_unit": team.ward,
        "recorded_at": datetime.now().astimezone().isoformat(),
        "data": {
            "household_id": household,
            "gift_kind": kind,
            "round": round_,
            "household_address": address,
        },
    }


def test_the_app_warns_before_a_second_gift_of_a_kind_in_a_round(browser, kit):
    team = kit.team()
    house = str(uuid.uuid4())
    assert [
        r["status"]
        for r in team.push_as_phone(
            [gift_item(team, house, "rice", "2023-tet", "12 Hẻm 5, Bình Hoà")]
        )
    ] == ["applied"]
    context, page = enrolled(browser, kit, team)  # its first sync pulls that household
    with context:
        context.set_offline(True)  # a street with no signal, from here on
        # From the last pull: the household already has rice in this round.
        page.click("button.form-button[data-form=gift]")
        page.click("#pick-household")
        page.fill("input[type=search]", "hem 5")  # without the accents, as typed in a hurry
        page.click("button.pick >> nth=0")
        assert page.input_value("[name=household_address]") == "12 Hẻm 5, Bình Hoà"
        page.fill("[name=gift_kind]", "rice")
        page.fill("[name=round]", "2023-tet")
        page.click("#save")
        warning = page.locator(".warning")
        warning.wait_for()
        assert "rice" in warning.inner_text() and "2023-tet" in warning.inner_text()
        shoot(page, "double-gift-warning")
        warning.locator("text=Quay lại").click()
        assert unsent(page) == 0  # nothing saved
        page.fill("[name=round]", "2024-tet")
        page.click("#save")
        page.wait_for_selector("section.outbox")
        assert unsent(page) == 1

        # From its own outbox: the gift it just saved.
        record(
            page, "gift", {"gift_kind": "rice", "round": "2024-tet"}, household="hem 5", wait=False
        )
        page.locator(".warning").wait_for()
        page.click("#save-anyway")
        page.wait_for_selector("section.outbox")
        assert unsent(page) == 2

        context.set_offline(False)
        wait_unsent(page, 0)
        wait_idle(page)
        assert "nghi trao trùng" in page.locator("section.sent").inner_text()

    assert team.progress() == {"gifts_delivered": 2, "suspected_doubles": 1}


# --- two phones at one door ----------------------------------------------------------------------


def door(page, query: str) -> str:
    page.click("#open-search")
    page.fill("input[name=q]", query)
    text = page.locator("li.door >> nth=0").inner_text()
    page.click("text=Đóng")
    return text


def test_two_phones_on_one_household(browser, kit):
    team = kit.team()
    context_a, a = enrolled(browser, kit, team)
    context_b, b = enrolled(browser, kit, team)
    with context_a, context_b:
        record(a, "activation", {"citizen_id": "079188800001"}, {"status": "installed"})
        record(a, "household_help", {}, {"kind": "cleanup"}, address="5 Hẻm 7, An Phú")
        send_now(a)
        send_now(b)  # B pulls the household A added

        context_a.set_offline(True)
        context_b.set_offline(True)
        record(
            b,
            "activation",
            {"citizen_id": "079188800001"},
            {"status": "activated"},
            household="hem 7",
        )
        record(b, "gift", {"gift_kind": "pack", "round": "r1"}, household="hem 7")
        record(a, "gift", {"gift_kind": "pack", "round": "r1"}, household="hem 7")
        context_a.set_offline(False)
        context_b.set_offline(False)
        wait_unsent(a, 0)
        wait_unsent(b, 0)
        send_now(a)  # each pulls what the other sent
        send_now(b)
        for page in (a, b):
            seen = door(page, "hem 7")
            assert "Đã đến" in seen
            assert "pack r1: nghi trao trùng" in seen
            assert "Đã kích hoạt tài khoản" in seen
        shoot(b, "two-phones")

    assert team.progress() == {
        "citizens_reached": 1,
        "accounts_installed": 1,
        "accounts_activated": 1,
        "help_events": 1,
        "households_helped": 1,
        "gifts_delivered": 1,
        "suspected_doubles": 1,
    }


# --- an update while a form is open --------------------------------------------------------------

CACHES = "async () => (await caches.keys()).filter(k => k.startsWith('wardsync-shell-')).sort()"
CHECK_FOR_UPDATE = "async () => (await navigator.serviceWorker.getRegistration()).update()"


def test_an_update_arriving_while_a_form_is_open_loses_no_draft(browser, kit):
    team = kit.team()
    context, page = enrolled(browser, kit, team)
    with context:
        old = page.evaluate(CACHES)
        assert len(old) == 1
        # A form left half done, and one open on the screen.
        page.click("button.form-button[data-form=household_help]")
        page.fill("[name=note]", "còn dở: quay lại chiều nay")
        page.click("text=Đóng")
        page.click("button.form-button[data-form=gift]")
        page.fill("[name=gift_kind]", "rice")
        page.fill("[name=round]", "2023-tet")
        page.evaluate("window.__samePage = true")

        # A deploy: one byte of the app changes, so the service worker's version does too.
        with (kit.app_dir / "style.css").open("a") as css:
            css.write(f"\n/* deploy {uuid.uuid4()} */\n")
        page.evaluate(CHECK_FOR_UPDATE)
        page.wait_for_selector("#update-now")
        assert len(page.evaluate(CACHES)) == 2  # the new shell waits beside the old one
        page.click("#update-now")
        page.wait_for_selector("#update small")  # "save or close the open form first"
        assert page.evaluate("window.__samePage") is True  # no reload over the open form
        assert page.input_value("[name=gift_kind]") == "rice"
        shoot(page, "update-waits-for-the-form")

        page.click("#save")
        page.wait_for_selector("section.outbox")
        saved = page.evaluate(
            "async () => [...(await globalThis.wardsync.getAll('outbox')), "
            "...(await globalThis.wardsync.getAll('sent'))].map(i => i.id)"
        )
        assert len(saved) == 1
        with page.expect_navigation():
            page.click("#update-now")  # no form open now: the new version takes over
        page.wait_for_selector("body[data-ready='1']")
        assert page.evaluate("window.__samePage") is None
        new = page.evaluate(CACHES)
        assert len(new) == 1 and new != old
        after = page.evaluate(
            "async () => [...(await globalThis.wardsync.getAll('outbox')), "
            "...(await globalThis.wardsync.getAll('sent'))].map(i => i.id)"
        )
        assert after == saved
        draft = page.locator("li.draft")
        assert draft.count() == 1
        draft.locator("button").click()
        assert page.input_value("[name=note]") == "còn dở: quay lại chiều nay"


# --- a refresh answer lost on the way back -------------------------------------------------------


def device_family(kit, device_id: str):
    from sqlalchemy import select

    from sync.models import Device, TokenFamily

    with kit.sessions() as session:
        return session.execute(
            select(TokenFamily)
            .join(Device, Device.family_id == TokenFamily.id)
            .where(Device.id == device_id)
        ).scalar_one()


def test_a_refresh_answer_lost_through_the_relay_is_retried_within_the_grace_window(browser, kit):
    team = kit.team()
    context, page = enrolled(browser, kit, team)
    with context:
        device = page.evaluate(
            "async () => (await globalThis.wardsync.getValue('creds')).device_id"
        )
        context.set_offline(True)
        record(page, "activation", {"citizen_id": "079177700001"}, {"status": "visited"})
        kit.relay.lose_next("POST /api/v1/auth/refresh")
        lost_before = len(kit.relay.lost)
        context.set_offline(False)  # the access token has expired: first, a refresh
        wait_unsent(page, 0)
        wait_idle(page)
        assert len(kit.relay.lost) == lost_before + 1
        assert kit.relay.lost[-1].startswith("POST /api/v1/auth/refresh")
        assert device_family(kit, device).revoked_at is None
        assert "Điện thoại này đã bị thu hồi" not in page.locator("body").inner_text()

        # And the phone carries on with the pair that reached it.
        record(page, "activation", {"citizen_id": "079177700002"}, {"status": "visited"})
        wait_unsent(page, 0)
        wait_idle(page)
        page.wait_for_selector("#receipt[data-accepted='2'][data-mine='2']")

    assert team.progress() == {"citizens_reached": 2}
    assert device_family(kit, device).revoked_at is None


# --- a revoked phone --------------------------------------------------------------------------


def test_a_revoked_phone_keeps_its_outbox_and_sends_the_same_ids_after_enrolling_again(
    browser, kit
):
    team = kit.team()
    context, page = enrolled(browser, kit, team)
    with context:
        first = page.evaluate("async () => (await globalThis.wardsync.getValue('creds')).device_id")
        record(page, "activation", {"citizen_id": "079166600001"}, {"status": "visited"})
        wait_unsent(page, 0)
        context.set_offline(True)
        record(page, "activation", {"citizen_id": "079166600002"}, {"status": "installed"})
        record(page, "gift", {"gift_kind": "pack", "round": "r1"})
        queued = outbox_ids(page)

        assert kit.api("DELETE", f"/api/v1/devices/{first}").status_code == 204  # phone "lost"
        context.set_offline(False)
        page.wait_for_selector("#revoked")
        assert outbox_ids(page) == queued
        shoot(page, "revoked")

        page.click("#revoked button")
        enrol(page, team.code())
        wait_unsent(page, 0)
        wait_idle(page)
        second = page.evaluate(
            "async () => (await globalThis.wardsync.getValue('creds')).device_id"
        )
        assert second != first

    by_id = {s.id: s for s in team.stored()}
    assert set(queued) <= set(by_id)
    assert {by_id[i].device_id for i in queued} == {second}
    assert len(by_id) == 3
    assert team.progress() == {
        "citizens_reached": 2,
        "accounts_installed": 1,
        "gifts_delivered": 1,
    }


# --- Background Sync, the in-app browser warning, English ----------------------------------------


def test_background_sync_sends_the_outbox_with_no_page_open(browser, kit):
    team = kit.team()
    context, page = enrolled(browser, kit, team)
    with context:
        context.set_offline(True)
        record(page, "activation", {"citizen_id": "079155500001"}, {"status": "visited"})
        record(page, "household_help", {}, {"kind": "sanitation"})
        queued = outbox_ids(page)
        page.close()  # the volunteer walks on; no page of the app is open
        context.set_offline(False)

        # What Chrome does when the network returns: fire the registered sync event.
        # A page of the same site outside the app (not one of the worker's clients), only to
        # reach the browser's DevTools protocol.
        blank = context.new_page()
        blank.goto(kit.base + "/healthz")
        cdp = context.new_cdp_session(blank)
        registrations = []
        cdp.on(
            "ServiceWorker.workerRegistrationUpdated",
            lambda event: registrations.extend(event["registrations"]),
        )
        cdp.send("ServiceWorker.enable")
        until(
            lambda: any(r["scopeURL"].endswith("/app/") for r in registrations),
            what="the service worker registration",
            page=blank,
        )
        registration = next(r for r in registrations if r["scopeURL"].endswith("/app/"))
        cdp.send(
            "ServiceWorker.dispatchSyncEvent",
            {
                "origin": kit.base,
                "registrationId": registration["registrationId"],
                "tag": "wardsync-push",
                "lastChance": False,
            },
        )
        until(
            lambda: sorted(s.id for s in team.stored()) == sorted(queued),
            what="the worker to send the outbox",
            page=blank,
        )

        page = open_app(context, kit.base + "/app/")
        wait_unsent(page, 0)
        assert sorted(sent_ids(page)) == sorted(queued)
    assert team.progress() == {"citizens_reached": 1, "help_events": 1, "households_helped": 1}


def test_inside_zalo_it_says_to_open_chrome_and_it_speaks_english_on_request(browser, kit):
    team = kit.team()
    zalo = (
        "Mozilla/5.0 (Linux; Android 10; SM-A105F) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Mobile Safari/537.36 Zalo android/12100741 ZaloTheme/light"
    )
    with phone(browser, user_agent=zalo) as context:
        page = open_app(context, team.enrol_link())
        banner = page.locator("#in-app")
        assert "Chrome hoặc Safari" in banner.inner_text()
        assert "/app/" in banner.inner_text()
        shoot(page, "inside-zalo")
        enrol(page)
        page.click("#lang")
        page.wait_for_selector("button.form-button[data-form=activation]:has-text('Electronic ID')")
        assert "Chrome or Safari" in page.locator("#in-app").inner_text()
        page.click("button.form-button[data-form=activation]")
        assert "Citizen ID number" in page.locator("form.record").inner_text()
        page.click("#save")
        assert "Required." in page.locator("[data-field=citizen_id] .error").inner_text()
        shoot(page, "english")
        page.reload()  # the choice is remembered
        page.wait_for_selector("body[data-ready='1']")
        assert page.locator("#lang").inner_text() == "Tiếng Việt"
