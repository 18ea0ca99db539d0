"""A ward lead's evening, in a real browser (Debian's Chromium, driven by Playwright) against
a real server process."""

from __future__ import annotations

import re
import uuid

from phone_kit import ARTIFACTS

from server.web.qr import qr_svg
from sync.accounts import users

PASSWORD = "lead password for the browser"
POST_WITHOUT_TOKEN = """async (url) => (await fetch(url, {
    method: 'POST', body: new URLSearchParams({confirm: 'yes'})})).status"""


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
    with page.expect_navigation():  # the page after login, loaded, before anything is read
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
    pages_server, page, client, world, phone, session
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

    _login(page, pages_server, "lead-city")
    assert page.locator("#unit-name").get_attribute("data-code") == "C1"
    assert _page_totals(page) == _api_totals(client, world, "C1")
    assert page.locator("svg.trend").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "overview-city.png"), full_page=True)

    page.click("ul.children li[data-code=W1] a")
    assert page.locator("#unit-name").get_attribute("data-code") == "W1"
    w1 = _page_totals(page)
    assert w1 == _api_totals(client, world, "W1")
    assert (w1["accounts_activated"], w1["gifts_delivered"], w1["suspected_doubles"]) == (1, 1, 1)
    assert "25,0%" in page.locator("tr[data-metric=accounts_activated]").inner_text()

    page.goto(pages_server + "/follow-ups")
    assert page.locator("tr.person").count() == 1
    assert "*********002" in page.locator("tr.person").inner_text()

    page.goto(pages_server + "/review")
    item = page.locator("li.item[data-kind=suspected_double]")
    assert item.count() == 1
    item.locator("button[value=yes]").click()
    assert page.locator("#queue-empty").is_visible()
    page.goto(pages_server + "/?unit=W1")
    after = _page_totals(page)
    assert (after["gifts_delivered"], after["suspected_doubles"]) == (2, 0)
    assert after == _api_totals(client, world, "W1")

    page.goto(pages_server + "/devices")
    row = page.locator(f"tr.device[data-id='{phone.device_id}']")
    row.locator("button").click()
    assert page.locator(f"tr.device[data-id='{phone.device_id}'] td.state").inner_text() in (
        "đã thu hồi",
        "revoked",
    )
    assert phone.push([]).status_code == 401
    page.screenshot(path=str(ARTIFACTS / "devices-revoked.png"), full_page=True)


def test_enrolment_code_with_qr_and_the_english_switch(pages_server, page, world, session, client):
    users.create(session, "lead-city", "lead", ["C1"], password=PASSWORD)
    session.commit()
    session.close()
    _login(page, pages_server, "lead-city")
    page.goto(pages_server + "/devices?lang=en")
    assert page.locator("h1").inner_text() == "Devices"
    page.select_option("select[name=volunteer]", "vol-w1")
    page.select_option("select[name=org_units]", ["W1"])
    page.click("text=Create code")
    code = page.locator("#code-text").inner_text()
    assert page.locator(".qr svg").count() == 1
    # The QR code opens the phone app with the code filled in.
    link = page.locator("#enrol-link").get_attribute("href")
    assert link == f"{pages_server}/app/#enroll={code}"
    # (The browser writes the SVG back in its own way: compare the drawing itself.)
    drawn = re.findall(r' d="([^"]+)"', page.locator(".qr").inner_html())
    assert drawn and drawn == re.findall(r' d="([^"]+)"', str(qr_svg(link)))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "enrolment-code.png"), full_page=True)
    enrolled = client.post("/api/v1/devices/enroll", json={"code": code, "name": "new phone"})
    assert enrolled.status_code == 201
    page.goto(pages_server + "/?lang=vi")
    assert "Tiến độ" in page.locator("header nav").inner_text()


def test_out_of_scope_and_wrong_password(pages_server, page, world, session):
    users.create(session, "lead-far", "lead", ["W3"], password=PASSWORD)
    session.commit()
    session.close()
    page.goto(pages_server + "/login")
    page.fill("input[name=username]", "lead-far")
    page.fill("input[name=password]", "not the password")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.locator("[role=alert]").is_visible()
    _login(page, pages_server, "lead-far")
    assert page.locator("#unit-name").get_attribute("data-code") == "W3"
    response = page.goto(pages_server + "/?unit=W1")
    assert response.status == 404
    # A form posted without its CSRF token is refused.
    status = page.evaluate(
        POST_WITHOUT_TOKEN,
        pages_server + "/review/1",
    )
    assert status == 400


# --- the lead's evening (issue 14) ---------------------------------------------------------------
#
# Every form below goes through the push path (a phone's token, the API), and every figure the
# pages show is compared with what the API answers, written as a Vietnamese reader writes it.

SIZES = {"phone": {"width": 360, "height": 780}, "desktop": {"width": 1280, "height": 900}}


def _shots(page, name: str) -> None:
    """The page at a lead's phone width and a desk's, kept as artifacts; at 360 px nothing may
    stick out sideways (only the wide volunteer table scrolls, inside its own box)."""
    ARTIFACTS.mkdir(exist_ok=True)
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        page.screenshot(
            path=str(ARTIFACTS / f"lead-{name}-{viewport['width']}.png"), full_page=True
        )
        if size == "phone":
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= viewport["width"], f"{name}: {wide} px wide at 360 px"


def _vi(metric: str, value) -> str:
    """What a Vietnamese reader expects to read: Babel's Vietnamese formats."""
    from decimal import Decimal

    from babel.numbers import format_currency, format_decimal

    if metric == "gift_value_vnd":
        return format_currency(value, "VND", locale="vi")
    if metric == "volunteer_hours":
        return format_decimal(Decimal(str(value)), format="#,##0.##", locale="vi")
    return format_decimal(value, format="#,##0", locale="vi")


def _pct(percent, locale="vi") -> str:
    from decimal import Decimal

    from babel.numbers import format_percent

    return format_percent(Decimal(str(percent)) / 100, format="#,##0.0%", locale=locale)


def _api(client, world, path, **query):
    answer = client.get(
        path, query_string={"campaign": "camp", **query}, headers=world.headers("admin")
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    return answer


def _activations(n: int, ward: str = "W1", status: str = "activated", start: int = 0) -> list[dict]:
    return [
        _sub(
            "activation",
            "2023-07-29T09:00:00+07:00",
            {"citizen_id": f"0792{start + i:08d}", "status": status},
        )
        | {"org_unit": ward}
        for i in range(n)
    ]


def _lead(session, name: str, units: list[str]) -> None:
    users.create(session, name, "lead", units, password=PASSWORD)
    session.commit()
    session.close()


def test_the_pages_show_the_apis_figures_as_vietnamese_readers_write_them(
    pages_server, page, client, world, phone, session
):
    _lead(session, "lead-city", ["C1"])
    client.put(
        "/api/v1/campaigns/camp/targets",
        json=[
            {"org_unit": "W1", "metric": "accounts_activated", "value": 2000},
            {"org_unit": "W1", "metric": "gift_value_vnd", "value": 3_000_000_000},
            {"org_unit": "W2", "metric": "citizens_reached", "value": 500},
        ],
        headers=world.headers("admin"),
    )
    batch = _activations(1234)
    for i, value in enumerate((1_201_150_000, 1_201_150_000)):
        gift = {
            "household_id": str(uuid.uuid4()),
            "gift_kind": "rice",
            "round": "r1",
            "value_vnd": value,
        }
        batch.append(_sub("gift", f"2023-07-30T10:0{i}:00+07:00", gift))
    for volunteers, hours in ((3, 1.5), (7, 2.5)):
        help_ = {
            "household_id": str(uuid.uuid4()),
            "kind": "cleanup",
            "volunteers": volunteers,
            "hours": hours,
        }
        batch.append(_sub("household_help", "2023-08-01T08:00:00+07:00", help_))
    for chunk in (batch[:700], batch[700:]):
        assert phone.push(chunk).status_code == 200

    _login(page, pages_server, "lead-city")
    page.goto(pages_server + "/?unit=W1&lang=vi")
    api = _api(client, world, "/api/v1/progress", org_unit="W1").get_json()["totals"]
    for metric, total in api.items():
        row = page.locator(f"table.totals tr[data-metric={metric}]")
        assert row.locator(".value").inner_text() == _vi(metric, total["value"]), metric
        if total["target"]:
            assert row.locator(".target").inner_text() == _vi(metric, total["target"]), metric
            assert row.locator(".percent").inner_text() == _pct(total["percent"]), metric
    # As the issue asks, in so many words:
    money = page.locator("table.totals tr[data-metric=gift_value_vnd] .value").inner_text()
    assert money == "2.402.300.000\xa0₫"
    assert page.locator("tr[data-metric=accounts_activated] .value").inner_text() == "1.234"
    assert page.locator("tr[data-metric=accounts_activated] .percent").inner_text() == "61,7%"
    assert page.locator("tr[data-metric=volunteer_hours] .value").inner_text() == "22"
    # The chart: the chosen metric's columns sum to its total, the line ends at it.
    page.select_option("#chart-picker select[name=metric]", "gift_value_vnd")
    page.click("#chart-picker button")
    chart = page.locator("svg.trend")
    assert chart.get_attribute("data-metric") == "gift_value_vnd"
    assert float(chart.get_attribute("data-total")) == api["gift_value_vnd"]["value"]
    assert page.locator("svg.trend .target").get_attribute("data-target") == "3000000000"
    assert "2.402.300.000" in page.locator("figure.chart figcaption").inner_text()
    _shots(page, "progress-ward")

    page.goto(pages_server + "/?unit=C1")
    children = _api(client, world, "/api/v1/progress", org_unit="C1").get_json()["children"]
    for child in children:
        card = page.locator(f"ul.children li[data-code={child['org_unit']['code']}]")
        for metric, total in child["totals"].items():
            if total["target"]:  # a bar, with the figure and its target, for each
                figure = card.locator(f".figure[data-metric={metric}]")
                assert figure.locator(".bar").count() == 1
                assert figure.locator(".value").inner_text() == _vi(metric, total["value"])
                assert figure.locator(".percent").inner_text() == _pct(total["percent"])
    _shots(page, "progress-city")
    # The English switch: the same figures in English.
    page.goto(pages_server + "/?unit=W1&lang=en")
    assert page.locator("tr[data-metric=gift_value_vnd] .value").inner_text() == "₫2,402,300,000"
    assert page.locator("tr[data-metric=accounts_activated] .percent").inner_text() == "61.7%"
    assert (
        page.locator("tr[data-metric=accounts_activated] th").inner_text() == "Accounts activated"
    )
    _shots(page, "progress-ward-en")


def test_an_admin_whose_units_have_two_roots_picks_the_other(pages_server, page, world, session):
    from sync.admin import orgunits

    orgunits.create(session, "BD", "Tỉnh Bình Dương", None)
    orgunits.create(session, "TA", "Thành phố Thuận An", "BD")
    session.commit()
    users.create(session, "admin-two", "admin", [], password=PASSWORD)
    session.commit()
    session.close()
    _login(page, pages_server, "admin-two")
    assert page.locator("#unit-name").get_attribute("data-code") == "BD"  # the first root
    options = page.locator("#root-picker select[name=unit] option")
    assert [options.nth(i).get_attribute("value") for i in range(options.count())] == ["BD", "P"]
    _shots(page, "root-picker")
    page.select_option("#root-picker select[name=unit]", "P")
    page.click("#root-picker button")
    assert page.locator("#unit-name").get_attribute("data-code") == "P"
    assert page.locator("ul.children li[data-code=C1]").count() == 1
    page.click("ul.children li[data-code=C1] a")
    page.click("ul.children li[data-code=W1] a")
    assert [a.inner_text() for a in page.locator("nav.trail a").all()] == ["Province", "City One"]
    page.click("nav.trail a >> nth=0")
    assert page.locator("#unit-name").get_attribute("data-code") == "P"


def test_a_lead_of_two_wards_picks_between_them(pages_server, page, world, session):
    _lead(session, "lead-two", ["W1", "W3"])
    _login(page, pages_server, "lead-two")
    options = page.locator("#root-picker select[name=unit] option")
    assert [options.nth(i).get_attribute("value") for i in range(options.count())] == ["W1", "W3"]
    page.select_option("#root-picker select[name=unit]", "W3")
    page.click("#root-picker button")
    assert page.locator("#unit-name").get_attribute("data-code") == "W3"
    assert page.goto(pages_server + "/?unit=C1").status == 404  # their wards' city is not theirs


def test_the_downloads_open_with_vietnamese_intact(
    pages_server, page, client, world, phone, session, tmp_path
):
    import csv
    import io

    import openpyxl

    from sync.admin import orgunits

    orgunits.create(session, "LT", "Phường Lái Thiêu", "C1")
    session.commit()
    _lead(session, "lead-city", ["C1"])
    address = "3 Lê Lợi, khu phố Bình Đức"
    phone.push(
        [
            _sub(
                "activation",
                "2023-07-29T09:00:00+07:00",
                {
                    "citizen_id": "079100000001",
                    "status": "no_smartphone",
                    "household_address": address,
                    "note": "Ông Nguyễn Văn Ấn, hẹn chiều thứ Bảy",
                },
            ),
            _sub(
                "activation",
                "2023-07-29T09:05:00+07:00",
                {"citizen_id": "079100000002", "status": "activated"},
            ),
        ]
    )
    _login(page, pages_server, "lead-city")
    got = {}
    for kind in ("progress-csv", "progress-xlsx", "follow-ups-csv", "follow-ups-xlsx"):
        with page.expect_download() as download:
            page.click(f"a.download[data-kind={kind}]")
        path = tmp_path / download.value.suggested_filename
        download.value.save_as(path)
        assert path.name == f"{kind.rsplit('-', 1)[0]}-camp-C1.{kind.rsplit('-', 1)[1]}"
        if kind.endswith("csv"):
            got[kind] = list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))
        else:
            sheet = openpyxl.load_workbook(path, read_only=True).active
            header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
            got[kind] = [dict(zip(header, r, strict=True)) for r in rows]
    for kind in ("progress-csv", "progress-xlsx"):
        by_code = {r["org_unit"]: r for r in got[kind]}
        assert set(by_code) == {"C1", "W1", "W2", "LT"}
        assert by_code["LT"]["name"] == "Phường Lái Thiêu"
        assert int(by_code["W1"]["citizens_reached"]) == 2
    api = _api(client, world, "/api/v1/exports/follow-ups", org_unit="C1").get_data(as_text=True)
    for kind in ("follow-ups-csv", "follow-ups-xlsx"):
        [person] = got[kind]
        assert person["household_address"] == address
        assert person["note"] == "Ông Nguyễn Văn Ấn, hẹn chiều thứ Bảy"
        assert person["citizen_id"] == "*********001"
    assert list(csv.DictReader(io.StringIO(api))) == got["follow-ups-csv"]
    _shots(page, "downloads")


def test_the_volunteer_table_matches_a_count_from_the_api(
    pages_server, page, client, world, phone, session
):
    from kit.enrol import enroll_phone

    users.create(session, "vol-w1b", "volunteer", ["W1"])
    session.commit()
    _lead(session, "lead-city", ["C1"])
    second = enroll_phone(client, world, "vol-w1b", ("W1",), "admin")
    household = str(uuid.uuid4())
    help_ = {"household_id": household, "kind": "road_repair", "volunteers": 2, "hours": 3}
    assert (
        phone.push(
            _activations(12)
            + [_sub("household_help", "2023-07-30T08:00:00+07:00", help_)]
            + [
                _sub(
                    "gift",
                    "2023-07-30T09:00:00+07:00",
                    {"household_id": household, "gift_kind": "rice", "round": "r1"},
                )
            ]
        ).status_code
        == 200
    )
    assert (
        second.push(
            _activations(5, start=100)
            + [
                _sub(
                    "gift",
                    "2023-07-30T09:30:00+07:00",
                    {"household_id": household, "gift_kind": "rice", "round": "r1"},
                )
            ]
        ).status_code
        == 200
    )
    # The API's count: each phone's receipt, and the exports' rows by phone and form.
    import csv
    import io

    expected: dict[str, dict[str, int]] = {}
    owner = {}
    for p in (phone, second):
        receipt = client.get("/api/v1/devices/me", headers=p.headers).get_json()
        owner[p.device_id] = receipt["volunteer"]
        expected.setdefault(receipt["volunteer"], {"total": 0})["total"] += receipt["accepted"]
    for form in ("activation", "household_help", "gift", "void"):
        rows = csv.DictReader(
            io.StringIO(
                _api(client, world, "/api/v1/exports/submissions", form=form).get_data(as_text=True)
            )
        )
        for row in rows:
            counts = expected[owner[row["device_id"]]]
            counts[form] = counts.get(form, 0) + 1
    _login(page, pages_server, "lead-city")
    page.click("#volunteers-link")
    assert page.locator("#unit-name").get_attribute("data-code") == "C1"
    shown = {}
    for row in page.locator("tr.volunteer").all():
        shown[row.get_attribute("data-volunteer")] = {
            "total": int(row.get_attribute("data-total")),
            **{
                f: int(row.get_attribute(f"data-{f.replace('_', '-')}"))
                for f in ("activation", "household_help", "gift", "void")
            },
        }
    for name, counts in expected.items():
        assert shown[name] == {
            "total": counts["total"],
            **{f: counts.get(f, 0) for f in ("activation", "household_help", "gift", "void")},
        }, name
    assert set(shown) == set(expected)
    assert page.locator("tr.volunteer[data-volunteer=vol-w1] td.num >> nth=0").inner_text() == "12"
    _shots(page, "volunteers")


def test_a_quiet_phone_appears_once_its_last_sync_is_moved_back(
    pages_server, page, client, world, phone, session, engine
):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import text

    _lead(session, "lead-ward", ["W1"])
    assert phone.push(_activations(3)).status_code == 200
    _login(page, pages_server, "lead-ward")
    assert page.locator("#no-quiet").is_visible()
    assert page.locator("li.quiet-phone").count() == 0
    with engine.begin() as conn:  # the phone's last push, two days ago
        conn.execute(
            text("UPDATE submissions SET received_at = :t WHERE device_id = :d"),
            {"t": datetime.now(UTC) - timedelta(days=2), "d": phone.device_id},
        )
    page.reload()
    quiet = page.locator(f"li.quiet-phone[data-id='{phone.device_id}']")
    assert quiet.count() == 1
    assert "vol-w1" in quiet.inner_text() and "2 ngày" in quiet.inner_text()
    _shots(page, "quiet-phones")
    page.goto(pages_server + "/volunteers")
    assert page.locator("tr.volunteer[data-volunteer=vol-w1] .badge.quiet").count() == 1
    # A push brings it back.
    assert phone.push(_activations(1, start=50)).status_code == 200
    page.goto(pages_server + "/")
    assert page.locator("li.quiet-phone").count() == 0


def test_resolving_a_double_from_its_card_changes_the_counts(
    pages_server, page, client, world, phone, session
):
    _lead(session, "lead-ward", ["W1"])
    household = str(uuid.uuid4())
    gift = {
        "household_id": household,
        "household_address": "12 Nguyễn Trãi",
        "gift_kind": "rice",
        "round": "2023-tet",
        "value_vnd": 450_000,
    }
    phone.push(
        [
            _sub("gift", "2023-07-30T10:00:00+07:00", gift),
            _sub("gift", "2023-07-30T10:20:00+07:00", gift),
            _sub(
                "activation",
                "2023-07-30T11:00:00+07:00",
                {"citizen_id": "079100000007", "status": "activated"},
            ),
            _sub(
                "activation",
                "2023-07-30T11:30:00+07:00",
                {"citizen_id": "079100000007", "status": "refused"},
            ),
        ]
    )
    before = _api(client, world, "/api/v1/progress", org_unit="W1").get_json()["totals"]
    assert (before["gifts_delivered"]["value"], before["suspected_doubles"]["value"]) == (1, 1)
    _login(page, pages_server, "lead-ward")
    page.goto(pages_server + "/review?lang=vi")
    card = page.locator("li.item[data-kind=suspected_double]")
    text = card.inner_text()
    assert "12 Nguyễn Trãi" in text and "«rice»" in text and "«2023-tet»" in text
    assert "450.000\xa0₫" in text
    assert "lần được ghi trước (theo đồng hồ của điện thoại) được tính" in text
    assert card.locator("li.gift[data-standing=counted]").count() == 1
    assert card.locator("li.gift.this[data-standing=suspected]").count() == 1
    status = page.locator("li.item[data-kind=status_conflict]").inner_text()
    assert "*********007" in status and "«Đã kích hoạt»" in status and "«Từ chối»" in status
    _shots(page, "review")
    page.goto(pages_server + "/review?lang=en&kind=suspected_double")
    assert page.locator("li.item").count() == 1
    assert "recorded first by the phones' clocks counts" in page.locator("li.item").inner_text()
    _shots(page, "review-en")
    page.click("li.item[data-kind=suspected_double] button[value=yes]")
    assert page.locator("#queue-empty").is_visible()  # still filtered to doubles: none left
    after = _api(client, world, "/api/v1/progress", org_unit="W1").get_json()["totals"]
    assert (after["gifts_delivered"]["value"], after["suspected_doubles"]["value"]) == (2, 0)
    assert after["gift_value_vnd"]["value"] == 900_000
    page.goto(pages_server + "/?unit=W1&lang=vi")
    assert page.locator("tr[data-metric=gifts_delivered] .value").inner_text() == "2"
    assert page.locator("tr[data-metric=suspected_doubles] .value").inner_text() == "0"
    assert page.locator("tr[data-metric=gift_value_vnd] .value").inner_text() == "900.000\xa0₫"
    assert _page_totals(page) == _api_totals(client, world, "W1")
