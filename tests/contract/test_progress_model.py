"""The server against the independent model (tests/model.py), through the API, on both
databases: whatever arrives in whatever order, with the lead's decisions and corrections in
between, GET /api/v1/progress (totals with targets, children and the daily series) says what
the contract says, and so do the records a phone pulls and the open review items.

Field conflicts depend on arrival order by contract: the model is told the order used.
``--hypothesis-profile=deep`` runs ten times the examples.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from kit.enrol import enroll_phone
from model import METRICS, Model, epoch_ms
from scenarios import HOUSEHOLDS, Correct, Decide, Push, Resend, Resolve, scenarios
from sqlalchemy import delete, text

from sync.accounts import users
from sync.models import (
    ActivationRecord,
    AuditEntry,
    Correction,
    Counter,
    DeviceTally,
    FeedEntry,
    Household,
    ReviewItem,
    Rollup,
    Submission,
    Target,
    TargetRollup,
)

EXAMPLES = max(200, settings().max_examples)  # the "deep" profile (tests/conftest.py): more
PARENTS = {"P": None, "C1": "P", "C2": "P", "W1": "C1", "W2": "C1", "W3": "C2"}
VOLUNTEERS = {"a": "vol-w1", "b": "vol-w1", "c": "vol-w2", "d": "vol-w3", "e": "vol-c1"}
PHONE_UNITS = {"a": ("W1",), "b": ("W1",), "c": ("W2",), "d": ("W3",), "e": ("C1",)}
SETTLING = {
    "status": ["activated", "refused", "installed", "ineligible"],
    "note": ["", "đã gặp", "nhà đóng cửa", "x"],
    "phone_owner": ["self", "family", "volunteer", "self"],
    "household_address": ["12 Lê Lợi", "1 Trần Hưng Đạo", "3 hẻm 45 Trần Phú", "9 Ngõ Huế"],
    "household_id": list(HOUSEHOLDS[:4]),
}


@pytest.fixture
def phones(client, world, session):
    """The scenario's five phones, and a reader whose scope is the whole province."""
    for name, units in (("vol-w2", ["W2"]), ("vol-w3", ["W3"]), ("vol-c1", ["C1"])):
        users.create(session, name, "volunteer", units)
    users.create(session, "vol-p", "volunteer", ["P"])
    session.commit()
    session.close()
    out = {
        key: enroll_phone(client, world, volunteer, PHONE_UNITS[key], "admin")
        for key, volunteer in VOLUNTEERS.items()
    }
    out["reader"] = enroll_phone(client, world, "vol-p", ("P",), "admin")
    return out


def _forget(engine) -> None:
    """Empty what submissions, decisions and corrections made; keep the world and phones."""
    with engine.begin() as conn:
        for model in (Correction, AuditEntry, Submission, ReviewItem, ActivationRecord):
            conn.execute(delete(model))
        for model in (Household, Counter, Rollup, DeviceTally, Target, TargetRollup):
            conn.execute(delete(model))
        conn.execute(delete(FeedEntry).where(FeedEntry.entity.in_(["activation", "household"])))
        conn.execute(delete(FeedEntry).where(FeedEntry.entity == "target"))


class Run:
    """Plays a scenario against the server and the model side by side."""

    def __init__(self, client, world, phones, engine, model: Model):
        self.client, self.world, self.phones, self.engine = client, world, phones, engine
        self.model = model
        self.pushes: list[tuple[str, list[dict]]] = []
        self.record_ids: dict[str, int] = {}  # citizen -> record id

    @property
    def admin(self) -> dict:
        return self.world.headers("admin")

    def push(self, device: str, bodies: list[dict]) -> None:
        phone = self.phones[device]
        response = phone.push(bodies)
        assert response.status_code == 200, response.get_json()
        answer = response.get_json()
        server_ms = epoch_ms(datetime.fromisoformat(answer["server_time"]))
        expected = self.model.push(phone.device_id, bodies, server_ms)
        for body, result, wanted in zip(bodies, answer["results"], expected, strict=True):
            assert result["id"] == body["id"]
            assert result["status"] != "rejected", result
            assert (result["status"] == "duplicate") == wanted.duplicate, (result, body)
            if not wanted.duplicate:
                assert set(result.get("flags", [])) == wanted.flags, (result, body)
            if body["form"] == "activation":
                self.record_ids[body["data"]["citizen_id"]] = result["record_id"]
        self.pushes.append((device, bodies))

    def queue(self) -> list[dict]:
        response = self.client.get(
            "/api/v1/conflicts", query_string={"campaign": "camp"}, headers=self.admin
        )
        assert response.status_code == 200, response.get_json()
        return sorted(response.get_json()["items"], key=lambda i: i["id"])

    def citizen_of(self, record_id: int) -> str:
        return next(c for c, r in self.record_ids.items() if r == record_id)

    def gift_of(self, item: dict) -> str:
        """The gift a suspected-double item is about: the one it names that is suspected."""
        suspected = [s for s in item["submissions"] if s in self.model.suspected()]
        assert suspected, item
        return suspected[0] if len(suspected) == 1 else item["submissions"][0]

    def last_correction(self) -> tuple[str, tuple]:
        with self.engine.connect() as conn:
            number, clock = conn.execute(
                text("SELECT id, hlc FROM corrections ORDER BY id DESC LIMIT 1")
            ).one()
        wall, counter, node = clock.split(":", 2)
        return f"correction:{number}", (int(wall), int(counter), node)

    def step(self, step) -> None:
        if isinstance(step, Push):
            now = datetime.now(UTC)
            self.push(step.device, [form.body(now) for form in step.forms])
        elif isinstance(step, Resend) and self.pushes:
            self.push(*self.pushes[step.push % len(self.pushes)])
        elif isinstance(step, Decide):
            doubles = [i for i in self.queue() if i["kind"] == "suspected_double"]
            if doubles:
                item = doubles[step.pick % len(doubles)]
                gift = self.gift_of(item)
                self._resolve(item, {"confirm": step.confirm})
                self.model.decide(gift, step.confirm)
        elif isinstance(step, Correct) and self.model.citizens():
            citizens = self.model.citizens()
            citizen = citizens[step.pick % len(citizens)]
            response = self.client.post(
                f"/api/v1/records/{self.record_ids[citizen]}/correct",
                json={"values": step.values, "reason": "gọi điện xác nhận"},
                headers=self.admin,
            )
            assert response.status_code == 200, response.get_json()
            self.model.correct(citizen, step.values, *self.last_correction())
        elif isinstance(step, Resolve):
            conflicts = [i for i in self.queue() if i["kind"] != "suspected_double"]
            if conflicts:
                item = conflicts[step.pick % len(conflicts)]
                citizen = self.citizen_of(item["record_id"])
                if item["kind"] == "status_conflict":
                    name, settles = "status", ("status", citizen)
                else:
                    [name] = item["fields"]
                    settles = ("field", citizen, name)
                values = {name: SETTLING[name][step.choice]}
                self._resolve(item, {"values": values})
                self.model.correct(citizen, values, *self.last_correction(), settles=settles)

    def _resolve(self, item: dict, body: dict) -> None:
        response = self.client.post(
            f"/api/v1/conflicts/{item['id']}/resolve", json=body, headers=self.admin
        )
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["status"] == "resolved"

    # -- what the server says, against the model --------------------------------------

    def check_progress(self, unit: str) -> None:
        response = self.client.get(
            "/api/v1/progress",
            query_string={"campaign": "camp", "org_unit": unit, "daily": "1"},
            headers=self.admin,
        )
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        _same_totals(body["totals"], self.model.totals(unit), unit)
        children = [c["org_unit"]["code"] for c in body["children"]]
        assert children == self.model.children(unit)
        for child in body["children"]:
            code = child["org_unit"]["code"]
            _same_totals(child["totals"], self.model.totals(code), code)
        daily = {
            (row["date"], metric): row[metric]
            for row in body["daily"]
            for metric in METRICS
            if metric != "open_conflicts" and row[metric]
        }
        assert daily == _floats(self.model.daily(unit)), unit
        for metric in METRICS:  # the daily series sums to the total, open_conflicts too
            total = sum(row[metric] for row in body["daily"])
            assert total == pytest.approx(body["totals"][metric]["value"]), (unit, metric)

    def check_all(self) -> None:
        # The province and both cities show every ward in their children; W1 has a sibling,
        # so its own daily series is the one not implied by a parent's.
        for unit in ("P", "C1", "C2", "W1"):
            self.check_progress(unit)
        self.check_records()
        self.check_queue()

    def check_records(self) -> None:
        pulled, cursor = {}, None
        while True:
            page = self.phones["reader"].pull(cursor, 1000).get_json()
            for change in page["changes"]:
                if change["entity"] == "activation" and change["op"] == "put":
                    pulled[change["data"]["citizen_id"][-3:]] = change["data"]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
        expected = {c[-3:]: self.model.record(c) for c in self.model.citizens()}
        got = {
            key: {k: v for k, v in data.items() if k in ("status", "outcomes", *_FIELDS)}
            for key, data in pulled.items()
        }
        assert got == expected
        for key, data in pulled.items():
            assert data["org_unit"] == self.model.ward_of(f"079100000{key}")

    def check_queue(self) -> None:
        items = self.queue()
        doubles = {self.gift_of(i) for i in items if i["kind"] == "suspected_double"}
        assert doubles == self.model.suspected()
        status = {self.citizen_of(i["record_id"]) for i in items if i["kind"] == "status_conflict"}
        assert status == self.model.status_conflicts
        fields = {
            (self.citizen_of(i["record_id"]), name)
            for i in items
            if i["kind"] == "field_conflict"
            for name in i["fields"]
        }
        assert fields == self.model.field_conflicts


_FIELDS = ("household_id", "household_address", "phone_owner", "note")


def _floats(values: dict) -> dict:
    return {k: float(v) if not isinstance(v, int) else v for k, v in values.items()}


def _same_totals(got: dict, expected: dict, unit: str) -> None:
    assert set(got) == set(METRICS), unit
    for metric in METRICS:
        have, want = got[metric], expected[metric]
        value = want["value"] if isinstance(want["value"], int) else float(want["value"])
        assert have["value"] == value, (unit, metric, have, want)
        assert have["target"] == want["target"], (unit, metric, have, want)
        if want["percent"] is None:
            assert have["percent"] is None, (unit, metric, have)
        else:
            assert have["percent"] == pytest.approx(want["percent"], abs=0.05 + 1e-9), (
                unit,
                metric,
            )


@pytest.mark.timeout(2400 if EXAMPLES > 200 else 1200)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(scenario=scenarios())
def test_progress_records_and_queue_follow_the_contract(client, world, phones, engine, scenario):
    _forget(engine)
    if scenario.targets:
        response = client.put(
            "/api/v1/campaigns/camp/targets",
            json=[
                {"org_unit": unit, "metric": metric, "value": value}
                for (unit, metric), value in scenario.targets.items()
            ],
            headers=world.headers("admin"),
        )
        assert response.status_code == 200, response.get_json()
    run = Run(client, world, phones, engine, Model(PARENTS, scenario.targets))
    for step in scenario.steps:
        run.step(step)
    run.check_all()
