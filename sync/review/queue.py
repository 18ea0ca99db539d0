"""The review queue as a lead reads it: open or resolved items of their scope."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sync.accounts.scope import Scope
from sync.models import (
    ActivationRecord,
    Campaign,
    Device,
    OrgUnit,
    ReviewItem,
    Submission,
    User,
)
from sync.rules.activations import outcomes_of, status_of
from sync.rules.adapters import event_from_row
from sync.rules.events import gift_standing


def list_items(
    session: Session, campaign: Campaign, scope: Scope, unit: OrgUnit | None, status: str
) -> list[dict]:
    query = (
        select(ReviewItem, OrgUnit.code)
        .join(OrgUnit, OrgUnit.id == ReviewItem.org_unit_id)
        .where(ReviewItem.campaign_id == campaign.id, ReviewItem.status == status, scope.filter())
        .order_by(ReviewItem.id)
    )
    if unit is not None:
        query = query.where(OrgUnit.path.startswith(unit.path, autoescape=True))
    return [describe(item, code) for item, code in session.execute(query)]


def describe(item: ReviewItem, unit_code: str) -> dict:
    body = {
        "id": item.id,
        "kind": item.kind,
        "status": item.status,
        "org_unit": unit_code,
        "day": item.day.isoformat(),
        "submissions": item.submissions,
        "fields": item.fields,
        "opened_at": item.opened_at.isoformat(),
    }
    if item.record_id is not None:
        body["record_id"] = item.record_id
    if item.resolution is not None:
        body["resolution"] = item.resolution
        body["resolved_at"] = item.resolved_at.isoformat() if item.resolved_at else None
    return body


# --- the review page: a page of the queue, and what each item is about ------------------------

KINDS = ("suspected_double", "status_conflict", "field_conflict")


def page_of_items(
    session: Session,
    campaign: Campaign,
    scope: Scope,
    unit: OrgUnit | None,
    kind: str | None,
    offset: int,
    limit: int,
) -> tuple[list[tuple[ReviewItem, OrgUnit]], int]:
    """One page of the open queue, oldest first, and how many items the filters keep."""
    where = [ReviewItem.campaign_id == campaign.id, ReviewItem.status == "open", scope.filter()]
    if unit is not None:
        where.append(OrgUnit.path.startswith(unit.path, autoescape=True))
    if kind is not None:
        where.append(ReviewItem.kind == kind)
    joined = select(ReviewItem, OrgUnit).join(OrgUnit, OrgUnit.id == ReviewItem.org_unit_id)
    total = session.scalar(
        select(func.count())
        .select_from(ReviewItem)
        .join(OrgUnit, OrgUnit.id == ReviewItem.org_unit_id)
        .where(*where)
    )
    rows = session.execute(
        joined.where(*where).order_by(ReviewItem.id).offset(offset).limit(limit)
    ).all()
    return [(item, unit_) for item, unit_ in rows], int(total or 0)


def open_by_unit(session: Session, campaign: Campaign, scope: Scope) -> list[tuple[OrgUnit, int]]:
    """The units with open items in the scope, and how many each: the ward filter's choices."""
    rows = session.execute(
        select(OrgUnit, func.count(ReviewItem.id))
        .join(ReviewItem, ReviewItem.org_unit_id == OrgUnit.id)
        .where(ReviewItem.campaign_id == campaign.id, ReviewItem.status == "open", scope.filter())
        .group_by(OrgUnit.id)
        .order_by(OrgUnit.path)
    ).all()
    return [(unit, int(count)) for unit, count in rows]


def evidence(session: Session, items: list[ReviewItem]) -> dict[int, dict]:
    """For each item, what the phones sent and where things stand now: for a suspected
    double, every gift of its group (same household, gift kind and round) with its standing;
    for a conflict, the record and the forms reported about it. Each form with the phone and
    volunteer that sent it."""
    gift_keys = {}
    for item in items:
        if item.kind == "suspected_double":
            gift_keys[item.id] = item.subject.removeprefix("gift:")
    record_ids = {item.record_id for item in items if item.record_id is not None}
    subjects = session.scalars(select(Submission).where(Submission.id.in_(gift_keys.values())))
    business = {(s.campaign_id, s.business_key) for s in subjects if s.business_key}
    groups: dict[tuple[int, str], list[Submission]] = {}
    if business:
        for row in session.scalars(
            select(Submission).where(
                Submission.form == "gift",
                Submission.campaign_id.in_({c for c, _ in business}),
                Submission.business_key.in_({k for _, k in business}),
            )
        ):
            groups.setdefault((row.campaign_id, row.business_key), []).append(row)
    records = {
        r.id: r
        for r in session.scalars(
            select(ActivationRecord).where(ActivationRecord.id.in_(record_ids))
        )
    }
    reports: dict[int, list[Submission]] = {}
    if record_ids:
        for row in session.scalars(
            select(Submission).where(Submission.record_id.in_(record_ids)).order_by(Submission.hlc)
        ):
            reports.setdefault(row.record_id, []).append(row)
    sent = [s for rows in (*groups.values(), *reports.values()) for s in rows]
    senders = _senders(session, {s.device_id for s in sent})

    def form(row: Submission, **more) -> dict:
        phone, volunteer = senders.get(row.device_id, (None, None))
        return {
            "id": row.id,
            "phone": phone,
            "volunteer": volunteer,
            "recorded_at": row.recorded_at,
            "hlc": row.hlc,
            "data": row.data,
            **more,
        }

    out: dict[int, dict] = {}
    by_id = {s.id: s for rows in groups.values() for s in rows}
    for item in items:
        if item.kind == "suspected_double":
            subject = by_id.get(gift_keys[item.id])
            group = groups.get((subject.campaign_id, subject.business_key), []) if subject else []
            standing = gift_standing([event_from_row(r) for r in group])
            gifts = sorted(group, key=lambda r: (r.hlc, r.id))
            out[item.id] = {
                "subject": gift_keys[item.id],
                "gifts": [form(r, standing=standing[r.id]) for r in gifts],
            }
        else:
            record = records.get(item.record_id)
            out[item.id] = {
                "record": record,
                "status": status_of(record.state) if record else None,
                "outcomes": outcomes_of(record.state) if record else [],
                "fields": record.state["fields"] if record else {},
                "reports": [form(r) for r in reports.get(item.record_id, [])],
            }
    return out


def _senders(session: Session, device_ids: set[str]) -> dict[str, tuple[str, str]]:
    if not device_ids:
        return {}
    rows = session.execute(
        select(Device.id, Device.name, User.username)
        .join(User, User.id == Device.user_id)
        .where(Device.id.in_(sorted(device_ids)))
    )
    return {device_id: (name, username) for device_id, name, username in rows}
