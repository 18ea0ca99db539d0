"""The lock keys a batch merges into (``sync.store.locks``), taken in one global order before any
of them is read.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.forms.schemas import (
    EVENT_FORMS,
)
from sync.models import Submission
from sync.push.state import Item, PushState
from sync.store import locks


def lock(state: PushState, batch: list[Item]) -> None:
    """Lock every key the batch merges into (``sync.store.locks``), before reading any of them.

    A void's target decides which group it changes: a stored target is looked up first
    (what a stored submission belongs to never changes); a target not stored yet is
    waited for through its event key, and locked late if it turns up meanwhile.
    """
    keys: set = set()
    targets = {i.data["target"] for i in batch if i.form == "void"}
    known = {i.sid: i for i in batch}
    state.void_targets = target_groups(state.session, targets - set(known))
    for item in batch:
        keys.update(keys_of(item))
        if item.form == "void":
            keys.add(locks.event(item.data["target"]))
            target = known.get(item.data["target"])
            group = (
                group_key_of_item(target) if target else state.void_targets.get(item.data["target"])
            )
            if group:
                keys.add(group)
    state.locked = set(locks.lock(state.session, keys))


def keys_of(item: Item) -> set:
    """The lock keys an item merges into (a void's target is added by the caller)."""
    keys = set()
    if item.form == "activation":
        keys.add(locks.record(*item.record_key))
    elif item.form in EVENT_FORMS:
        keys.add(group_key_of_item(item))
        keys.add(locks.event(item.sid))
    household = item.data.get("household_id") if item.form != "void" else None
    if household:
        keys.add(locks.household(household))
    return keys


def group_key_of_item(item: Item) -> tuple | None:
    if item.form == "gift":
        return locks.gift_group(item.campaign.id, item.row["business_key"])
    if item.form == "household_help":
        return locks.help_group(item.campaign.id, item.data["household_id"])
    return None


def group_key_of_row(row) -> tuple | None:
    if row.form == "gift":
        return locks.gift_group(row.campaign_id, row.business_key)
    if row.form == "household_help":
        return locks.help_group(row.campaign_id, row.household_id)
    return None


def target_groups(session: Session, ids: set[str]) -> dict[str, tuple]:
    """The group each stored submission in ``ids`` belongs to (events only)."""
    if not ids:
        return {}
    rows = session.execute(
        select(
            Submission.id,
            Submission.form,
            Submission.campaign_id,
            Submission.business_key,
            Submission.household_id,
        ).where(Submission.id.in_(sorted(ids)))
    )
    return {row.id: group for row in rows if (group := group_key_of_row(row))}
