"""The demo's month, loaded through the push path: the progress the API serves equals a count
made from the month's own forms by the independent model (``tests/model.py``), and the
counters agree with a recount.

A smaller month than ``wardsync demo`` loads (two weekend days, ten volunteers a day), so each
database takes seconds; it still has field and status conflicts, suspected doubles and voids.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime
from decimal import Decimal

import pytest
from argon2 import PasswordHasher
from kit.world import mint_token
from model import Model
from sqlalchemy import func, select

from sync.accounts import passwords
from sync.admin import demo
from sync.admin.demo import month as demo_month
from sync.db import make_session_factory
from sync.models import Device, Submission, User
from sync.progress import verify
from sync.progress.metrics import METRICS

SMALL = {"seed": 2023, "wave": 10, "days": 2}
CITY = demo.CITY[0]
WARDS = [code for code, _, _ in demo.WARDS]


@pytest.fixture
def cheap_passwords(monkeypatch):
    """The demo's nineteen passwords hashed at a test's cost, not a server's."""
    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


def _setup(app, engine, params):
    session = make_session_factory(engine)()
    demo.load(session, month=params)
    session.commit()
    return session


def _device_ids(session) -> dict[str, str]:
    rows = session.execute(select(User.username, Device.id).join(Device, Device.user_id == User.id))
    return dict(rows.all())


def _model(month: demo.Month, device_ids: dict[str, str]) -> Model:
    """The month's forms, pushed into the model as the loader pushed them to the server."""
    parents = {demo.PROVINCE[0]: None, CITY: demo.PROVINCE[0]} | {w: CITY for w in WARDS}
    model = Model(parents)
    for push in month.pushes:
        device = device_ids[month.volunteers[push.volunteer].username]
        model.push(device, push.items_for(device), push.at_ms, flags=False)
    return model


def _plain(value):
    return float(value) if isinstance(value, Decimal) else value


def _progress(client, headers, unit: str) -> dict:
    answer = client.get(
        "/api/v1/progress",
        query_string={"campaign": demo.CAMPAIGN[0], "org_unit": unit, "daily": 1},
        headers=headers,
    )
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def _admin_headers(app, session) -> dict[str, str]:
    admin = session.scalar(select(User).where(User.username == "admin"))
    token = mint_token(app, session, admin)
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def _assert_progress_is_the_models(client, headers, model: Model) -> dict:
    """Every metric of the city and of each ward, and the city's daily series."""
    city = None
    for unit in [CITY, *WARDS]:
        body = _progress(client, headers, unit)
        expected = model.totals(unit)
        for metric in METRICS:
            served, wanted = body["totals"][metric], expected[metric]
            assert served["value"] == _plain(wanted["value"]), (unit, metric)
            if served["target"]:
                assert served["percent"] == round(served["value"] * 100 / served["target"], 1)
        if unit == CITY:
            city = body
    daily = {
        (row["date"], metric): row[metric]
        for row in city["daily"]
        for metric in METRICS
        if metric != "open_conflicts" and row[metric]
    }
    assert daily == {key: _plain(v) for key, v in model.daily(CITY).items()}
    return city["totals"]


def test_the_month_is_seeded_and_shaped_like_the_campaign():
    first, again = demo.plan(**SMALL), demo.plan(**SMALL)
    assert [(p.volunteer, p.at_ms, p.items) for p in first.pushes] == [
        (p.volunteer, p.at_ms, p.items) for p in again.pushes
    ]
    assert first.volunteers == again.volunteers
    other = demo.plan(seed=7, wave=10, days=2)
    assert [p.items for p in other.pushes] != [p.items for p in first.pushes]

    whole = demo.plan()
    assert whole.days == tuple(demo_month.DAYS)
    assert [d.isoformat() for d in whole.days] == [
        "2023-07-29", "2023-07-30", "2023-08-05", "2023-08-06", "2023-08-12",
        "2023-08-13", "2023-08-19", "2023-08-20", "2023-08-26", "2023-08-27",
    ]  # fmt: skip
    assert 20_000 <= whole.size() <= 40_000  # a few tens of thousands of forms
    assert 280 <= len(whole.volunteers) <= 320  # waves of about 30, one a day
    per_day = Counter(v.day for v in whole.volunteers)
    assert all(28 <= n <= 32 for n in per_day.values())
    assert len({v.username for v in whole.volunteers}) == len(whole.volunteers)
    forms = whole.forms()
    assert forms["gift"] > 500 and forms["household_help"] > 50 and forms["void"] > 10
    arrivals = [p.at_ms for p in whole.pushes]
    assert arrivals == sorted(arrivals)
    sizes = [len(p.items) for p in whole.pushes]
    assert max(sizes) <= 100 and 5 <= sorted(sizes)[len(sizes) // 2] <= 20  # per sync
    for push in whole.pushes:
        volunteer = whole.volunteers[push.volunteer]
        for item in push.items:
            assert item["org_unit"] == volunteer.ward
            recorded = datetime.fromisoformat(item["recorded_at"])
            assert recorded.utcoffset().total_seconds() == 7 * 3600
            assert recorded.date() == volunteer.day  # recorded on the volunteer's day
            wall = int(item["hlc"].split(":")[0])
            assert wall == int(recorded.timestamp() * 1000)  # one phone clock for both
            assert push.at_ms >= wall - 3 * 3600_000  # sent after it was recorded
    text = json.dumps([p.items for p in whole.pushes], ensure_ascii=False)
    assert "khu phố" in text and "Đã cài VNeID, chờ duyệt mức 2" in text


def test_the_progress_served_is_a_count_of_the_months_forms(app, client, engine, cheap_passwords):
    month = demo.plan(**SMALL)
    session = _setup(app, engine, SMALL)
    loaded = demo.load_wanted(session, app.config["CITIZEN_ID_KEY"])

    assert loaded.forms == month.forms() and loaded.pushes == len(month.pushes)
    assert set(loaded.answers) <= {"applied", "conflict"}
    assert demo.is_complete(session) and demo.load_wanted(session, "unused") is None
    devices = _device_ids(session)
    assert len(devices) == len(month.volunteers)

    model = _model(month, devices)
    headers = _admin_headers(app, session)
    totals = _assert_progress_is_the_models(client, headers, model)
    assert totals["open_conflicts"]["value"] > 0 and totals["suspected_doubles"]["value"] > 0
    assert totals["accounts_activated"]["value"] > 0 and totals["no_smartphone"]["value"] > 0
    assert totals["gift_value_vnd"]["value"] > 0 and totals["volunteer_hours"]["value"] > 0
    assert model.field_conflicts and model.status_conflicts  # both kinds, as well as doubles

    queue = client.get(
        "/api/v1/conflicts",
        query_string={"campaign": demo.CAMPAIGN[0], "org_unit": CITY, "status": "open"},
        headers=headers,
    )
    assert queue.status_code == 200
    kinds = Counter(item["kind"] for item in queue.get_json()["items"])
    assert set(kinds) == {"field_conflict", "status_conflict", "suspected_double"}
    assert kinds["suspected_double"] == totals["suspected_doubles"]["value"]

    session.close()
    with make_session_factory(engine, write=False)() as fresh:
        assert verify.verify(fresh, demo.CAMPAIGN[0]) == []
        stored = fresh.scalar(select(func.count()).select_from(Submission))
        assert stored == month.size()


def test_an_interrupted_load_is_finished_by_the_next(app, client, engine, cheap_passwords):
    params = {"seed": 11, "wave": 5, "days": 2}
    month = demo.plan(**params)
    session = _setup(app, engine, params)

    def stop(_line):
        raise KeyboardInterrupt  # ^C, once the first day's pushes are stored

    with pytest.raises(KeyboardInterrupt):
        demo.load_wanted(session, app.config["CITIZEN_ID_KEY"], report=stop)
    session.rollback()
    assert not demo.is_complete(session)
    first_day = session.scalar(select(func.count()).select_from(Submission))
    assert 0 < first_day < month.size()

    again = demo.load_wanted(session, app.config["CITIZEN_ID_KEY"])
    assert again.answers["duplicate"] == first_day  # resent, and answered from what was stored
    assert sum(again.answers.values()) == month.size()
    assert demo.is_complete(session)
    model = _model(month, _device_ids(session))
    _assert_progress_is_the_models(client, _admin_headers(app, session), model)
    session.close()
    with make_session_factory(engine, write=False)() as fresh:
        assert verify.verify(fresh, demo.CAMPAIGN[0]) == []


def test_days_are_weekends_of_the_campaign():
    assert demo_month.weekend_days(date(2023, 7, 28), date(2023, 7, 31)) == [
        date(2023, 7, 29),
        date(2023, 7, 30),
    ]
