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
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from sync.models import Campaign, OrgUnit, Rollup, TargetRollup
from sync.progress.metrics import METRICS, SCALE


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
