"""Recount every progress counter from the stored submissions and compare.

The counters are only ever changed by deltas; this is the independent check that those deltas
were right: it folds every submission again with the same merge rules, from nothing, and
reports each (org unit, metric, day) where the stored counter and the recount differ.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sync.models import (
    ActivationRecord,
    Campaign,
    Correction,
    OrgUnit,
    ReviewItem,
    Rollup,
    Submission,
)
from sync.models import Counter as CounterRow
from sync.progress import tallies
from sync.progress.counters import ancestors_of
from sync.progress.metrics import COUNTED_REVIEWS
from sync.rules.activations import (
    ActivationInput,
    Mark,
    activation_contributions,
    correct,
    merge_activation,
    new_activation_state,
)
from sync.rules.adapters import activation_input_from_row, correction_mark, event_from_row
from sync.rules.contributions import Contributions, add
from sync.rules.events import gift_contributions, help_contributions


@dataclass(frozen=True)
class Difference:
    campaign: str
    org_unit_id: int
    metric: str
    day: str
    stored: int
    recounted: int


def refold_records(session: Session, campaign: Campaign) -> dict[int, dict]:
    """Every activation record's state, folded again from its submissions and corrections."""
    inputs: dict[int, list[ActivationInput]] = defaultdict(list)
    for row in session.scalars(
        select(Submission)
        .where(Submission.campaign_id == campaign.id, Submission.form == "activation")
        .order_by(Submission.xid, Submission.seq)  # each record's writers in lock order
    ):
        inputs[row.record_id].append(activation_input_from_row(row))
    states = {}
    for record_id, subs in inputs.items():
        state = new_activation_state()
        for sub in subs:
            state, _ = merge_activation(state, sub, 0)
        states[record_id] = state
    corrections = session.scalars(
        select(Correction)
        .join(ActivationRecord, ActivationRecord.id == Correction.record_id)
        .where(ActivationRecord.campaign_id == campaign.id)
        .order_by(Correction.hlc, Correction.id)
    )
    for correction in corrections:
        state = states[correction.record_id]
        mark = correction_mark(correction, Mark.of(state["origin"]).org)
        later = [s for s in inputs[correction.record_id] if (s.hlc, s.sid) > mark.order]
        states[correction.record_id] = correct(
            state, correction.status, correction.fields, mark, later
        )
    return states


def recount(session: Session, campaign: Campaign) -> Contributions:
    total: Contributions = Counter()
    gifts, helps = defaultdict(list), defaultdict(list)
    rows = session.scalars(
        select(Submission).where(
            Submission.campaign_id == campaign.id, Submission.form.in_(["gift", "household_help"])
        )
    )
    for row in rows:
        if row.form == "gift":
            gifts[row.business_key].append(event_from_row(row))
        else:
            helps[row.household_id].append(event_from_row(row))
    for state in refold_records(session, campaign).values():
        add(total, activation_contributions(state))
    for events in gifts.values():
        add(total, gift_contributions(events))
    for events in helps.values():
        add(total, help_contributions(events))
    for item in session.scalars(
        select(ReviewItem).where(
            ReviewItem.campaign_id == campaign.id,
            ReviewItem.status == "open",
            ReviewItem.kind.in_(COUNTED_REVIEWS),
        )
    ):
        total[(item.org_unit_id, "open_conflicts", item.day.isoformat())] += 1
    return total


def stored(session: Session, campaign: Campaign, model=CounterRow) -> Contributions:
    """What the counters (or rollups) hold, each key summed over its shards; zero sums left
    out, as a recount has no zeros."""
    rows = session.execute(
        select(model.org_unit_id, model.metric, model.day, func.sum(model.value))
        .where(model.campaign_id == campaign.id)
        .group_by(model.org_unit_id, model.metric, model.day)
    )
    return Counter({(org, metric, day.isoformat()): int(v) for org, metric, day, v in rows if v})


def subtree_sums(session: Session, counts: Contributions) -> Contributions:
    """Each count added to its unit and every ancestor: what the rollups must hold."""
    paths = dict(session.execute(select(OrgUnit.id, OrgUnit.path)).all())
    sums: Contributions = Counter()
    for (org, metric, day), value in counts.items():
        for unit in ancestors_of(paths, org):
            sums[(unit, metric, day)] += value
    return sums


def record_states_agree(session: Session, campaign: Campaign) -> list[int]:
    """Ids of activation records whose stored state differs from a refold."""
    states = refold_records(session, campaign)
    return [
        record.id
        for record in session.scalars(
            select(ActivationRecord).where(ActivationRecord.campaign_id == campaign.id)
        )
        if _projection(record.state) != _projection(states.get(record.id, new_activation_state()))
    ]


def _projection(state: dict) -> tuple:
    fields = {k: (v["v"], v["hlc"], v["sid"]) for k, v in state["fields"].items()}
    return (state["rung"], state["first"], state["neg"], state["origin"], fields, state.get("corr"))


def verify(session: Session, campaign_code: str | None = None) -> list[Difference]:
    query = select(Campaign).order_by(Campaign.code)
    if campaign_code is not None:
        query = query.where(Campaign.code == campaign_code)
    differences = []
    for campaign in session.scalars(query):
        expected = recount(session, campaign)
        checks = (
            ("", expected, stored(session, campaign)),
            (" (subtree)", subtree_sums(session, expected), stored(session, campaign, Rollup)),
        )
        for label, wanted, actual in checks:
            for key in sorted(set(wanted) | set(actual)):
                if wanted.get(key, 0) != actual.get(key, 0):
                    org, metric, day = key
                    differences.append(
                        Difference(
                            campaign.code,
                            org,
                            metric + label,
                            day,
                            actual.get(key, 0),
                            wanted.get(key, 0),
                        )
                    )
        wanted_tallies = tallies.recount(session, campaign.id)
        actual_tallies = tallies.stored_tallies(session, campaign.id)
        for key in sorted(set(wanted_tallies) | set(actual_tallies)):
            want, have = wanted_tallies.get(key, (0, 0)), actual_tallies.get(key, (0, 0))
            org, device, form = key
            for label, w, h in (("stored", want[0], have[0]), ("rejected", want[1], have[1])):
                if w != h:
                    differences.append(
                        Difference(campaign.code, org, f"tally:{device}:{form}:{label}", "", h, w)
                    )
        for record_id in record_states_agree(session, campaign):
            differences.append(Difference(campaign.code, 0, f"record:{record_id}", "", 0, 0))
    return differences
