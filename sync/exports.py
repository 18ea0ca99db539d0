"""Exports for headquarters: submissions in feed order (incremental), progress, follow-ups.

Submissions are read with a server-side cursor and written out row by row, so memory stays
flat however many there are. The cursor of an export is the position of the last row it could
contain, taken before the first row is read: only settled positions are exported (those no
commit can still join, see ``feed``), so the next export from it neither skips nor repeats a
row.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from operator import itemgetter

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from . import feed
from .merge import status_of, visible_fields
from .metrics import METRICS, SCALE
from .models import ActivationRecord, Campaign, OrgUnit, Rollup, Submission
from .progress import effective_targets
from .scope import Scope

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


BadCursor = feed.BadCursor


def encode_cursor(position: feed.Position) -> str:
    return feed.encode_cursor(position)


def decode_cursor(cursor: str | None) -> feed.Position:
    """The position an export continues after (the beginning without a cursor); the same
    codec as the pull's, without an epoch."""
    if not cursor:
        return feed.Position()
    return feed.decode_cursor(cursor)[1]


def columns(form: str) -> list[str]:
    return COMMON + DATA_COLUMNS[form]


def upto(session: Session, campaign: Campaign) -> feed.Position:
    """The campaign's last settled position: every submission of the campaign at or before it
    is committed and visible now, and none can join it later (``sync.feed``). Per campaign,
    so the ``(campaign_id, xid, seq)`` index answers at once however large the table grows."""
    below = feed.horizon(session)
    row = session.execute(
        select(Submission.xid, Submission.seq)
        .where(Submission.campaign_id == campaign.id, feed.settled(Submission.xid, below))
        .order_by(Submission.xid.desc(), Submission.seq.desc())
        .limit(1)
    ).first()
    return feed.Position(row.xid, row.seq) if row else feed.Position()


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


def csv_lines(header: list[str], rows, batch: int = 500) -> Iterator[str]:
    """The CSV text in pieces of ``batch`` rows: one write per piece, not per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # writes None as an empty field
    writer.writerow(header)
    pick = itemgetter(*header)
    pending = []
    for row in rows:
        pending.append(pick(row))
        if len(pending) == batch:
            writer.writerows(pending)
            pending.clear()
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    writer.writerows(pending)
    yield buffer.getvalue()


def ndjson_lines(rows, batch: int = 500) -> Iterator[str]:
    pending = []
    for row in rows:
        pending.append(json.dumps(row, ensure_ascii=False))
        if len(pending) == batch:
            yield "\n".join(pending) + "\n"
            pending.clear()
    if pending:
        yield "\n".join(pending) + "\n"


def progress_rows(session: Session, campaign: Campaign, root: OrgUnit) -> list[dict]:
    """One row per unit of the subtree, the root included: every metric and its target."""
    units = session.scalars(
        select(OrgUnit)
        .where(OrgUnit.path.startswith(root.path, autoescape=True))
        .order_by(OrgUnit.path)
    ).all()
    sums: dict[tuple[int, str], int] = {}
    for unit_id, metric, value in session.execute(
        select(Rollup.org_unit_id, Rollup.metric, func.sum(Rollup.value))
        .join(OrgUnit, OrgUnit.id == Rollup.org_unit_id)
        .where(
            Rollup.campaign_id == campaign.id, OrgUnit.path.startswith(root.path, autoescape=True)
        )
        .group_by(Rollup.org_unit_id, Rollup.metric)
    ):
        sums[(unit_id, metric)] = int(value)
    targets = effective_targets(session, campaign, root)
    rows = []
    for unit in units:
        row = {"org_unit": unit.code, "name": unit.name, "depth": unit.depth}
        for metric in METRICS:
            raw = sums.get((unit.id, metric), 0)
            row[metric] = raw / SCALE[metric] if metric in SCALE else raw
            row[f"{metric}_target"] = targets.get((unit.id, metric))
        rows.append(row)
    return rows


def progress_columns() -> list[str]:
    cols = ["org_unit", "name", "depth"]
    for metric in METRICS:
        cols += [metric, f"{metric}_target"]
    return cols


FOLLOW_UP_COLUMNS = [
    "record_id",
    "citizen_id",
    "org_unit",
    "household_id",
    "household_address",
    "phone_owner",
    "note",
    "since",
]


def follow_ups(session: Session, campaign: Campaign, root: OrgUnit) -> Iterator[dict]:
    query = (
        select(ActivationRecord, OrgUnit.code)
        .join(OrgUnit, OrgUnit.id == ActivationRecord.org_unit_id)
        .where(
            ActivationRecord.campaign_id == campaign.id,
            OrgUnit.path.startswith(root.path, autoescape=True),
        )
        .order_by(OrgUnit.code, ActivationRecord.id)
        .execution_options(yield_per=1000)
    )
    for record, code in session.execute(query):
        if status_of(record.state) != "no_smartphone":
            continue
        fields = visible_fields(record.state)
        since = record.state["first"].get("no_smartphone", record.state["origin"])[2]
        yield {
            "record_id": record.id,
            "citizen_id": record.citizen_masked,
            "org_unit": code,
            "household_id": fields.get("household_id"),
            "household_address": fields.get("household_address"),
            "phone_owner": fields.get("phone_owner"),
            "note": fields.get("note"),
            "since": since,
        }
