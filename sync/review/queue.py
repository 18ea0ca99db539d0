"""The review queue as a lead reads it: open or resolved items of their scope."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.accounts.scope import Scope
from sync.models import (
    Campaign,
    OrgUnit,
    ReviewItem,
)


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
