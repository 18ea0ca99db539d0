"""Property: the same set of submissions gives the same state and counts on the database,
in any order, any batching, with any number of resends; and `verify` always agrees.

Runs through `sync.push.pipeline.push` on SQLite and PostgreSQL. Which *field* conflicts open may
depend on arrival order (by contract), so open_conflicts is compared through the status
conflicts and suspected doubles alone.
"""

from __future__ import annotations

import uuid
from collections import Counter as Tally

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from sync.models import ActivationRecord, Counter, Household, ReviewItem, Submission
from sync.progress.verify import verify
from sync.push.pipeline import push

CITIZENS = ["079100000001", "079100000002", "079100000003"]
HOUSEHOLDS = [str(uuid.UUID(int=1)), str(uuid.UUID(int=2))]
NOW_MS = 1_690_700_000_000  # 2023-07-30, after every generated clock


def _clock(minute: int, counter: int) -> tuple[str, str]:
    wall = 1_690_600_000_000 + minute * 60_000
    hours = 7 + minute // 60
    return f"{wall}:{counter}", f"2023-07-29T{hours:02d}:{minute % 60:02d}:00+07:00"


@st.composite
def submission(draw, event_ids):
    sid = str(uuid.UUID(int=draw(st.integers(10, 10**30))))
    hlc, recorded_at = _clock(draw(st.integers(0, 120)), draw(st.integers(0, 2)))
    base = {
        "id": sid,
        "form_version": 1,
        "campaign": "camp",
        "org_unit": draw(st.sampled_from(["W1", "W2"])),
        "recorded_at": recorded_at,
        "hlc": hlc,
    }
    form = draw(st.sampled_from(["activation", "activation", "gift", "household_help", "void"]))
    household = draw(st.sampled_from(HOUSEHOLDS))
    if form == "activation":
        data = {
            "citizen_id": draw(st.sampled_from(CITIZENS)),
            "status": draw(
                st.sampled_from(
                    ["visited", "no_smartphone", "installed", "activated", "refused", "ineligible"]
                )
            ),
        }
        if draw(st.booleans()):
            data["note"] = draw(st.sampled_from(["a", "b"]))
        if draw(st.booleans()):
            data["household_id"] = household
            data["household_address"] = draw(st.sampled_from(["1 Lê Lợi", "2 Trần Phú"]))
        base["base_version"] = draw(st.integers(0, 2))
    elif form == "gift":
        data = {
            "household_id": household,
            "gift_kind": "pack",
            "round": draw(st.sampled_from(["2023-tet", "2023-trung-thu"])),
            "count": draw(st.integers(1, 3)),
            "value_vnd": draw(st.integers(0, 500_000)),
        }
    elif form == "household_help":
        data = {
            "household_id": household,
            "kind": "road_repair",
            "volunteers": draw(st.integers(1, 4)),
            "hours": draw(st.sampled_from([0, 1.5, 2.25])),
        }
    else:
        target = draw(st.sampled_from(event_ids)) if event_ids else str(uuid.uuid4())
        data = {"target": target, "reason": "entered twice"}
    if form in ("gift", "household_help"):
        event_ids.append(sid)
    return {**base, "form": form, "data": data}


@st.composite
def scenario(draw):
    event_ids: list[str] = []
    subs = draw(
        st.lists(submission(event_ids), min_size=1, max_size=14, unique_by=lambda s: s["id"])
    )
    device_of = {s["id"]: draw(st.integers(0, 1)) for s in subs}
    arrival = draw(st.permutations(subs))
    resent = draw(st.lists(st.sampled_from(subs), max_size=4))
    arrival = arrival + resent
    cuts = sorted(draw(st.lists(st.integers(1, max(1, len(arrival) - 1)), max_size=3, unique=True)))
    return subs, device_of, arrival, cuts


def _apply(session, field, citizen_key, batches, device_of):
    for batch in batches:
        by_device = {}
        for s in batch:
            by_device.setdefault(device_of[s["id"]], []).append(s)
        for device, items in sorted(by_device.items()):
            push(session, field.devices[device], items, citizen_key=citizen_key, now_ms=NOW_MS)
            session.commit()


def _snapshot(session):
    citizens = {r.id: r.citizen_hash for r in session.scalars(select(ActivationRecord))}
    counters = Tally()
    for row in session.scalars(select(Counter)):
        if row.metric != "open_conflicts" and row.value:
            counters[(row.org_unit_id, row.metric, row.day)] += row.value
    records = {
        r.citizen_hash: (
            r.state["rung"],
            r.state["first"],
            r.state["neg"],
            r.state["origin"],
            {k: (v["v"], v["hlc"]) for k, v in r.state["fields"].items()},
            r.org_unit_id,
            r.version,
        )
        for r in session.scalars(select(ActivationRecord))
    }
    reviews = set()
    for item in session.scalars(select(ReviewItem).where(ReviewItem.status == "open")):
        if item.kind == "status_conflict":
            reviews.add(("status", citizens[item.record_id]))
        elif item.kind == "suspected_double":
            reviews.add(("double", item.subject))
    # Events and whether they are void. Voids themselves are left out: one whose target is
    # already known and out of its reach is rejected, while one that came first is kept and
    # never applies; either way it changes nothing.
    events = {
        s.id: s.voided for s in session.scalars(select(Submission).where(Submission.form != "void"))
    }
    households = {h.id: (h.address, h.org_unit_id) for h in session.scalars(select(Household))}
    return counters, records, reviews, events, households


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario())
def test_any_order_batching_and_resends_converge(
    session, field_setup, forget_submissions, citizen_key, case
):
    subs, device_of, arrival, cuts = case
    forget_submissions()
    _apply(session, field_setup, citizen_key, [subs], device_of)
    expected = _snapshot(session)
    assert verify(session) == []

    forget_submissions()
    bounds = [0, *cuts, len(arrival)]
    batches = [arrival[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if arrival[a:b]]
    _apply(session, field_setup, citizen_key, batches, device_of)
    assert _snapshot(session) == expected
    assert verify(session) == []
