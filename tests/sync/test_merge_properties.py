"""The merge rules are joins: any order and any repetition of the same inputs agree."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sync.rules.activations import (
    ActivationInput,
    activation_contributions,
    has_status_conflict,
    merge_activation,
    new_activation_state,
    status_of,
)
from sync.rules.events import Event, gift_contributions, gift_standing, help_contributions

STATUSES = ["visited", "no_smartphone", "installed", "activated", "refused", "ineligible"]

activation_inputs = st.lists(
    st.builds(
        ActivationInput,
        sid=st.uuids().map(str),
        hlc=st.tuples(st.integers(0, 5), st.integers(0, 2), st.sampled_from("ab")).map(
            lambda t: f"{t[0]:015d}:{t[1]:09d}:{t[2]}"
        ),
        device=st.sampled_from(["a", "b"]),
        day=st.sampled_from(["2023-07-29", "2023-07-30"]),
        org=st.sampled_from([1, 2]),
        status=st.sampled_from(STATUSES),
        fields=st.fixed_dictionaries(
            {},
            optional={
                "note": st.sampled_from(["x", "y"]),
                "phone_owner": st.sampled_from(["self", "family"]),
            },
        ),
        base_version=st.integers(0, 3),
    ),
    min_size=1,
    max_size=8,
    unique_by=lambda s: s.sid,
)


def fold(inputs):
    state = new_activation_state()
    for version, sub in enumerate(inputs, start=1):
        state, _ = merge_activation(state, sub, version)
    return state


def projection(state):
    fields = {k: (v["v"], v["hlc"], v["sid"]) for k, v in state["fields"].items()}
    return state["rung"], state["first"], state["neg"], state["origin"], fields


@given(activation_inputs, st.randoms(use_true_random=False))
def test_activation_merge_ignores_order_and_repetition(inputs, rnd):
    shuffled = list(inputs) + rnd.sample(inputs, k=rnd.randint(0, len(inputs)))
    rnd.shuffle(shuffled)
    a, b = fold(inputs), fold(shuffled)
    assert projection(a) == projection(b)
    assert activation_contributions(a) == activation_contributions(b)
    assert has_status_conflict(a) == has_status_conflict(b)


@given(activation_inputs)
def test_status_is_the_highest_rung_reported(inputs):
    ladder = [s.status for s in inputs if s.status not in ("refused", "ineligible")]
    order = ["visited", "no_smartphone", "installed", "activated"]
    expected = max(ladder, key=order.index) if ladder else None
    assert status_of(fold(inputs)) == expected


@given(activation_inputs)
def test_each_field_holds_the_latest_write_by_clock_then_id(inputs):
    state = fold(inputs)
    for name in ("note", "phone_owner"):
        writes = [s for s in inputs if name in s.fields]
        if writes:
            latest = max(writes, key=lambda s: (s.hlc, s.sid))
            assert state["fields"][name]["v"] == latest.fields[name]
        else:
            assert name not in state["fields"]


gifts = st.lists(
    st.builds(
        Event,
        sid=st.uuids().map(str),
        form=st.just("gift"),
        hlc=st.integers(0, 4).map(lambda w: f"{w:015d}:000000000:a"),
        day=st.sampled_from(["2023-07-29", "2023-07-30"]),
        org=st.just(1),
        household=st.just("h"),
        business_key=st.just("h|pack|r"),
        count=st.integers(1, 3),
        value_vnd=st.integers(0, 10**6),
        voided=st.booleans(),
        decision=st.sampled_from([None, None, "confirmed", "rejected"]),
    ),
    max_size=6,
    unique_by=lambda e: e.sid,
)


@given(gifts, st.randoms(use_true_random=False))
def test_gift_group_standing_ignores_order(events, rnd):
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert gift_standing(events) == gift_standing(shuffled)
    assert gift_contributions(events) == gift_contributions(shuffled)


@given(gifts)
def test_exactly_one_live_gift_counts_without_decisions(events):
    for e in events:
        e.decision = None
    standing = gift_standing(events)
    live = [e for e in events if not e.voided]
    assert list(standing.values()).count("counted") == (1 if live else 0)
    if live:
        first = min(live, key=lambda e: (e.hlc, e.sid))
        assert standing[first.sid] == "counted"
    assert all(standing[e.sid] == "void" for e in events if e.voided)


@given(gifts.map(lambda evs: [Event(**{**e.__dict__, "form": "household_help"}) for e in evs]))
def test_a_household_counts_once_however_many_live_events(events):
    contributions = help_contributions(events)
    households = sum(
        v for (_, metric, _), v in contributions.items() if metric == "households_helped"
    )
    assert households == (1 if any(not e.voided for e in events) else 0)
