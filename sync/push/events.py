"""Household help, gifts and voids: recount every group a batch touches, judge suspected doubles."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import and_, or_, select, update

from sync.forms.schemas import (
    EVENT_FORMS,
)
from sync.models import OrgUnit, Submission
from sync.push.keys import group_key_of_row
from sync.push.state import Item, PushState, rejected
from sync.rules.adapters import event_from_item, event_from_row
from sync.rules.contributions import Contributions, add, difference
from sync.rules.events import Event, gift_contributions, gift_standing, help_contributions
from sync.store import bulk


def merge(state: PushState, batch: list[Item]) -> list[Item]:
    """Add the new events and voids; recount every gift group and household they touch."""
    by_id = {i.sid: i for i in batch}
    voids = [i for i in batch if i.form == "void"]
    new_events = [i for i in batch if i.form in EVENT_FORMS]
    if not voids and not new_events:
        return batch

    targets = {v.data["target"] for v in voids}
    stored_targets = (
        {
            s.id: s
            for s in state.session.scalars(
                select(Submission).where(Submission.id.in_(targets - set(by_id)))
            )
        }
        if targets
        else {}
    )
    state.lock_late({group_key_of_row(t) for t in stored_targets.values() if t.form in EVENT_FORMS})
    state.load_paths({t.org_unit_id for t in stored_targets.values()})
    for void in voids:
        target = by_id.get(void.data["target"]) or stored_targets.get(void.data["target"])
        problem = void_problem(void, target, state.paths)
        if problem:
            state.results[void.index] = rejected(void.sid, {"data.target": [problem]})
    batch = [i for i in batch if state.results[i.index] is None]
    voids = [v for v in voids if state.results[v.index] is None]

    voided_now = {v.data["target"] for v in voids}
    # Voids that came before their targets: they apply if the target lies in their unit.
    pending = set()
    if new_events:
        rows = state.session.execute(
            select(Submission.void_target, OrgUnit.path)
            .join(OrgUnit, OrgUnit.id == Submission.org_unit_id)
            .where(Submission.void_target.in_([e.sid for e in new_events]))
        ).all()
        by_sid = {e.sid: e for e in new_events}
        pending = {t for t, path in rows if by_sid[t].unit.path.startswith(path)}
    for event in new_events:
        if event.sid in voided_now or event.sid in pending:
            event.row["voided"] = True

    # Every group the batch touches, as stored before this batch.
    gift_keys, households = set(), set()
    for e in new_events:
        if e.form == "gift":
            gift_keys.add((e.campaign.id, e.row["business_key"]))
            state.gift_households.add(e.data["household_id"])
        else:
            households.add((e.campaign.id, e.data["household_id"]))
    for sid in voided_now:
        target = stored_targets.get(sid)
        if target is not None and target.form == "gift":
            gift_keys.add((target.campaign_id, target.business_key))
            state.gift_households.add(target.household_id)
        elif target is not None:
            households.add((target.campaign_id, target.household_id))
    stored = _stored_events(state, gift_keys, households)
    groups: dict[tuple, list[Event]] = defaultdict(list)
    for event in stored:
        groups[group_of(event)].append(event)
    before = {g: group_contributions(g, events) for g, events in groups.items()}
    standing_before = {g: gift_standing(events) for g, events in groups.items() if g[0] == "gift"}

    # Apply: void what the batch voids, add what it brings.
    stored_ids = set()
    for events in groups.values():
        for event in events:
            stored_ids.add(event.sid)
            if event.sid in voided_now:
                event.voided = True
    for item in new_events:
        event = event_from_item(item)
        groups[group_of(event)].append(event)
    _void_stored(state, voided_now & stored_ids)

    state.reviews.load(
        {
            f"gift:{e.sid}"
            for g, evs in groups.items()
            if g[0] == "gift"
            for e in evs
            if "suspected" in (standing_before.get(g, {}).get(e.sid), None)
        }
    )
    for group, events in groups.items():
        campaign_id = group[1]
        add(
            state.delta[campaign_id],
            difference(group_contributions(group, events), before.get(group, Contributions())),
        )
        if group[0] == "gift":
            _judge_doubles(state, events, standing_before.get(group, {}), by_id)
    return batch


def _stored_events(state: PushState, gift_keys: set, households: set) -> list[Event]:
    conditions = []
    if gift_keys:
        conditions.append(
            and_(
                Submission.form == "gift",
                bulk.pairs_in(Submission.campaign_id, Submission.business_key, gift_keys),
            )
        )
    if households:
        conditions.append(
            and_(
                Submission.form == "household_help",
                bulk.pairs_in(Submission.campaign_id, Submission.household_id, households),
            )
        )
    if not conditions:
        return []
    t = Submission.__table__
    rows = state.session.execute(  # plain rows: no ORM objects on the hot path
        select(
            t.c.id,
            t.c.form,
            t.c.hlc,
            t.c.day,
            t.c.org_unit_id,
            t.c.household_id,
            t.c.business_key,
            t.c.data,
            t.c.voided,
            t.c.double_decision,
            t.c.campaign_id,
        ).where(or_(*conditions))
    )
    return [event_from_row(row) for row in rows]


def _void_stored(state: PushState, ids: set[str]) -> None:
    if ids:
        state.session.execute(
            update(Submission)
            .where(Submission.id.in_(sorted(ids)))
            .values(voided=True)
            .execution_options(synchronize_session=False)
        )


def _judge_doubles(
    state: PushState, events: list[Event], before: dict[str, str], by_id: dict
) -> None:
    """Open a review item for each gift that became a suspected double; close the rest."""
    after = gift_standing(events)
    counted_new = [by_id[e.sid] for e in events if e.sid in by_id and after[e.sid] == "counted"]
    for event in sorted(events, key=lambda e: e.order):
        was, now = before.get(event.sid), after[event.sid]
        subject = f"gift:{event.sid}"
        if now == "suspected" and was != "suspected":
            item = by_id.get(event.sid)
            causes = [item] if item is not None else counted_new
            for cause in causes:
                state.reviews.raise_item(
                    cause,
                    subject,
                    "suspected_double",
                    None,
                    campaign_id=event.extra["campaign_id"],
                    org=event.org,
                    day=event.day,
                    sid=event.sid,
                )
            if item is not None:
                item.flags.append("suspected_double")
        elif was == "suspected" and now != "suspected":
            state.reviews.close(subject, "void" if now == "void" else "promoted")


def void_problem(void: Item, target, paths: dict[int, str]) -> str | None:
    """Why a void cannot apply to its (stored or same-batch) target, if it cannot.

    A void reaches only events within its own org unit's subtree: the same rule whichever
    arrives first, and always within the device's scope, since the void's unit is.
    """
    if target is None:
        return None  # kept; the target is void from the moment it arrives
    if isinstance(target, Item):
        form, campaign_id, unit_id = target.form, target.campaign.id, target.unit.id
    else:
        form, campaign_id, unit_id = target.form, target.campaign_id, target.org_unit_id
    if form not in EVENT_FORMS:
        return "A void can only target a household_help or gift submission."
    if campaign_id != void.campaign.id:
        return "The target belongs to another campaign."
    if not paths[unit_id].startswith(void.unit.path):
        return "The target lies outside this void's org unit."
    return None


def group_of(event: Event) -> tuple:
    campaign_id = event.extra["campaign_id"]
    if event.form == "gift":
        return ("gift", campaign_id, event.business_key)
    return ("help", campaign_id, event.household)


def group_contributions(group: tuple, events: list[Event]) -> Contributions:
    return gift_contributions(events) if group[0] == "gift" else help_contributions(events)
