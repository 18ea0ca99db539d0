"""Pull: a page of the change feed, with each entity's current state, for one device."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from sync.accounts.scope import Scope
from sync.feed import journal
from sync.models import ActivationRecord, Campaign, Household, OrgUnit, Submission, Target
from sync.rules.activations import outcomes_of, status_of, visible_fields
from sync.rules.adapters import event_from_row
from sync.rules.events import gift_standing


def pull(session: Session, scope: Scope, cursor: str | None, limit: int) -> dict:
    page = journal.read(session, scope, cursor, limit)
    keys: dict[str, list[str]] = defaultdict(list)
    for entry in page.entries:
        if not entry.deleted:
            keys[entry.entity].append(entry.key)
    data = {
        "org_unit": _org_units(session, keys["org_unit"], scope),
        "campaign": _campaigns(session, keys["campaign"]),
        "target": _targets(session, keys["target"]),
        "household": _households(session, keys["household"]),
        "activation": _activations(session, keys["activation"]),
    }
    changes = []
    for entry in page.entries:
        found = data[entry.entity].get(entry.key)
        if entry.deleted or found is None:
            changes.append(
                {
                    "entity": entry.entity,
                    "id": entry.key,
                    "op": "delete",
                    "version": entry.seq,
                    "data": {},
                }
            )
        else:
            version, body = found
            changes.append(
                {
                    "entity": entry.entity,
                    "id": entry.key,
                    "op": "put",
                    "version": version,
                    "data": body,
                }
            )
    return {
        "changes": changes,
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
        "reset": page.reset,
    }


def _org_units(session: Session, codes: list[str], scope: Scope) -> dict:
    if not codes:
        return {}
    parent = aliased(OrgUnit)
    rows = session.execute(
        select(OrgUnit, parent.code)
        .outerjoin(parent, parent.id == OrgUnit.parent_id)
        .where(OrgUnit.code.in_(codes))
    )
    out = {}
    for unit, parent_code in rows:
        if scope.covers(unit):
            body = {
                "code": unit.code,
                "name": unit.name,
                "parent": parent_code,
                "depth": unit.depth,
            }
        else:  # an ancestor of the device's units: shown for display only
            body = {"code": unit.code, "name": unit.name}
        out[unit.code] = (1, body)
    return out


def _campaigns(session: Session, codes: list[str]) -> dict:
    if not codes:
        return {}
    out = {}
    for c in session.scalars(select(Campaign).where(Campaign.code.in_(codes))):
        out[c.code] = (
            1,
            {
                "code": c.code,
                "name": c.name,
                "starts_on": c.starts_on.isoformat(),
                "ends_on": c.ends_on.isoformat(),
                "timezone": c.timezone,
            },
        )
    return out


def _targets(session: Session, keys: list[str]) -> dict:
    if not keys:
        return {}
    wanted = set(keys)
    campaign_codes = {k.split("|")[0] for k in keys}
    rows = session.execute(
        select(Campaign.code, OrgUnit.code, Target.metric, Target.value)
        .join(Campaign, Campaign.id == Target.campaign_id)
        .join(OrgUnit, OrgUnit.id == Target.org_unit_id)
        .where(Campaign.code.in_(campaign_codes))
    )
    out = {}
    for campaign, unit, metric, value in rows:
        key = f"{campaign}|{unit}|{metric}"
        if key in wanted:
            out[key] = (
                1,
                {"campaign": campaign, "org_unit": unit, "metric": metric, "value": value},
            )
    return out


def _households(session: Session, ids: list[str]) -> dict:
    if not ids:
        return {}
    rows = session.execute(
        select(Household, OrgUnit.code)
        .join(OrgUnit, OrgUnit.id == Household.org_unit_id)
        .where(Household.id.in_(ids))
    )
    gifts = household_gifts(session, ids)
    return {
        h.id: (
            h.version,
            {"id": h.id, "address": h.address, "org_unit": code, "gifts": gifts.get(h.id, [])},
        )
        for h, code in rows
    }


def household_gifts(session: Session, household_ids: list[str]) -> dict[str, list[dict]]:
    """Each household's gift groups that are not void: enough for a phone to warn before a
    second delivery of one kind in one round, offline.

    ``count`` is what the group counts (the canonical gift, and doubles a lead confirmed);
    ``status`` is ``suspected`` while a second delivery waits for a lead's decision.
    """
    campaigns = dict(session.execute(select(Campaign.id, Campaign.code)).all())
    rows = session.execute(
        select(Submission).where(
            # campaign first: the (campaign_id, household_id) index serves this
            Submission.campaign_id.in_(sorted(campaigns)),
            Submission.household_id.in_(household_ids),
            Submission.form == "gift",
        )
    ).scalars()
    groups: dict[tuple[str, int, str], list] = defaultdict(list)
    data = {}
    for row in rows:
        groups[(row.household_id, row.campaign_id, row.business_key)].append(event_from_row(row))
        data[row.id] = row.data
    out: dict[str, list[dict]] = defaultdict(list)
    for (household, campaign_id, _), events in sorted(groups.items()):
        standing = gift_standing(events)
        counted = [e for e in events if standing[e.sid] == "counted"]
        if not counted:
            continue  # every gift of the group is void
        first = data[min(counted, key=lambda e: e.order).sid]
        out[household].append(
            {
                "campaign": campaigns[campaign_id],
                "gift_kind": first["gift_kind"],
                "round": first["round"],
                "count": sum(e.count for e in counted),
                "status": "suspected" if "suspected" in standing.values() else "counted",
            }
        )
    return out


def _activations(session: Session, ids: list[str]) -> dict:
    if not ids:
        return {}
    rows = session.execute(
        select(ActivationRecord, Campaign.code, OrgUnit.code)
        .join(Campaign, Campaign.id == ActivationRecord.campaign_id)
        .join(OrgUnit, OrgUnit.id == ActivationRecord.org_unit_id)
        .where(ActivationRecord.id.in_([int(i) for i in ids]))
    )
    out = {}
    for record, campaign, unit in rows:
        out[str(record.id)] = (
            record.version,
            {
                "record_id": record.id,
                "campaign": campaign,
                "org_unit": unit,
                "citizen_id": record.citizen_masked,
                "status": status_of(record.state),
                "outcomes": outcomes_of(record.state),
                "household_id": None,
                **visible_fields(record.state),
            },
        )
    return out
