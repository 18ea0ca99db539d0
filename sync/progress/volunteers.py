"""Who did what in a unit: each volunteer's forms by kind, last sync and rejected forms.

Read from the phones' tallies (``sync.progress.tallies``: kept by the push in the transaction
that stores each form) and the devices at every request, nothing kept between requests, so
every worker and host shows the same table as soon as a push commits.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sync.accounts import devices
from sync.accounts.scope import Scope
from sync.models import Campaign, Device, DeviceTally, OrgUnit, User

FORMS = ("activation", "household_help", "gift", "void")


def per_volunteer(session: Session, campaign: Campaign, unit: OrgUnit, scope: Scope) -> list[dict]:
    """One row per volunteer with forms in the unit's subtree, or a phone enrolled there:

    ``forms`` (stored forms by kind, and ``total``), ``rejected`` (gifts a lead rejected as
    double entries: they never count), ``phones``, ``last_sync`` (the latest form any of the
    volunteer's phones sent, anywhere) and ``quiet_phones``.
    """
    # The subtree's ids first, as values: with them the planner knows how many rows it will
    # group (a LIKE on the path it cannot estimate) and hashes them instead of sorting.
    subtree = session.scalars(
        select(OrgUnit.id).where(OrgUnit.path.startswith(unit.path, autoescape=True))
    ).all()
    counted = session.execute(
        select(
            DeviceTally.device_id,
            DeviceTally.form,
            func.sum(DeviceTally.stored),
            func.sum(DeviceTally.rejected),
        )
        .where(DeviceTally.campaign_id == campaign.id, DeviceTally.org_unit_id.in_(subtree))
        .group_by(DeviceTally.device_id, DeviceTally.form)
        .having(func.sum(DeviceTally.stored) > 0)
    ).all()
    device_ids = {device_id for device_id, *_ in counted}
    device_ids |= {d.id for d in devices.in_unit(session, scope, unit)}
    owner = (
        dict(
            session.execute(
                select(Device.id, Device.user_id).where(Device.id.in_(sorted(device_ids)))
            ).all()
        )
        if device_ids
        else {}
    )
    names = (
        dict(
            session.execute(
                select(User.id, User.username).where(User.id.in_(set(owner.values())))
            ).all()
        )
        if owner
        else {}
    )
    last = devices.last_pushes(session, sorted(device_ids))

    rows: dict[int, dict] = {}

    def row_of(user_id: int) -> dict:
        if user_id not in rows:
            rows[user_id] = {
                "volunteer": names.get(user_id, "?"),
                "forms": dict.fromkeys((*FORMS, "total"), 0),
                "rejected": 0,
                "phones": [],
                "last_sync": None,
            }
        return rows[user_id]

    for device_id in sorted(device_ids):
        row = row_of(owner[device_id])
        row["phones"].append(device_id)
        pushed = last.get(device_id)
        if pushed is not None and (row["last_sync"] is None or pushed > row["last_sync"]):
            row["last_sync"] = pushed
    for device_id, form, count, rejected_count in counted:
        row = row_of(owner[device_id])
        row["forms"][form] = row["forms"].get(form, 0) + int(count)
        row["forms"]["total"] += int(count)
        row["rejected"] += int(rejected_count or 0)
    return sorted(rows.values(), key=lambda r: (-r["forms"]["total"], r["volunteer"]))


def by_kind(rows: list[dict]) -> defaultdict[str, int]:
    """The table's column sums."""
    sums: defaultdict[str, int] = defaultdict(int)
    for row in rows:
        for form, count in row["forms"].items():
            sums[form] += count
        sums["rejected"] += row["rejected"]
    return sums
