"""Each phone's tally of stored forms (``device_tallies``), kept by the transactions that store
a submission or reject a gift, so the lead's volunteer table reads a few rows per phone.

Like the progress counters these change only by deltas, and ``wardsync verify`` recounts them
from the submissions (``recount``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy import Integer, case, func, select
from sqlalchemy.orm import Session

from sync.models import DeviceTally, Submission
from sync.store.upsert import upsert

_table = DeviceTally.__table__
Key = tuple[int, str, str]  # org unit, device, form (of one campaign)


def _add(session: Session, stored: Counter, rejected: Counter) -> None:
    keys = sorted(set(stored) | set(rejected))  # one order for every writer: no deadlock
    if not keys:
        return
    statement = upsert(
        session,
        _table,
        ["campaign_id", "org_unit_id", "device_id", "form"],
        lambda stmt: {
            "stored": _table.c.stored + stmt.excluded.stored,
            "rejected": _table.c.rejected + stmt.excluded.rejected,
        },
    )
    session.execute(
        statement,
        [
            {
                "campaign_id": c,
                "org_unit_id": o,
                "device_id": d,
                "form": f,
                "stored": stored[(c, o, d, f)],
                "rejected": rejected[(c, o, d, f)],
            }
            for c, o, d, f in keys
        ],
    )


def count_stored(session: Session, rows: Iterable[dict]) -> None:
    """Add the submission rows a push has just inserted."""
    stored: Counter = Counter(
        (r["campaign_id"], r["org_unit_id"], r["device_id"], r["form"]) for r in rows
    )
    _add(session, stored, Counter())


def count_rejected(session: Session, gift: Submission) -> None:
    """A lead rejected ``gift`` as a double entry (decisions are made once)."""
    _add(
        session,
        Counter(),
        Counter({(gift.campaign_id, gift.org_unit_id, gift.device_id, gift.form): 1}),
    )


def stored_tallies(session: Session, campaign_id: int) -> dict[Key, tuple[int, int]]:
    """What the tallies of one campaign hold: (stored, rejected) by key; zeros left out."""
    return {
        (o, d, f): (int(s), int(r))
        for o, d, f, s, r in session.execute(
            select(
                DeviceTally.org_unit_id,
                DeviceTally.device_id,
                DeviceTally.form,
                DeviceTally.stored,
                DeviceTally.rejected,
            ).where(DeviceTally.campaign_id == campaign_id)
        )
        if s or r
    }


def recount(session: Session, campaign_id: int) -> dict[Key, tuple[int, int]]:
    """The tallies counted again from the stored submissions."""
    rejected = func.sum(case((Submission.double_decision == "rejected", 1), else_=0))
    return {
        (o, d, f): (int(n), int(r or 0))
        for o, d, f, n, r in session.execute(
            select(
                Submission.org_unit_id,
                Submission.device_id,
                Submission.form,
                func.count(),
                rejected.cast(Integer),
            )
            .where(Submission.campaign_id == campaign_id)
            .group_by(Submission.org_unit_id, Submission.device_id, Submission.form)
        )
    }
