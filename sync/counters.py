"""Progress counters, changed only by deltas inside the transaction that changes what they count."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from .merge import Contributions
from .models import Counter, OrgUnit, Rollup
from .upsert import insert_for

_table = Counter.__table__
_rollups = Rollup.__table__


def apply(session: Session, campaign_id: int, delta: Contributions) -> None:
    """Add ``delta`` to the counters in one statement.

    Rows are written in key order, so two transactions touching the same counters lock them
    in the same order and cannot deadlock each other.
    """
    rows = [
        {
            "campaign_id": campaign_id,
            "org_unit_id": org,
            "metric": metric,
            "day": date.fromisoformat(day),
            "value": amount,
        }
        for (org, metric, day), amount in sorted(delta.items())
        if amount
    ]
    if not rows:
        return
    _add(session, _table, rows)
    _add(session, _rollups, _to_ancestors(session, rows))


def _add(session: Session, table, rows: list[dict]) -> None:
    if not rows:
        return
    stmt = insert_for(session, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["campaign_id", "org_unit_id", "metric", "day"],
        set_={"value": table.c.value + stmt.excluded.value},
    )
    session.execute(stmt, rows)


def ancestors_of(paths: dict[int, str], unit_id: int) -> list[int]:
    """The unit and every unit above it, read off its materialized path."""
    return [int(part) for part in paths[unit_id].strip("/").split("/")]


def _to_ancestors(session: Session, rows: list[dict]) -> list[dict]:
    unit_ids = {r["org_unit_id"] for r in rows}
    paths = dict(
        session.execute(select(OrgUnit.id, OrgUnit.path).where(OrgUnit.id.in_(unit_ids))).all()
    )
    summed: dict[tuple, int] = {}
    for row in rows:
        for unit in ancestors_of(paths, row["org_unit_id"]):
            key = (row["campaign_id"], unit, row["metric"], row["day"])
            summed[key] = summed.get(key, 0) + row["value"]
    return [
        {"campaign_id": c, "org_unit_id": u, "metric": m, "day": d, "value": v}
        for (c, u, m, d), v in sorted(summed.items())
        if v
    ]
