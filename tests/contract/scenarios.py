"""Hypothesis strategies for a campaign's worth of submissions, lead decisions and corrections.

Several wards in two cities, citizens and households that belong to a ward, gifts of several
kinds and rounds, voids of gifts and of help events that come before or after their targets
(or never find one), resends, clocks on either side of Vietnam's midnight and clocks far ahead
of the server's. What arrives when is drawn too: the same pool of forms in any order, cut into
pushes by the phones that cover their wards, with the lead's actions in between.

A scenario is abstract (no real times): far-ahead clocks are made when the test runs, from
the server's clock then.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import strategies as st

VN = timezone(timedelta(hours=7))
WARDS = ("W1", "W2", "W3")
# Devices and the wards each may push to: two phones in W1 so the same records are written
# from two devices, and one phone for the whole of C1.
DEVICES = {"a": ("W1",), "b": ("W1",), "c": ("W2",), "d": ("W3",), "e": ("W1", "W2")}
CITIZENS = tuple(f"079100000{i:03d}" for i in range(1, 10))  # distinct last three digits
HOUSEHOLDS = tuple(str(uuid.UUID(int=i)) for i in range(1, 8))
GIFT_KINDS = ("rice", "blanket")
ROUNDS = ("2023-tet", "2023-trung-thu")
STATUSES = ("visited", "no_smartphone", "installed", "activated", "refused", "ineligible")
# Local times of day, two of them either side of midnight, so days are cut in the campaign's
# time zone; few of them, so clocks tie and the counter and the id break the tie.
TIMES = ((6, 0), (9, 30), (16, 45), (23, 59), (0, 1))
CORRECTED = {"phone_owner": "family", "note": "đã kiểm tra", "household_address": "5 Hùng Vương"}
METRIC_NAMES = ("citizens_reached", "accounts_activated", "help_events", "gift_value_vnd")


def ward_of_citizen(citizen: str) -> str:
    return WARDS[int(citizen[-3:]) % len(WARDS)]


def ward_of_household(household: str) -> str:
    return WARDS[uuid.UUID(household).int % len(WARDS)]


@dataclass
class Form:
    """A submission before its time is made: ``ahead_hours`` set means a clock far ahead."""

    id: str
    form: str
    ward: str
    data: dict
    day: int = 0
    time: tuple[int, int] = (9, 30)
    counter: int = 0
    with_hlc: bool = True
    utc_offset: bool = False  # recorded_at written in UTC rather than +07:00
    ahead_hours: int | None = None
    base_version: int | None = None

    def body(self, server_now: datetime) -> dict:
        if self.ahead_hours is not None:
            at = server_now + timedelta(hours=self.ahead_hours)
        else:
            hour, minute = self.time
            at = datetime(2023, 7, 29, hour, minute, tzinfo=VN) + timedelta(days=self.day)
        wall = int(at.timestamp() * 1000)
        shown = at.astimezone(UTC) if self.utc_offset else at
        item = {
            "id": self.id,
            "form": self.form,
            "form_version": 1,
            "campaign": "camp",
            "org_unit": self.ward,
            "recorded_at": shown.isoformat(),
            "data": self.data,
        }
        if self.with_hlc:
            item["hlc"] = f"{wall}:{self.counter}:ignored"
        if self.base_version is not None:
            item["base_version"] = self.base_version
        return item


@dataclass
class Push:
    device: str
    forms: list[Form]


@dataclass
class Resend:
    push: int  # index among the pushes made so far (modulo)


@dataclass
class Decide:
    pick: int  # which open suspected double (modulo)
    confirm: bool


@dataclass
class Correct:
    pick: int  # which known citizen (modulo)
    values: dict


@dataclass
class Resolve:
    pick: int  # which open field or status conflict (modulo)
    choice: int  # which value settles it


@dataclass
class Scenario:
    targets: dict[tuple[str, str], int]
    steps: list = field(default_factory=list)


def form_id(draw, index: int) -> str:
    """Distinct for each form of a scenario, in an order drawn at random (ids break ties)."""
    return str(uuid.UUID(int=(draw(st.integers(0, 255)) << 64) + index))


unknown_ids = st.integers(0, 2**32).map(lambda n: str(uuid.UUID(int=(1 << 100) + n)))


@st.composite
def activation(draw, fid: str) -> Form:
    citizen = draw(st.sampled_from(CITIZENS))
    ward = ward_of_citizen(citizen)
    data = {"citizen_id": citizen, "status": draw(st.sampled_from(STATUSES))}
    optional = {
        "household_id": st.sampled_from([h for h in HOUSEHOLDS if ward_of_household(h) == ward]),
        "household_address": st.sampled_from(["12 Lê Lợi", "3 hẻm 45 Trần Phú"]),
        "phone_owner": st.sampled_from(["self", "family", "volunteer"]),
        "note": st.sampled_from(["", "gọi lại sau", "đi vắng"]),
    }
    for name, values in optional.items():
        if draw(st.booleans()):
            data[name] = draw(values)
    form = Form(fid, "activation", ward, data)
    form.base_version = draw(st.sampled_from([None, 0, 1, 2, 3, 5]))
    return form


@st.composite
def help_event(draw, fid: str) -> Form:
    household = draw(st.sampled_from(HOUSEHOLDS))
    data = {
        "household_id": household,
        "kind": draw(st.sampled_from(["road_repair", "yard_concrete", "sanitation", "cleanup"])),
    }
    if draw(st.booleans()):
        data["volunteers"] = draw(st.integers(1, 12))
    if draw(st.booleans()):
        data["hours"] = draw(st.sampled_from([0, 0.5, 1.25, 3, 7.75, 12.01]))
    if draw(st.booleans()):
        data["quantity"] = draw(st.sampled_from([1, 2.5, 40]))
        data["unit"] = draw(st.sampled_from(["m", "m2", "item"]))
    return Form(fid, "household_help", ward_of_household(household), data)


@st.composite
def gift(draw, fid: str) -> Form:
    household = draw(st.sampled_from(HOUSEHOLDS))
    data = {
        "household_id": household,
        "gift_kind": draw(st.sampled_from(GIFT_KINDS)),
        "round": draw(st.sampled_from(ROUNDS)),
    }
    if draw(st.booleans()):
        data["count"] = draw(st.integers(1, 40))
    if draw(st.booleans()):
        data["value_vnd"] = draw(
            st.one_of(st.sampled_from([0, 150_000, 450_000, 2_727_000_000]), st.integers(0, 10**12))
        )
    return Form(fid, "gift", ward_of_household(household), data)


@st.composite
def pool(draw) -> list[Form]:
    """The forms of one scenario; voids aim at its events, in whatever order they arrive."""
    forms: list[Form] = []
    for index in range(draw(st.integers(1, 24))):
        fid = form_id(draw, index)
        kind = draw(st.sampled_from(["activation"] * 4 + ["help"] * 2 + ["gift"] * 3 + ["void"]))
        if kind == "activation":
            forms.append(draw(activation(fid)))
        elif kind == "help":
            forms.append(draw(help_event(fid)))
        elif kind == "gift":
            forms.append(draw(gift(fid)))
        else:
            forms.append(Form(fid, "void", "W1", {}))  # its target is chosen below
    events = [f for f in forms if f.form in ("gift", "household_help")]
    for form in forms:
        if form.form == "void":
            target = draw(st.sampled_from(events)) if events and draw(st.integers(0, 5)) else None
            aim = target.id if target else draw(unknown_ids)
            form.data = {"target": aim, "reason": "nhập hai lần"}
            form.ward = target.ward if target else draw(st.sampled_from(WARDS))
        form.day = draw(st.integers(0, 3))
        form.time = draw(st.sampled_from(TIMES))
        form.counter = draw(st.integers(0, 2))
        form.with_hlc = draw(st.integers(0, 4)) > 0
        form.utc_offset = draw(st.booleans())
        if draw(st.integers(0, 11)) == 0:
            form.ahead_hours = draw(st.sampled_from([1, 30, 24 * 400]))
    return forms


@st.composite
def lead_action(draw):
    kind = draw(st.sampled_from(["decide", "correct", "resolve"]))
    pick = draw(st.integers(0, 50))
    if kind == "decide":
        return Decide(pick, draw(st.booleans()))
    if kind == "resolve":
        return Resolve(pick, draw(st.integers(0, 3)))
    values = {}
    if draw(st.integers(0, 3)):
        values["status"] = draw(st.sampled_from(STATUSES))
    if draw(st.booleans()) or not values:
        name = draw(st.sampled_from(["phone_owner", "note", "household_address"]))
        values[name] = CORRECTED[name]
    return Correct(pick, values)


@st.composite
def scenarios(draw) -> Scenario:
    units = ("P", "C1", "C2", *WARDS)
    targets = draw(
        st.dictionaries(
            st.tuples(st.sampled_from(units), st.sampled_from(METRIC_NAMES)),
            st.integers(1, 500),
            max_size=5,
        )
    )
    scenario = Scenario(targets)
    arrival = draw(st.permutations(draw(pool())))
    pushes = 0
    i = 0
    while i < len(arrival):
        device = draw(
            st.sampled_from([d for d, wards in DEVICES.items() if arrival[i].ward in wards])
        )
        size = draw(st.integers(1, 8))
        batch = []
        while i < len(arrival) and len(batch) < size and arrival[i].ward in DEVICES[device]:
            batch.append(arrival[i])
            i += 1
        scenario.steps.append(Push(device, batch))
        pushes += 1
        for _ in range(draw(st.integers(0, 2)) if draw(st.integers(0, 2)) == 0 else 0):
            scenario.steps.append(draw(lead_action()))
        if draw(st.integers(0, 7)) == 0:
            scenario.steps.append(Resend(draw(st.integers(0, pushes - 1))))
    for _ in range(draw(st.integers(0, 3))):
        scenario.steps.append(draw(lead_action()))
    return scenario
