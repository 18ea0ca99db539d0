"""Exports for headquarters: submissions in feed order (incremental), progress, follow-ups.

Submissions are read with a server-side cursor and written out row by row, so memory stays
flat however many there are. The cursor of an export is the position of the last row it could
contain, taken before the first row is read: only settled positions are exported (those no
commit can still join, see ``feed``), so the next export from it neither skips nor repeats a
row.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from sync.accounts.scope import Scope
from sync.feed import positions
from sync.models import Campaign, OrgUnit, Submission

COMMON = [
    "id",
    "seq",
    "campaign",
    "org_unit",
    "form",
    "recorded_at",
    "day",
    "device_id",
    "result",
    "voided",
    "double_decision",
]
DATA_COLUMNS = {
    "activation": [
        "citizen_id",
        "status",
        "household_id",
        "household_address",
        "phone_owner",
        "note",
    ],
    "household_help": [
        "household_id",
        "household_address",
        "kind",
        "quantity",
        "unit",
        "volunteers",
        "hours",
        "note",
    ],
    "gift": [
        "household_id",
        "household_address",
        "gift_kind",
        "round",
        "count",
        "value_vnd",
        "donor",
        "note",
    ],
    "void": ["target", "reason"],
}


BadCursor = positions.BadCursor


def encode_cursor(position: positions.Position) -> str:
    return positions.encode_cursor(position)


def decode_cursor(cursor: str | None) -> positions.Position:
    """The position an export continues after (the beginning without a cursor); the same
    codec as the pull's, without an epoch."""
    if not cursor:
        return positions.Position()
    return positions.decode_cursor(cursor)[1]


def columns(form: str) -> list[str]:
    return COMMON + DATA_COLUMNS[form]


def upto(session: Session, campaign: Campaign) -> positions.Position:
    """The campaign's last settled position: every submission of the campaign at or before it
    is committed and visible now, and none can join it later (``sync.feed.positions``). Per
    campaign,
    so the ``(campaign_id, xid, seq)`` index answers at once however large the table grows."""
    below = positions.horizon(session)
    row = session.execute(
        select(Submission.xid, Submission.seq)
        .where(Submission.campaign_id == campaign.id, positions.settled(Submission.xid, below))
        .order_by(Submission.xid.desc(), Submission.seq.desc())
        .limit(1)
    ).first()
    return positions.Position(row.xid, row.seq) if row else positions.Position()


def rows_query(columns, campaign, scope, unit, form, after, last):
    """The submissions an export holds, in feed order, as the given columns: after position
    ``after`` up to and including ``last``."""
    position = tuple_(Submission.xid, Submission.seq)
    query = (
        select(*columns)
        .join(OrgUnit, OrgUnit.id == Submission.org_unit_id)
        .where(
            Submission.campaign_id == campaign.id,
            position > tuple_(after.xid, after.seq),
            position <= tuple_(last.xid, last.seq),
            scope.filter(),
        )
        .order_by(Submission.xid, Submission.seq)
        .execution_options(yield_per=2000)
    )
    if unit is not None:
        query = query.where(OrgUnit.path.startswith(unit.path, autoescape=True))
    if form is not None:
        query = query.where(Submission.form == form)
    return query


def submissions(
    session: Session,
    campaign: Campaign,
    scope: Scope,
    unit: OrgUnit | None,
    form: str | None,
    after: int,
    last: int,
) -> Iterator[dict]:
    # Plain columns, not ORM objects, and the status picked out by the database: this loop
    # runs once per exported row, a million times for a big campaign.
    columns = (
        Submission.id,
        Submission.seq,
        OrgUnit.code,
        Submission.form,
        Submission.recorded_at,
        Submission.day,
        Submission.device_id,
        Submission.result["status"].as_string(),
        Submission.voided,
        Submission.double_decision,
        Submission.data,
    )
    query = rows_query(columns, campaign, scope, unit, form, after, last)
    code = campaign.code
    for sid, seq, unit_code, row_form, at, day, device, status, voided, decision, data in (
        session.connection().execute(query)  # Core rows: no ORM bookkeeping per row
    ):
        out = {
            "id": sid,
            "seq": seq,
            "campaign": code,
            "org_unit": unit_code,
            "form": row_form,
            "recorded_at": at.isoformat(),
            "day": day.isoformat(),
            "device_id": device,
            "result": status,
            "voided": voided,
            "double_decision": decision,
        }
        for key in DATA_COLUMNS[row_form]:
            out[key] = data.get(key)
        yield out
