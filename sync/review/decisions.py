"""What a lead does with the review queue: list it, resolve items, correct records.

Every action changes the counters by its deltas in its own transaction, like a push, and is
written to the audit log; ``verify`` stays clean after each.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.accounts.scope import Scope
from sync.admin import audit
from sync.clock import server_clock
from sync.errors import Invalid, NotFound
from sync.feed import journal
from sync.models import (
    ActivationRecord,
    Campaign,
    Correction,
    Household,
    OrgUnit,
    ReviewItem,
    Submission,
    User,
)
from sync.progress import counters, tallies
from sync.progress.metrics import COUNTED_REVIEWS
from sync.rules.activations import activation_contributions, correct, has_status_conflict
from sync.rules.adapters import activation_input_from_row, correction_mark, event_from_row
from sync.rules.contributions import difference
from sync.rules.events import gift_contributions
from sync.store import locks


def _in_scope(session: Session, scope: Scope, unit_id: int) -> bool:
    return scope.covers_path(session.scalar(select(OrgUnit.path).where(OrgUnit.id == unit_id)))


def _close(item: ReviewItem, resolution: dict, delta: Counter) -> None:
    item.status = "resolved"
    item.resolution = resolution
    item.resolved_at = datetime.now(UTC)
    if item.kind in COUNTED_REVIEWS:
        delta[(item.org_unit_id, "open_conflicts", item.day.isoformat())] -= 1


def _publish_household(session: Session, household_id: str) -> None:
    """A household's gifts changed standing: phones pull it again, at a new version."""
    household = session.get(Household, household_id)
    if household is None:
        return
    household.version += 1
    path = session.scalar(select(OrgUnit.path).where(OrgUnit.id == household.org_unit_id))
    journal.publish(session, [journal.Change("household", household_id, path)])


def _publish_record(session: Session, record: ActivationRecord) -> None:
    path = session.scalar(select(OrgUnit.path).where(OrgUnit.id == record.org_unit_id))
    journal.publish(session, [journal.Change("activation", str(record.id), path)])


def resolve(
    session: Session,
    actor: User,
    item_id: int,
    *,
    values: dict[str, Any] | None = None,
    confirm: bool | None = None,
    reason: str | None = None,
) -> ReviewItem:
    item = session.get(ReviewItem, item_id)
    scope = Scope.of_user(actor)
    if item is None or not _in_scope(session, scope, item.org_unit_id):
        raise NotFound("No such review item.")
    _lock_subject(session, item)
    session.refresh(item)
    if item.status != "open":
        raise Invalid.field("status", "This item is already resolved.")
    if item.kind == "suspected_double":
        if confirm is None:
            raise Invalid.field("confirm", "A suspected double is confirmed or rejected.")
        _judge_double(session, actor, item, confirm)
        return item
    if not values:
        raise Invalid.field("values", "Give the values that settle this conflict.")
    correct_record(session, actor, item.record_id, values, reason or "review", item)
    return item


def _lock_subject(session: Session, item: ReviewItem) -> None:
    """The same lock a push merging into the item's record or gift group takes."""
    if item.record_id is not None:
        record = session.get(ActivationRecord, item.record_id)
        locks.lock(session, [locks.record(record.campaign_id, record.citizen_hash)])
    elif item.kind == "suspected_double":
        gift = session.get(Submission, item.subject.removeprefix("gift:"))
        locks.lock(session, [locks.gift_group(gift.campaign_id, gift.business_key)])


def _judge_double(session: Session, actor: User, item: ReviewItem, confirm: bool) -> None:
    gift_id = item.subject.removeprefix("gift:")
    gift = session.get(Submission, gift_id)
    group_rows = session.scalars(
        select(Submission).where(
            Submission.campaign_id == gift.campaign_id,
            Submission.business_key == gift.business_key,
            Submission.form == "gift",
        )
    ).all()
    before = gift_contributions([event_from_row(r) for r in group_rows])
    gift.double_decision = "confirmed" if confirm else "rejected"
    after = gift_contributions([event_from_row(r) for r in group_rows])
    delta = difference(after, before)
    _close(item, {"confirm": confirm, "by": actor.username}, delta)
    if not confirm:  # before the counters, in the push path's order: keys, tallies, shards
        tallies.count_rejected(session, gift)
    counters.apply(session, item.campaign_id, delta)
    _publish_household(session, gift.household_id)
    audit.record(
        session, actor, "review.double", "submission", gift_id, confirm=confirm, item=item.id
    )


def correct_record(
    session: Session,
    actor: User,
    record_id: int,
    values: dict[str, Any],
    reason: str,
    item: ReviewItem | None = None,
) -> ActivationRecord:
    """A lead's correction: may move a status down; fields take the lead's values."""
    record = session.get(ActivationRecord, record_id)
    if record is None or not _in_scope(session, Scope.of_user(actor), record.org_unit_id):
        raise NotFound("No such record.")
    locks.lock(session, [locks.record(record.campaign_id, record.citizen_hash)])
    session.refresh(record)
    campaign = session.get(Campaign, record.campaign_id)
    now = datetime.now(UTC)
    fields = {k: v for k, v in values.items() if k != "status"}
    correction = Correction(
        record_id=record.id,
        hlc=str(server_clock.now(node="lead")),
        day=now.astimezone(ZoneInfo(campaign.timezone)).date(),
        status=values.get("status"),
        fields=fields,
        reason=reason,
        actor_user_id=actor.id,
        review_item_id=item.id if item else None,
        at=now,
    )
    session.add(correction)
    session.flush()
    mark = correction_mark(correction, record.org_unit_id)
    later = [
        activation_input_from_row(row)
        for row in session.scalars(
            select(Submission).where(Submission.record_id == record.id, Submission.hlc > mark.hlc)
        )
    ]
    before = activation_contributions(record.state)
    record.state = correct(record.state, correction.status, fields, mark, later)
    record.version += 1
    delta = difference(activation_contributions(record.state), before)

    open_items = session.scalars(
        select(ReviewItem).where(ReviewItem.record_id == record.id, ReviewItem.status == "open")
    ).all()
    for open_item in open_items:
        settled = (
            open_item is item
            or (open_item.kind == "status_conflict" and not has_status_conflict(record.state))
            or (
                open_item.kind == "field_conflict" and open_item.subject.rsplit(":", 1)[1] in fields
            )
        )
        if settled:
            _close(open_item, {"correction": correction.id, "by": actor.username}, delta)
    counters.apply(session, record.campaign_id, delta)
    _publish_record(session, record)
    audit.record(
        session,
        actor,
        "record.correct",
        "activation_record",
        record.id,
        values=values,
        reason=reason,
        item=item.id if item else None,
    )
    return record
