"""Phones: one-use enrolment codes, enrolment, revocation."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from sync.accounts import users
from sync.accounts.scope import Scope
from sync.admin import audit, orgunits
from sync.errors import Forbidden, Invalid, NotFound
from sync.models import (
    Device,
    DeviceOrgUnit,
    EnrollmentCode,
    OrgUnit,
    RefreshToken,
    Submission,
    User,
    utcnow,
)

CODE_TTL = timedelta(hours=24)
# A phone that has pushed before and not for this long is shown to its lead as quiet.
QUIET_AFTER = timedelta(hours=24)


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
    volunteer, units = scoped_units(session, actor, volunteer_name, org_unit_codes)
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


def scoped_units(
    session: Session, actor: User, volunteer_name: str, org_unit_codes: list[str]
) -> tuple[User, list[OrgUnit]]:
    """The volunteer and the units a new device of theirs is given, checked: the units must
    lie within the volunteer's own scope and the caller's."""
    volunteer = users.get(session, volunteer_name)
    if volunteer is None or volunteer.role != "volunteer":
        raise Invalid.field("volunteer", "No volunteer with this username.")
    units = orgunits.require_many(session, org_unit_codes)
    wanted = Scope.of_units(units)
    if not Scope.of_user(actor).contains(wanted):
        raise Forbidden("The org units lie outside your scope.")
    if not Scope.of_user(volunteer).contains(wanted):
        raise Invalid.field("org_units", "Must lie within the volunteer's own org units.")
    return volunteer, units


def lock_code(session: Session, code: str) -> EnrollmentCode | None:
    """The code's row, whatever its state, locked until the transaction ends: two enrolments
    with one code (a phone retrying while its first try is still running) go one by one."""
    return session.scalar(
        select(EnrollmentCode).where(EnrollmentCode.code_hash == _digest(code)).with_for_update()
    )


def enroll(session: Session, enrollment: EnrollmentCode, name: str, family_id: str) -> Device:
    """Spend an unused code on a new device bound to the token family ``family_id``."""
    now = utcnow()
    if enrollment.used_at is not None or enrollment.expires_at <= now:
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


def replay(session: Session, enrollment: EnrollmentCode, name: str, grace_s: int) -> Device:
    """The device a used code made, when this is the retry of an enrolment whose answer was
    lost: the same name, within the grace window of the code's use, and before the device
    ever refreshed. Any other reuse of the code means it leaked: the device it made loses its
    tokens (the caller commits that) and the enrolment is refused."""
    device = session.get(Device, enrollment.device_id) if enrollment.device_id else None
    if device is None or enrollment.used_at is None:
        raise EnrollmentRefused()
    in_grace = utcnow() - enrollment.used_at <= timedelta(seconds=grace_s)
    refreshed = session.scalar(
        select(
            exists().where(
                RefreshToken.family_id == device.family_id, RefreshToken.used_at.is_not(None)
            )
        )
    )
    if device.revoked_at is None and in_grace and name == device.name and not refreshed:
        return device
    users.revoke_family(session, device.family_id, "enrollment_code_reuse")
    raise EnrollmentRefused()


def receipt(session: Session, device: Device) -> dict:
    """What the server holds from this phone: the volunteer's "the server has 37 of your 37".

    Counted from the stored submissions themselves (the ``(device_id, received_at)`` index),
    so it is exact on every worker and host.
    """
    accepted, last = session.execute(
        select(func.count(), func.max(Submission.received_at)).where(
            Submission.device_id == device.id
        )
    ).one()
    volunteer = session.get(User, device.user_id)
    return {
        "device_id": device.id,
        "name": device.name,
        "volunteer": volunteer.username if volunteer else None,
        "org_units": sorted(u.code for u in device.org_units),
        "accepted": accepted,
        "last_push_at": last,
    }


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


# --- read helpers for the lead's pages ---------------------------------------------------------


def last_pushes(session: Session, device_ids: list[str]) -> dict[str, datetime | None]:
    """Each device's latest stored submission, read per device from the ``(device_id,
    received_at)`` index (one probe each, however many forms a phone has sent)."""
    if not device_ids:
        return {}
    latest = (
        select(func.max(Submission.received_at))
        .where(Submission.device_id == Device.id)
        .scalar_subquery()
    )
    rows = session.execute(select(Device.id, latest).where(Device.id.in_(sorted(device_ids))))
    return {device_id: last for device_id, last in rows}


def _ids_in_unit(unit: OrgUnit):
    return (
        select(DeviceOrgUnit.device_id)
        .join(OrgUnit, OrgUnit.id == DeviceOrgUnit.org_unit_id)
        .where(OrgUnit.path.startswith(unit.path, autoescape=True))
    )


def in_unit(session: Session, scope: Scope, unit: OrgUnit) -> list[Device]:
    """The devices of ``unit``'s subtree a caller with ``scope`` may see: enrolled for some unit
    there, and wholly within the scope (as on the devices page)."""
    found = session.scalars(
        select(Device)
        .where(Device.id.in_(_ids_in_unit(unit)))
        .order_by(Device.created_at, Device.id)
    ).all()
    return [d for d in found if all(scope.covers(u) for u in d.org_units)]


def quiet(
    session: Session, scope: Scope, unit: OrgUnit, now: datetime, after: timedelta = QUIET_AFTER
) -> list[dict]:
    """Phones gone quiet: live devices of the unit that have pushed before, but not for
    ``after``; the quietest first. Only those are loaded: the database picks them out by each
    phone's latest push (one index probe a phone)."""
    latest = (
        select(func.max(Submission.received_at))
        .where(Submission.device_id == Device.id)
        .correlate(Device)
        .scalar_subquery()
    )
    silent = session.execute(
        select(Device, latest)
        .where(
            Device.id.in_(_ids_in_unit(unit)),
            Device.revoked_at.is_(None),
            latest <= now - after,
        )
        .order_by(latest, Device.id)
    ).all()
    seen = [(d, last) for d, last in silent if all(scope.covers(u) for u in d.org_units)]
    owners = _owners(session, {d.user_id for d, _ in seen})
    return [
        {"device": d, "volunteer": owners.get(d.user_id), "last_push_at": last} for d, last in seen
    ]


def _owners(session: Session, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(sorted(user_ids))))
    return {user_id: name for user_id, name in rows}
