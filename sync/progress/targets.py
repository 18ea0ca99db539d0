"""Targets: each unit's own, or the sum of its children's, kept rolled up so a page reads them like
counters.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import (
    delete,
    insert,
    select,
)
from sqlalchemy.orm import Session

from sync.models import Campaign, OrgUnit, Target, TargetRollup
from sync.progress.metrics import METRICS


def effective_targets(session: Session, campaign: Campaign, root: OrgUnit) -> dict:
    """``(unit id, metric) -> target`` over the subtree of ``root``.

    A unit's own target wins; without one, a unit has the sum of its children's targets when
    any child has one (recursively), so targets can be set at any level.
    """
    units = session.execute(
        select(OrgUnit.id, OrgUnit.parent_id, OrgUnit.depth).where(
            OrgUnit.path.startswith(root.path, autoescape=True)
        )
    ).all()
    own = {
        (unit_id, metric): value
        for unit_id, metric, value in session.execute(
            select(Target.org_unit_id, Target.metric, Target.value)
            .join(OrgUnit, OrgUnit.id == Target.org_unit_id)
            .where(
                Target.campaign_id == campaign.id,
                OrgUnit.path.startswith(root.path, autoescape=True),
            )
        )
    }
    children_sum: dict[tuple[int, str], int] = defaultdict(int)
    effective: dict[tuple[int, str], int] = {}
    for unit_id, parent_id, _depth in sorted(units, key=lambda u: -u.depth):
        for metric in METRICS:
            key = (unit_id, metric)
            if key in own:
                effective[key] = own[key]
            elif key in children_sum:
                effective[key] = children_sum[key]
            if key in effective and parent_id is not None:
                children_sum[(parent_id, metric)] += effective[key]
    return effective


def roll_targets(session: Session, campaign: Campaign) -> None:
    """Rewrite the campaign's effective targets (after its targets changed)."""
    session.execute(delete(TargetRollup).where(TargetRollup.campaign_id == campaign.id))
    rows = [
        {"campaign_id": campaign.id, "org_unit_id": unit_id, "metric": metric, "value": value}
        for root in session.scalars(select(OrgUnit).where(OrgUnit.parent_id.is_(None)))
        for (unit_id, metric), value in effective_targets(session, campaign, root).items()
    ]
    if rows:
        session.execute(insert(TargetRollup), rows)
