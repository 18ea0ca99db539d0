"""Builders of push submissions and readers of what the server stored, for the push tests.

Readers take the tests' own ``session`` (a separate connection) and close it when done: it
is a writing session (on SQLite, ``BEGIN IMMEDIATE``), so a transaction left open would hold
the write lock and make the app's next write wait. Closing also means every read sees what the
API has committed since. Objects read stay usable, detached, with their loaded attributes.
"""

from __future__ import annotations

import uuid
from collections import Counter as Tally
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sync.models import ActivationRecord, Counter, OrgUnit, ReviewItem, Submission
from sync.progress import verify

T = TypeVar("T")

CAMPAIGN = "camp"
DAY = "2023-07-29"
AT = "2023-07-29T09:15:00+07:00"  # a morning of the campaign's first day
WALL = 1_690_596_900_000  # AT in epoch milliseconds


def new_id() -> str:
    return str(uuid.uuid4())


def hlc(minute: int = 0, counter: int = 0) -> str:
    """A clock ``minute`` minutes after AT; the device part is ignored by the server."""
    return f"{WALL + minute * 60_000}:{counter}:phone"


def envelope(form: str, data: dict, **overrides) -> dict:
    item = {
        "id": new_id(),
        "form": form,
        "form_version": 1,
        "campaign": CAMPAIGN,
        "org_unit": "W1",
        "recorded_at": AT,
        "data": data,
    }
    item.update(overrides)
    return item


def activation(citizen_id: str, status: str, *, minute: int = 0, **overrides) -> dict:
    data = {"citizen_id": citizen_id, "status": status, **overrides.pop("data", {})}
    overrides.setdefault("hlc", hlc(minute))
    return envelope("activation", data, **overrides)


def household_help(household: str, *, minute: int = 0, **overrides) -> dict:
    data = {"household_id": household, "kind": "road_repair", **overrides.pop("data", {})}
    overrides.setdefault("hlc", hlc(minute))
    return envelope("household_help", data, **overrides)


def gift(household: str, *, minute: int = 0, **overrides) -> dict:
    data = {
        "household_id": household,
        "gift_kind": "pack",
        "round": "2023-tet",
        **overrides.pop("data", {}),
    }
    overrides.setdefault("hlc", hlc(minute))
    return envelope("gift", data, **overrides)


def void(target: str, *, minute: int = 0, **overrides) -> dict:
    data = {"target": target, "reason": "entered twice"}
    overrides.setdefault("hlc", hlc(minute))
    return envelope("void", data, **overrides)


def results(response) -> list[dict]:
    assert response.status_code == 200, response.get_json()
    return response.get_json()["results"]


def statuses(response) -> list[str]:
    return [r["status"] for r in results(response)]


def read(session: Session, query: Callable[[Session], T]) -> T:
    """``query(session)`` in a transaction of its own, closed before returning."""
    session.close()
    try:
        return query(session)
    finally:
        session.close()


def counters(session: Session, *, by_day: bool = True) -> dict:
    """Nonzero counters as ``{(unit code, metric, day): value}`` (day left out if not by_day)."""
    rows = read(
        session,
        lambda s: s.execute(
            select(OrgUnit.code, Counter.metric, Counter.day, Counter.value).join(
                OrgUnit, OrgUnit.id == Counter.org_unit_id
            )
        ).all(),
    )
    out: Tally = Tally()
    for code, metric, day, value in rows:
        out[(code, metric, day.isoformat()) if by_day else (code, metric)] += value
    return {k: v for k, v in out.items() if v}


def totals(session: Session) -> dict:
    """Nonzero counters summed over units and days: ``{metric: value}``."""
    out: Tally = Tally()
    for (_, metric), value in counters(session, by_day=False).items():
        out[metric] += value
    return {k: v for k, v in out.items() if v}


def count(session: Session, model) -> int:
    return read(session, lambda s: s.scalar(select(func.count()).select_from(model)))


def submission_count(session: Session) -> int:
    return count(session, Submission)


def get(session: Session, model: type[T], key) -> T | None:
    return read(session, lambda s: s.get(model, key))


def stored(session: Session, sid: str) -> Submission | None:
    return get(session, Submission, sid)


def record(session: Session, record_id: int) -> ActivationRecord | None:
    return get(session, ActivationRecord, record_id)


def review_items(session: Session) -> list[ReviewItem]:
    return read(session, lambda s: list(s.scalars(select(ReviewItem).order_by(ReviewItem.id))))


def assert_verified(session: Session) -> None:
    assert read(session, verify.verify) == []
