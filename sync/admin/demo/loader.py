"""Loading the month: each volunteer's phone enrolled as a ward lead enrols one, then every
push of ``month.plan`` sent through the real push path, one transaction each, at the server
time it arrived.

Nothing is written around the push path: the records, households, review items, change feed
and counters are what ``sync.push.pipeline.push`` made of the forms, as on a real server.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.accounts import devices, users
from sync.accounts.scope import Scope
from sync.admin import audit, campaigns
from sync.models import AuditEntry, Device, TokenFamily
from sync.push import pipeline
from sync.push.state import DeviceContext

from .campaign import CAMPAIGN, LOAD_ACTION, ward_lead
from .month import ZONE, Month, plan

DONE_ACTION = "demo.month_loaded"  # written once the month's last push is stored


@dataclass
class Loaded:
    """What a load sent and what the server answered."""

    forms: Counter = field(default_factory=Counter)  # by form
    answers: Counter = field(default_factory=Counter)  # by status
    flags: Counter = field(default_factory=Counter)
    pushes: int = 0
    phones: int = 0
    seconds: float = 0.0


def wanted(session: Session) -> dict | None:
    """The month the demo campaign was created to get (seed, wave, days), or None."""
    entry = session.scalar(
        select(AuditEntry)
        .where(AuditEntry.action == LOAD_ACTION, AuditEntry.target_id == CAMPAIGN[0])
        .order_by(AuditEntry.id.desc())
    )
    return entry.details.get("month") if entry is not None else None


def is_complete(session: Session) -> bool:
    return (
        session.scalar(
            select(AuditEntry.id).where(
                AuditEntry.action == DONE_ACTION, AuditEntry.target_id == CAMPAIGN[0]
            )
        )
        is not None
    )


def enrol(session: Session, month: Month) -> list[DeviceContext]:
    """Each volunteer's phone, enrolled with a one-use code from their ward's lead (or found
    again, when an interrupted load goes on). The phones never log in: they get no tokens."""
    leads = {}
    contexts = []
    for volunteer in month.volunteers:
        user = users.get(session, volunteer.username)
        device = None
        if user is None:
            user = users.create(session, volunteer.username, "volunteer", (volunteer.ward,))
        else:
            device = session.scalar(select(Device).where(Device.user_id == user.id))
        if device is None:
            lead = leads.get(volunteer.ward)
            if lead is None:
                lead = leads[volunteer.ward] = users.get(session, ward_lead(volunteer.ward))
            code, _ = devices.create_code(session, lead, volunteer.username, [volunteer.ward])
            family = TokenFamily(id=secrets.token_hex(16), user_id=user.id)
            session.add(family)
            session.flush()
            device = devices.enroll(
                session, devices.lock_code(session, code), volunteer.phone, family.id
            )
        contexts.append(DeviceContext(device.id, user.id, Scope.of_units(device.org_units)))
    return contexts


def load_month(
    session: Session,
    month: Month,
    citizen_key: str,
    report: Callable[[str], None] | None = None,
) -> Loaded:
    """Enrol the phones and send every push, committing each as the server would."""
    started = time.perf_counter()
    loaded = Loaded()
    contexts = enrol(session, month)
    session.commit()
    loaded.phones = len(contexts)
    day, day_forms, day_phones = None, 0, set()
    for push in month.pushes:
        pushed_on = datetime.fromtimestamp(push.at_ms / 1000, ZONE).date()
        if report and day is not None and pushed_on != day:
            report(f"  {day}: {day_forms:,} forms from {len(day_phones)} phones")
            day_forms, day_phones = 0, set()
        day = pushed_on
        context = contexts[push.volunteer]
        items = push.items_for(context.device_id)
        outcome = pipeline.push(session, context, items, citizen_key=citizen_key, now_ms=push.at_ms)
        session.commit()
        for item, result in zip(items, outcome.results, strict=True):
            if result["status"] == "rejected":
                raise RuntimeError(f"the demo made a form the server refuses: {item} {result}")
            loaded.forms[item["form"]] += 1
            loaded.answers[result["status"]] += 1
            loaded.flags.update(result.get("flags", ()))
        loaded.pushes += 1
        day_forms += len(items)
        day_phones.add(push.volunteer)
    if report and day is not None:
        report(f"  {day}: {day_forms:,} forms from {len(day_phones)} phones")
    campaign = campaigns.require(session, CAMPAIGN[0])
    loaded.seconds = time.perf_counter() - started
    audit.record(
        session,
        None,
        DONE_ACTION,
        "campaign",
        campaign.code,
        forms=dict(loaded.forms),
        pushes=loaded.pushes,
        seconds=round(loaded.seconds, 1),
    )
    session.commit()
    return loaded


def load_wanted(
    session: Session, citizen_key: str, report: Callable[[str], None] | None = None
) -> Loaded | None:
    """Load (or finish loading) the month the campaign was created to get; None if none."""
    params = wanted(session)
    if params is None or is_complete(session):
        return None
    return load_month(session, plan(**params), citizen_key, report)
