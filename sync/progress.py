"""Progress against targets, read from the rollups and target rollups: a few rows per org unit
shown, in one query.

Never scans submissions, so a ward's page and the whole country's cost the same however many
forms have come in.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    String,
    cast,
    delete,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from .metrics import METRICS, SCALE
from .models import Campaign, OrgUnit, Rollup, Target, TargetRollup


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


def progress(session: Session, campaign: Campaign, unit: OrgUnit, daily: bool = False) -> dict:
    """Totals and targets of the unit and its children, and the unit's daily series, read in
    one query (a UNION of the four parts: the children, their sums, their targets, the days)."""
    shown = select(OrgUnit.id).where(or_(OrgUnit.id == unit.id, OrgUnit.parent_id == unit.id))
    none = null()
    parts = [
        select(
            literal("child").label("part"),
            OrgUnit.id.label("unit"),
            OrgUnit.code,
            OrgUnit.name,
            cast(none, String).label("metric"),
            cast(none, Date).label("day"),
            cast(none, BigInteger).label("value"),
        ).where(OrgUnit.parent_id == unit.id),
        select(
            literal("sum"),
            Rollup.org_unit_id,
            none,
            none,
            Rollup.metric,
            none,
            func.sum(Rollup.value),
        )
        .where(Rollup.campaign_id == campaign.id, Rollup.org_unit_id.in_(shown))
        .group_by(Rollup.org_unit_id, Rollup.metric),
        select(
            literal("target"),
            TargetRollup.org_unit_id,
            none,
            none,
            TargetRollup.metric,
            none,
            TargetRollup.value,
        ).where(TargetRollup.campaign_id == campaign.id, TargetRollup.org_unit_id.in_(shown)),
    ]
    if daily:
        parts.append(
            select(
                literal("day"),
                none,
                none,
                none,
                Rollup.metric,
                Rollup.day,
                func.sum(Rollup.value),
            )
            .where(Rollup.campaign_id == campaign.id, Rollup.org_unit_id == unit.id)
            .group_by(Rollup.day, Rollup.metric)
        )
    children: list[tuple[int, str, str]] = []
    sums: dict[int, dict[str, int]] = defaultdict(dict)
    targets: dict[tuple[int, str], int] = {}
    days: dict[str, dict] = {}
    for part, unit_id, code, name, metric, day, value in session.execute(union_all(*parts)):
        if part == "child":
            children.append((unit_id, code, name))
        elif part == "sum":
            sums[unit_id][metric] = int(value)
        elif part == "target":
            targets[(unit_id, metric)] = int(value)
        else:
            row = days.setdefault(day.isoformat(), {"date": day.isoformat()})
            row[metric] = _value(metric, int(value))
    body = {
        "campaign": {"code": campaign.code, "name": campaign.name, "timezone": campaign.timezone},
        "org_unit": unit_ref(unit),
        "as_of": datetime.now(UTC).isoformat(),
        "totals": _totals(sums[unit.id], targets, unit.id),
        "children": [
            {"org_unit": {"code": code, "name": name}, "totals": _totals(sums[i], targets, i)}
            for i, code, name in sorted(children, key=lambda c: c[1])
        ],
    }
    if daily:
        body["daily"] = [
            {"date": d} | {m: row.get(m, 0) for m in METRICS} for d, row in sorted(days.items())
        ]
    return body
