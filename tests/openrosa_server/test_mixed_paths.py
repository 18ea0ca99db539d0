"""A form counts the same whichever app sent it: one day's forms sent by two phones, the second
phone being the JSON phone app in one run and ODK Collect (OpenRosa, one form per request) in
the other, give the same progress (totals and the daily series, ward and province), the same
review items, the same activation records, and a clean ``verify`` in both.

Each run has a database of its own (the same citizens, households and submission ids in both),
on SQLite and on PostgreSQL. Arrival order and devices are the same in both runs, since the
contract lets field conflicts depend on who had seen what when.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

from collect_kit import instance, make_device, submit
from kit.databases import TEST_SECRET
from kit.enrol import enroll_phone
from kit.world import World, mint_token
from sqlalchemy import select

from server.app import create_app
from sync.db import make_engine, make_session_factory
from sync.models import ActivationRecord, ReviewItem
from sync.progress.verify import verify
from sync.rules.activations import outcomes_of, status_of, visible_fields

H1, H2, H3 = (str(uuid.uuid5(uuid.NAMESPACE_URL, f"household {n}")) for n in range(3))


def sid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"submission {name}"))


@dataclass
class Form:
    name: str
    form: str
    data: dict
    minute: int
    edits: str | None = None  # the name of the form this one replaces (an edit in Collect)
    resend: bool = False  # sent a second time, as a phone that lost the answer does

    @property
    def at(self) -> str:
        return f"2023-07-29T{9 + self.minute // 60:02d}:{self.minute % 60:02d}:00+07:00"


def citizen(n: int) -> str:
    return f"0791000{n:05d}"


# Odd positions go through phone A (always JSON); even ones through phone B (JSON in one run,
# ODK Collect in the other).
FORMS = [
    Form("a1", "activation", {"citizen_id": citizen(101), "status": "visited"}, 0),
    Form("b1", "activation", {"citizen_id": citizen(102), "status": "activated"}, 5),
    Form("a2", "activation", {"citizen_id": citizen(101), "status": "activated"}, 60),
    Form("b2", "activation", {"citizen_id": citizen(102), "status": "refused"}, 30),  # conflict
    Form(
        "a3",
        "activation",
        {
            "citizen_id": citizen(103),
            "status": "no_smartphone",
            "household_id": H1,
            "note": "nhà số 5",
        },
        10,
    ),
    Form(
        "b3",
        "activation",
        {
            "citizen_id": citizen(103),
            "status": "visited",
            "household_id": H1,
            "note": "gọi lại sau",
        },
        70,
    ),  # a field conflict
    Form("a4", "activation", {"citizen_id": citizen(104), "status": "ineligible"}, 12),
    Form(
        "b4",
        "activation",
        {"citizen_id": citizen(105), "status": "visited", "phone_owner": "family"},
        14,
    ),
    Form(
        "a5",
        "gift",
        {
            "household_id": H1,
            "gift_kind": "rice",
            "round": "2023-tet",
            "value_vnd": 300000,
            "donor": "Đoàn phường",
        },
        20,
    ),
    Form(
        "b5",
        "gift",
        {"household_id": H1, "gift_kind": "rice", "round": "2023-tet", "value_vnd": 300000},
        25,
    ),  # a suspected double
    Form(
        "a6",
        "household_help",
        {
            "household_id": H2,
            "kind": "road_repair",
            "quantity": 12.5,
            "unit": "m",
            "volunteers": 3,
            "hours": 4,
        },
        30,
    ),
    Form(
        "b6",
        "activation",
        {"citizen_id": citizen(105), "status": "installed", "phone_owner": "self"},
        80,
        edits="b4",
    ),  # an activation edit
    Form(
        "a7",
        "gift",
        {
            "household_id": H3,
            "gift_kind": "sugar",
            "round": "2023-tet",
            "count": 2,
            "value_vnd": 100000,
        },
        35,
        resend=True,
    ),
    Form(
        "b7",
        "gift",
        {"household_id": H2, "gift_kind": "oil", "round": "2023-tet", "value_vnd": 50000},
        40,
    ),
    Form("a8", "household_help", {"household_id": H3, "kind": "cleanup", "hours": 2}, 45),
    Form(
        "b8",
        "gift",
        {
            "household_id": H2,
            "gift_kind": "oil",
            "round": "2023-tet",
            "value_vnd": 70000,
            "note": "sửa giá trị",
        },
        41,
        edits="b7",
        resend=True,
    ),
    Form("a9", "activation", {"citizen_id": citizen(106), "status": "installed"}, 50),
    Form(
        "b9",
        "household_help",
        {"household_id": H1, "kind": "sanitation", "quantity": 1, "unit": "item", "hours": 1.5},
        55,
    ),
    Form(
        "a10",
        "activation",
        {"citizen_id": citizen(106), "status": "activated", "note": "cccd 001203004005"},
        90,
    ),  # masked at rest
    Form(
        "b10",
        "household_help",
        {"household_id": H1, "kind": "sanitation", "quantity": 2, "unit": "item", "hours": 2.5},
        56,
        edits="b9",
    ),
    Form(
        "b11",
        "gift",
        {"household_id": H2, "gift_kind": "oil", "round": "2023-tet", "value_vnd": 80000},
        42,
        edits="b8",
    ),  # edited twice
]


def _json(form: Form) -> dict:
    return {
        "id": sid(form.name),
        "form": form.form,
        "form_version": 1,
        "campaign": "camp",
        "org_unit": "W1",
        "recorded_at": form.at,
        "data": form.data,
    }


def _as_json(form: Form) -> list[dict]:
    """What the phone app sends for ``form``: an edit of an event is a void and a new one."""
    items = []
    if form.edits and form.form != "activation":
        items.append(
            {
                **_json(form),
                "id": sid(form.name + " void"),
                "form": "void",
                "data": {"target": sid(form.edits), "reason": "edited in ODK Collect"},
            }
        )
    return [*items, _json(form)]


@dataclass
class Run:
    answers: list = field(default_factory=list)
    progress: dict = field(default_factory=dict)
    reviews: list = field(default_factory=list)
    records: list = field(default_factory=list)
    differences: list = field(default_factory=list)


def _seed(url: str, app) -> World:
    engine = make_engine(url)
    from sync.accounts import users
    from sync.admin import campaigns, orgunits

    with make_session_factory(engine)() as session:
        orgunits.create(session, "P", "Province", None)
        orgunits.create(session, "C1", "City One", "P")
        orgunits.create(session, "W1", "Ward One", "C1")
        campaigns.create(session, "camp", "Campaign", date(2023, 7, 29), date(2023, 8, 27))
        tokens = {}
        for name, role, units in (
            ("admin", "admin", ()),
            ("lead-w1", "lead", ("W1",)),
            ("vol-w1", "volunteer", ("W1",)),
        ):
            tokens[name] = mint_token(app, session, users.create(session, name, role, units))
        session.commit()
    engine.dispose()
    return World(app, tokens)


def _play(database, tmp_path, monkeypatch, collect_for_b: bool) -> Run:
    url = database.fresh_url()
    monkeypatch.setenv("WARDSYNC_INSTANCE_PATH", str(tmp_path / f"instance-{collect_for_b}"))
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": TEST_SECRET})
    try:
        world = _seed(url, app)
        client = app.test_client()
        phone_a = enroll_phone(client, world)
        phone_b = None if collect_for_b else enroll_phone(client, world)
        device = make_device(client, world) if collect_for_b else None
        run = Run()
        pending: list[dict] = []

        def flush():
            if pending:
                answer = phone_a.push(pending)
                assert answer.status_code == 200
                run.answers += [(r["id"], r["status"]) for r in answer.get_json()["results"]]
                pending.clear()

        for form in FORMS:
            for _ in range(2 if form.resend else 1):
                if form.name.startswith("a"):
                    pending.extend(_as_json(form))
                    continue
                flush()
                if device is None:
                    answer = phone_b.push(_as_json(form))
                    assert answer.status_code == 200
                    statuses = {r["status"] for r in answer.get_json()["results"]}
                    assert "rejected" not in statuses, answer.get_json()
                else:
                    xml = instance(
                        client,
                        device,
                        form.form,
                        {"campaign": "camp", "org_unit": "W1", **form.data},
                        instance_id=sid(form.name),
                        deprecated_id=sid(form.edits) if form.edits else None,
                        end=form.at.replace(":00+07:00", ":00.000+07:00"),
                    )
                    answer = submit(client, device, xml)
                    assert answer.status_code == 201, answer.data
        flush()
        for unit in ("W1", "P"):
            body = client.get(
                "/api/v1/progress",
                query_string={"campaign": "camp", "org_unit": unit, "daily": 1},
                headers=world.headers("admin"),
            ).get_json()
            run.progress[unit] = {"totals": body["totals"], "daily": body["daily"]}
        engine = make_engine(url)
        with make_session_factory(engine)() as session:
            run.reviews = sorted(
                (r.kind, r.status, r.day.isoformat(), tuple(sorted(r.submissions)))
                for r in session.scalars(select(ReviewItem))
            )
            run.records = sorted(
                (
                    r.citizen_masked,
                    status_of(r.state),
                    tuple(outcomes_of(r.state)),
                    tuple(sorted(visible_fields(r.state).items())),
                )
                for r in session.scalars(select(ActivationRecord))
            )
            run.differences = verify(session)
        engine.dispose()
        return run
    finally:
        app.extensions["wardsync.engine"].dispose()


def test_collect_and_the_phone_app_count_alike(database, tmp_path, monkeypatch):
    all_json = _play(database, tmp_path, monkeypatch, collect_for_b=False)
    mixed = _play(database, tmp_path, monkeypatch, collect_for_b=True)
    assert all_json.differences == [] and mixed.differences == []
    assert mixed.progress == all_json.progress
    assert mixed.reviews == all_json.reviews
    assert mixed.records == all_json.records
    # Phone A's answers are the same whoever phone B was.
    assert mixed.answers == all_json.answers
    # And the day is what was meant: the forms above, counted by hand.
    totals = {k: v["value"] for k, v in all_json.progress["W1"]["totals"].items()}
    assert totals["citizens_reached"] == 6
    assert totals["accounts_activated"] == 3  # 101, 106, and 102 (activated and refused)
    # H1 rice (one of the double), H3 sugar (a delivery of two), H2 oil (edited twice)
    assert totals["gifts_delivered"] == 1 + 2 + 1
    assert totals["gift_value_vnd"] == 300000 + 100000 + 80000
    assert totals["suspected_doubles"] == 1
    assert totals["help_events"] == 3  # road, cleanup, the edited sanitation
    kinds = sorted(r[0] for r in all_json.reviews)
    assert "status_conflict" in kinds and "suspected_double" in kinds
