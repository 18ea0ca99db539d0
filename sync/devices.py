"""Phones: one-use enrolment codes, enrolment, revocation."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from . import audit, orgunits, users
from .errors import Forbidden, Invalid, NotFound
from .models import Device, EnrollmentCode, OrgUnit, User, utcnow
from .scope import Scope

CODE_TTL = timedelta(hours=24)


class EnrollmentRefused(Exception):
    """The code is unknown, used or expired (all alike to the caller)."""


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def create_code(
    session: Session,
    actor: User,
    volunteer_name: str,
    org_unit_codes: list[str],
    ttl: timedelta = CODE_TTL,
) -> tuple[str, datetime]:
    """A code a volunteer's phone enrols with; its units become the device's scope.

    The units must lie within the volunteer's own scope and the caller's.
    """
    volunteer = users.get(session, volunteer_name)
    if volunteer is None or volunteer.role != "volunteer":
        raise Invalid.field("volunteer", "No volunteer with this username.")
    units = orgunits.require_many(session, org_unit_codes)
    wanted = Scope.of_units(units)
    if not Scope.of_user(actor).contains(wanted):
        raise Forbidden("The org units lie outside your scope.")
    if not Scope.of_user(volunteer).contains(wanted):
        raise Invalid.field("org_units", "Must lie within the volunteer's own org units.")
    code = secrets.token_urlsafe(16)
    expires_at = utcnow() + ttl
    session.add(
        EnrollmentCode(
            code_hash=_digest(code),
            volunteer_id=volunteer.id,
            created_by_id=actor.id,
            org_unit_ids=",".join(str(u.id) for u in units),
            expires_at=expires_at,
        )
    )
    audit.record(
        session,
        actor,
        "enrollment_code.create",
        "user",
        volunteer_name,
        org_units=list(org_unit_codes),
    )
    return code, expires_at


def peek_code(session: Session, code: str) -> EnrollmentCode | None:
    """The code's row if it can still be used (``enroll`` checks again, atomically)."""
    enrollment = session.scalar(
        select(EnrollmentCode).where(EnrollmentCode.code_hash == _digest(code))
    )
    if enrollment is None or enrollment.used_at is not None or enrollment.expires_at <= utcnow():
        return None
    return enrollment


def enroll(session: Session, code: str, name: str, family_id: str) -> Device:
    """Spend the code on a new device bound to the token family ``family_id``."""
    enrollment = session.scalar(
        select(EnrollmentCode).where(EnrollmentCode.code_hash == _digest(code)).with_for_update()
    )
    now = utcnow()
    if enrollment is None or enrollment.used_at is not None or enrollment.expires_at <= now:
        raise EnrollmentRefused()
    claimed = session.execute(
        update(EnrollmentCode)
        .where(EnrollmentCode.id == enrollment.id, EnrollmentCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise EnrollmentRefused()
    ids = [int(i) for i in enrollment.org_unit_ids.split(",") if i]
    units = list(session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids))))
    device = Device(
        id=secrets.token_hex(16),
        user_id=enrollment.volunteer_id,
        family_id=family_id,
        name=name,
        org_units=units,
    )
    session.add(device)
    session.flush()
    enrollment.device_id = device.id
    return device


def get(session: Session, device_id: str) -> Device | None:
    return session.get(Device, device_id)


def revoke(session: Session, actor: User, device_id: str) -> Device:
    """Revoke a device: its token family ends, so its very next request is refused."""
    device = session.get(Device, device_id)
    scope = Scope.of_user(actor)
    if device is None or not all(scope.covers(u) for u in device.org_units):
        raise NotFound("No such device.")
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        users.revoke_family(session, device.family_id, "device_revoked")
        audit.record(session, actor, "device.revoke", "device", device_id)
    return device


def list_in_scope(session: Session, scope: Scope) -> list[Device]:
    devices = session.scalars(select(Device).order_by(Device.created_at)).all()
    return [d for d in devices if all(scope.covers(u) for u in d.org_units)]
