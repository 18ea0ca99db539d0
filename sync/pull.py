"""Pull: a page of the change feed, with each entity's current state, for one device."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from . import feed
from .merge import outcomes_of, status_of, visible_fields
from .models import ActivationRecord, Campaign, Household, OrgUnit, Target
from .scope import Scope


def pull(session: Session, scope: Scope, cursor: str | None, limit: int) -> dict:
    page = feed.read(session, scope, cursor, limit)
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
    return {
        h.id: (h.version, {"id": h.id, "address": h.address, "org_unit": code}) for h, code in rows
    }


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
                **visible_fields(record.state),
            },
        )
    return out
