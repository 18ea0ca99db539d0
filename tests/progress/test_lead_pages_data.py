"""What the lead's pages show, read through Flask's test client on both databases: the root
picker, a bar per metric with a target, the chart of the chosen metric, the downloads, the
quiet phones, the per-volunteer table, and the review cards with their paging and filters.
Bad addresses are refused with a page, never a 500. (The browser tests drive the same pages
in Chromium.)"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from kit.enrol import enroll_phone
from sqlalchemy import select, text

from sync.accounts import users
from sync.admin import orgunits
from sync.models import User


def _sub(ward: str, form: str, data: dict, minute: int = 0, day: int = 29) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "form": form,
        "form_version": 1,
        "campaign": "camp",
        "org_unit": ward,
        "recorded_at": f"2023-07-{day:02d}T09:{minute:02d}:00+07:00",
        "data": data,
    }


def _page_client(app, engine, username: str):
    from server import db
    from server.auth import refresh

    client = app.test_client()
    client.environ_base.update({"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"})
    with engine.begin() as conn:
        user_id = conn.scalar(select(User.id).where(User.username == username))
    with app.app_context():
        rotation = refresh.start_family(db.session(), user_id, 3600)
        db.session().commit()
        db.session().close()
    with client.session_transaction() as cookie:
        cookie["uid"], cookie["fam"] = user_id, rotation.family_id
    return client


def _html(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


@pytest.fixture
def pages(app, engine, session, world):
    """Leads of two wards under different cities, and a second root beside the province."""
    orgunits.create(session, "Q", "Other Province", None)
    orgunits.create(session, "QW", "Other Ward", "Q")
    users.create(session, "lead-two", "lead", ["W1", "W3"])
    users.create(session, "vol-w1b", "volunteer", ["W1"])
    session.commit()
    session.close()
    return lambda who: _page_client(app, engine, who)


def test_an_admin_with_two_roots_picks_either_and_a_lead_picks_among_their_units(pages):
    admin = pages("admin")
    html = _html(admin.get("/"))
    assert 'id="unit-name" data-code="P"' in html
    picker = re.search(
        r'<form method="get" class="picker" id="root-picker">(.*?)</form>', html, re.S
    )
    assert re.findall(r'<option value="([^"]+)"', picker[1]) == ["P", "Q"]
    assert 'id="unit-name" data-code="Q"' in _html(admin.get("/?unit=Q"))
    lead = pages("lead-two")
    html = _html(lead.get("/"))
    picker = re.search(r'id="root-picker">(.*?)</form>', html, re.S)
    assert re.findall(r'<option value="([^"]+)"', picker[1]) == ["W1", "W3"]
    assert 'data-code="W3"' in _html(lead.get("/?unit=W3"))
    # Outside the scope, a unit does not exist for the lead; nor for a one-ward lead a picker.
    assert lead.get("/?unit=C1").status_code == 404
    assert lead.get("/?unit=QW").status_code == 404
    assert "root-picker" not in _html(pages("lead-w1").get("/"))


def test_every_metric_with_a_target_has_its_bar_and_the_chart_its_line(pages, client, world, phone):
    client.put(
        "/api/v1/campaigns/camp/targets",
        json=[
            {"org_unit": "W1", "metric": "accounts_activated", "value": 4},
            {"org_unit": "W1", "metric": "gift_value_vnd", "value": 2_000_000_000},
            {"org_unit": "W2", "metric": "citizens_reached", "value": 10},
        ],
        headers=world.headers("admin"),
    )
    household = str(uuid.uuid4())
    phone.push(
        [
            _sub("W1", "activation", {"citizen_id": "079100000001", "status": "activated"}),
            _sub("W1", "activation", {"citizen_id": "079100000002", "status": "visited"}, day=30),
            _sub(
                "W1",
                "gift",
                {
                    "household_id": household,
                    "gift_kind": "rice",
                    "round": "r1",
                    "value_vnd": 1_201_150_000,
                },
                minute=3,
            ),
            _sub(
                "W1",
                "household_help",
                {"household_id": household, "kind": "cleanup", "volunteers": 3, "hours": 1.5},
                minute=4,
            ),
        ]
    )
    html = _html(pages("lead-c1").get("/?unit=C1&metric=gift_value_vnd&lang=en"))
    w1 = re.search(r'<li data-code="W1".*?</li>', html, re.S)[0]
    assert re.findall(r'class="figure" data-metric="([a-z_]+)"', w1) == [
        "accounts_activated",
        "gift_value_vnd",
    ]
    assert w1.count('class="bar"') == 2
    w2 = re.search(r'<li data-code="W2".*?</li>', html, re.S)[0]
    assert re.findall(r'class="figure" data-metric="([a-z_]+)"', w2) == ["citizens_reached"]
    # English: money, hours, percentages as English readers write them.
    totals = re.search(r'<tr data-metric="gift_value_vnd".*?</tr>', html, re.S)[0]
    assert "₫1,201,150,000" in totals and "₫2,000,000,000" in totals and "60.1%" in totals
    hours = re.search(r'<tr data-metric="volunteer_hours".*?</tr>', html, re.S)[0]
    assert '<span class="value">4.5</span>' in hours
    # The chart: the chosen metric, its running total, the target line.
    assert 'class="trend" data-metric="gift_value_vnd" data-total="1201150000"' in html
    assert 'class="target" data-target="2000000000"' in html
    assert html.count('class="col"') == 30  # every day of the campaign, 29 July to 27 August
    vi = _html(pages("lead-c1").get("/?unit=W1&metric=gift_value_vnd&lang=vi"))
    assert "1.201.150.000\xa0₫" in vi and "60,1%" in vi
    assert pages("lead-c1").get("/?unit=W1&metric=nope").status_code == 400


def test_downloads_link_the_exports_of_the_unit_shown(pages, client, world):
    html = _html(pages("lead-c1").get("/?unit=W2"))
    links = dict(re.findall(r'class="download" data-kind="([a-z-]+)" href="([^"]+)"', html))
    assert set(links) == {"progress-csv", "progress-xlsx", "follow-ups-csv", "follow-ups-xlsx"}
    for href in links.values():
        assert "org_unit=W2" in href and "campaign=camp" in href
        assert pages("lead-c1").get(href.replace("&amp;", "&")).status_code == 200
        assert pages("lead-w3").get(href.replace("&amp;", "&")).status_code == 403


def test_a_phone_goes_quiet_after_24_hours_without_a_push(pages, client, world, engine):
    quiet = enroll_phone(client, world, "vol-w1", ("W1",), "admin")
    fresh = enroll_phone(client, world, "vol-w1b", ("W1",), "admin")
    never = enroll_phone(client, world, "vol-w1b", ("W1",), "admin")
    for phone in (quiet, fresh):
        phone.push(
            [
                _sub(
                    "W1",
                    "activation",
                    {"citizen_id": f"0791000{uuid.uuid4().int % 10**5:05d}", "status": "visited"},
                )
            ]
        )
    html = _html(pages("lead-w1").get("/"))
    assert 'id="no-quiet"' in html
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE submissions SET received_at = :t WHERE device_id = :d"),
            {"t": datetime.now(UTC) - timedelta(hours=30), "d": quiet.device_id},
        )
    html = _html(pages("lead-w1").get("/"))
    shown = re.findall(r'class="quiet-phone" data-id="([0-9a-f]+)"', html)
    assert shown == [quiet.device_id]  # not the fresh one, nor the one that never pushed
    assert never.device_id not in html
    # Not in the scope of another ward's lead.
    assert quiet.device_id not in _html(pages("lead-w3").get("/"))
    table = _html(pages("lead-w1").get("/volunteers"))
    row = re.search(r'<tr class="volunteer" data-volunteer="vol-w1".*?</tr>', table, re.S)[0]
    assert 'class="badge quiet"' in row


def test_the_volunteer_table_counts_each_volunteers_forms(pages, client, world, phone):
    other = enroll_phone(client, world, "vol-w1b", ("W1",), "admin")
    household = str(uuid.uuid4())
    gift = {"household_id": household, "gift_kind": "rice", "round": "r1", "value_vnd": 450_000}
    phone.push(
        [
            _sub("W1", "activation", {"citizen_id": "079100000001", "status": "activated"}),
            _sub("W1", "activation", {"citizen_id": "079100000002", "status": "visited"}),
            _sub("W1", "gift", gift, minute=1),
        ]
    )
    other.push([_sub("W1", "gift", gift, minute=2)])
    [item] = client.get(
        "/api/v1/conflicts", query_string={"campaign": "camp"}, headers=world.headers("admin")
    ).get_json()["items"]
    client.post(
        f"/api/v1/conflicts/{item['id']}/resolve",
        json={"confirm": False},
        headers=world.headers("lead-w1"),
    )
    html = _html(pages("lead-c1").get("/volunteers?unit=C1"))
    rows = {
        m["volunteer"]: m
        for m in (
            dict(re.findall(r'data-([a-z-]+)="([^"]*)"', row))
            for row in re.findall(r'<tr class="volunteer"[^>]*>', html)
        )
    }
    assert (rows["vol-w1"]["activation"], rows["vol-w1"]["gift"], rows["vol-w1"]["total"]) == (
        "2",
        "1",
        "3",
    )
    assert (rows["vol-w1b"]["gift"], rows["vol-w1b"]["rejected"]) == ("1", "1")
    # A ward lead elsewhere sees none of them.
    assert 'class="volunteer"' not in _html(pages("lead-w3").get("/volunteers"))
    assert pages("lead-w3").get("/volunteers?unit=W1").status_code == 404


WARD_DIGITS = {"W1": "01", "W2": "02", "W3": "03"}


def _review(phone, wards: dict[str, int]):
    """``n`` suspected doubles in each ward, and one status conflict in the first."""
    batch = []
    for ward, n in wards.items():
        for i in range(n):
            gift = {"household_id": str(uuid.uuid4()), "gift_kind": "rice", "round": "r1"}
            gift["household_address"] = f"{i} Lê Lợi"
            batch += [
                _sub(ward, "gift", gift | {"value_vnd": 300_000}, minute=1),
                _sub(ward, "gift", gift | {"value_vnd": 300_000}, minute=2),
            ]
    ward = next(iter(wards))
    citizen = f"0791000{WARD_DIGITS[ward]}009"
    batch += [
        _sub(ward, "activation", {"citizen_id": citizen, "status": "activated"}, 3),
        _sub(ward, "activation", {"citizen_id": citizen, "status": "refused"}, 4),
    ]
    assert phone.push(batch).status_code == 200


def test_review_cards_say_what_happened_in_plain_words(pages, client, world, phone):
    _review(phone, {"W1": 1})
    html = _html(pages("lead-w1").get("/review?lang=vi"))
    double = re.search(r'<li class="item suspected_double".*?</form>', html, re.S)[0]
    assert double.count('class="gift') == 2
    assert "«rice»" in double and "0 Lê Lợi" in double and "300.000\xa0₫" in double
    assert 'data-standing="counted"' in double and 'data-standing="suspected"' in double
    conflict = re.search(r'<li class="item status_conflict".*?</form>', html, re.S)[0]
    assert "*********009" in conflict and conflict.count('class="report"') == 2
    english = _html(pages("lead-w1").get("/review?lang=en"))
    assert "recorded first by the phones' clocks counts" in english
    assert "the highest step any phone reported" in english


def test_the_queue_is_paged_and_filtered_by_kind_and_ward(pages, client, world, phone, session):
    _review(phone, {"W1": 25})
    users.create(session, "vol-w2", "volunteer", ["W2"])
    session.commit()
    session.close()
    _review(enroll_phone(client, world, "vol-w2", ("W2",), "admin"), {"W2": 2})
    lead = pages("lead-c1")
    first = _html(lead.get("/review?campaign=camp"))
    assert 'data-total="29"' in first  # 27 doubles and 2 status conflicts
    assert len(re.findall(r'class="item [a-z_]+" data-id', first)) == 20
    second = _html(lead.get("/review?campaign=camp&page=2"))
    assert len(re.findall(r'class="item [a-z_]+" data-id', second)) == 9
    only = _html(lead.get("/review?campaign=camp&kind=status_conflict"))
    assert re.findall(r'data-kind="([a-z_]+)" data-ward="([A-Z0-9]+)"', only) == [
        ("status_conflict", "W1"),
        ("status_conflict", "W2"),
    ]
    ward = _html(lead.get("/review?campaign=camp&ward=W2"))
    assert set(re.findall(r'data-ward="([A-Z0-9]+)"', ward)) == {"W2"}
    assert 'data-total="3"' in ward
    # Resolving from a filtered page comes back to it.
    item = re.search(r'class="item suspected_double" data-id="(\d+)"', ward)[1]
    login = lead.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login)[1]
    answer = lead.post(
        f"/review/{item}?campaign=camp&ward=W2", data={"confirm": "no", "csrf_token": token}
    )
    assert answer.status_code == 302 and "ward=W2" in answer.headers["Location"]
    assert 'data-total="2"' in _html(lead.get(answer.headers["Location"]))


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/review?kind=nope", 400),
        ("/review?page=0", 400),
        ("/review?page=-1", 400),
        ("/review?page=abc", 400),
        ("/review?page=99999999999999999999", 400),
        ("/review?ward=NOPE", 404),
        ("/review?ward=W3", 404),
        ("/review?page=7", 302),  # past the last page: back to the last one
        ("/?metric=nope", 400),
        ("/?unit=NOPE", 404),
        ("/?unit=" + "x" * 5000, 404),
        ("/?campaign=nope", 200),  # the latest campaign instead
        ("/volunteers?unit=W3", 404),
        ("/volunteers?unit=NOPE", 404),
        ("/volunteers?campaign=" + "é" * 300, 200),
    ],
)
def test_bad_addresses_are_refused_with_a_page_never_a_500(pages, path, status):
    response = pages("lead-c1").get(path)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    if status >= 400:
        assert response.mimetype == "text/html"
        assert "<h1>" in response.get_data(as_text=True)


def test_a_field_conflict_card_names_both_phones_and_the_value_that_wins(
    pages, client, world, phone
):
    other = enroll_phone(client, world, "vol-w1b", ("W1",), "admin")
    citizen = "079100000055"
    first = {"citizen_id": citizen, "status": "visited", "household_address": "5 Trần Phú"}
    phone.push([_sub("W1", "activation", first, minute=1)])
    later = first | {"household_address": "7 Trần Phú"}  # not having seen the first
    assert (
        other.push([_sub("W1", "activation", later, minute=2)]).get_json()["results"][0]["status"]
        == "conflict"
    )
    lead = pages("lead-w1")
    html = _html(lead.get("/review?kind=field_conflict&lang=vi"))
    card = re.search(r'<li class="item field_conflict".*?</form>', html, re.S)[0]
    assert card.count('class="report') == 2
    wins = re.search(r'<li class="report wins">(.*?)</li>', card, re.S)[1]
    assert "vol-w1b" in wins and "7 Trần Phú" in wins  # the later clock
    assert "ghi muộn hơn theo đồng hồ" in card
    choices = re.findall(r'<button name="value" value="([^"]+)"', card)
    assert sorted(choices) == ["5 Trần Phú", "7 Trần Phú"]
    item = re.search(r'data-id="(\d+)"', card)[1]
    login = lead.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login)[1]
    form = {"field": "household_address", "value": "5 Trần Phú", "csrf_token": token}
    assert lead.post(f"/review/{item}?campaign=camp", data=form).status_code == 302
    assert 'id="queue-empty"' in _html(lead.get("/review?kind=field_conflict"))
