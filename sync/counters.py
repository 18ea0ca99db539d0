"""Progress counters, changed only by deltas inside the transaction that changes what they count."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from .merge import Contributions
from .models import Counter
from .upsert import insert_for

_table = Counter.__table__


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
    stmt = insert_for(session, _table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["campaign_id", "org_unit_id", "metric", "day"],
        set_={"value": _table.c.value + stmt.excluded.value},
    )
    session.execute(stmt, rows)
