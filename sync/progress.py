"""Progress against targets, read from the rollups: a few rows per org unit shown.

Never scans submissions, so a ward's page and the whole country's cost the same however many
forms have come in.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .metrics import METRICS, SCALE
from .models import Campaign, OrgUnit, Rollup, Target


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


def _value(metric: str, raw: int) -> int | float:
    scale = SCALE.get(metric)
    return raw / scale if scale else raw


def _totals(values: dict[str, int], targets: dict, unit_id: int) -> dict:
    out = {}
    for metric in METRICS:
        value = _value(metric, values.get(metric, 0))
        target = targets.get((unit_id, metric))
        percent = round(value * 100 / target, 1) if target else None
        out[metric] = {"value": value, "target": target, "percent": percent}
    return out


def unit_ref(unit: OrgUnit) -> dict:
    return {"code": unit.code, "name": unit.name}


def progress(session: Session, campaign: Campaign, unit: OrgUnit, daily: bool = False) -> dict:
    children = session.scalars(
        select(OrgUnit).where(OrgUnit.parent_id == unit.id).order_by(OrgUnit.code)
    ).all()
    shown = [unit.id, *(c.id for c in children)]
    sums: dict[int, dict[str, int]] = defaultdict(dict)
    for unit_id, metric, value in session.execute(
        select(Rollup.org_unit_id, Rollup.metric, func.sum(Rollup.value))
        .where(Rollup.campaign_id == campaign.id, Rollup.org_unit_id.in_(shown))
        .group_by(Rollup.org_unit_id, Rollup.metric)
    ):
        sums[unit_id][metric] = int(value)
    targets = effective_targets(session, campaign, unit)
    body = {
        "campaign": {"code": campaign.code, "name": campaign.name, "timezone": campaign.timezone},
        "org_unit": unit_ref(unit),
        "as_of": datetime.now(UTC).isoformat(),
        "totals": _totals(sums[unit.id], targets, unit.id),
        "children": [
            {"org_unit": unit_ref(c), "totals": _totals(sums[c.id], targets, c.id)}
            for c in children
        ],
    }
    if daily:
        days: dict[str, dict] = {}
        for day, metric, value in session.execute(
            select(Rollup.day, Rollup.metric, func.sum(Rollup.value))
            .where(Rollup.campaign_id == campaign.id, Rollup.org_unit_id == unit.id)
            .group_by(Rollup.day, Rollup.metric)
            .order_by(Rollup.day)
        ):
            row = days.setdefault(day.isoformat(), {"date": day.isoformat()})
            row[metric] = _value(metric, int(value))
        body["daily"] = [
            {"date": d} | {m: row.get(m, 0) for m in METRICS} for d, row in days.items()
        ]
    return body
