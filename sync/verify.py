"""Recount every progress counter from the stored submissions and compare.

The counters are only ever changed by deltas; this is the independent check that those deltas
were right: it folds every submission again with the same merge rules, from nothing, and
reports each (org unit, metric, day) where the stored counter and the recount differ.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .counters import ancestors_of
from .ingest import COUNTED_REVIEWS, event_from_row
from .merge import (
    LWW_FIELDS,
    ActivationInput,
    Contributions,
    activation_contributions,
    add,
    gift_contributions,
    help_contributions,
    merge_activation,
    new_activation_state,
)
from .models import ActivationRecord, Campaign, OrgUnit, ReviewItem, Rollup, Submission
from .models import Counter as CounterRow


@dataclass(frozen=True)
class Difference:
    campaign: str
    org_unit_id: int
    metric: str
    day: str
    stored: int
    recounted: int


def recount(session: Session, campaign: Campaign) -> Contributions:
    total: Contributions = Counter()
    states: dict[int, dict] = defaultdict(new_activation_state)
    gifts, helps = defaultdict(list), defaultdict(list)
    rows = session.scalars(
        select(Submission).where(Submission.campaign_id == campaign.id).order_by(Submission.seq)
    )
    for row in rows:
        if row.form == "activation":
            data = row.data
            sub = ActivationInput(
                sid=row.id,
                hlc=row.hlc,
                device=row.device_id,
                day=row.day.isoformat(),
                org=row.org_unit_id,
                status=data["status"],
                fields={k: data[k] for k in LWW_FIELDS if k in data},
                base_version=row.base_version,
            )
            states[row.record_id], _ = merge_activation(states[row.record_id], sub, 0)
        elif row.form == "gift":
            gifts[row.business_key].append(event_from_row(row))
        elif row.form == "household_help":
            helps[row.household_id].append(event_from_row(row))
    for state in states.values():
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
    rows = session.execute(
        select(model.org_unit_id, model.metric, model.day, model.value).where(
            model.campaign_id == campaign.id
        )
    )
    return Counter({(org, metric, day.isoformat()): value for org, metric, day, value in rows})


def subtree_sums(session: Session, counts: Contributions) -> Contributions:
    """Each count added to its unit and every ancestor: what the rollups must hold."""
    paths = dict(session.execute(select(OrgUnit.id, OrgUnit.path)).all())
    sums: Contributions = Counter()
    for (org, metric, day), value in counts.items():
        for unit in ancestors_of(paths, org):
            sums[(unit, metric, day)] += value
    return sums


def record_states_agree(session: Session, campaign: Campaign) -> list[int]:
    """Ids of activation records whose stored ladder/outcomes/fields differ from a refold."""
    states: dict[int, dict] = defaultdict(new_activation_state)
    rows = session.scalars(
        select(Submission)
        .where(Submission.campaign_id == campaign.id, Submission.form == "activation")
        .order_by(Submission.seq)
    )
    for row in rows:
        sub = ActivationInput(
            row.id,
            row.hlc,
            row.device_id,
            row.day.isoformat(),
            row.org_unit_id,
            row.data["status"],
            {k: row.data[k] for k in LWW_FIELDS if k in row.data},
        )
        states[row.record_id], _ = merge_activation(states[row.record_id], sub, 0)
    bad = []
    for record in session.scalars(
        select(ActivationRecord).where(ActivationRecord.campaign_id == campaign.id)
    ):
        if _projection(record.state) != _projection(states.get(record.id, new_activation_state())):
            bad.append(record.id)
    return bad


def _projection(state: dict) -> tuple:
    fields = {k: (v["v"], v["hlc"], v["sid"]) for k, v in state["fields"].items()}
    return (state["rung"], state["first"], state["neg"], state["origin"], fields)


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
        for record_id in record_states_agree(session, campaign):
            differences.append(Difference(campaign.code, 0, f"record:{record_id}", "", 0, 0))
    return differences
