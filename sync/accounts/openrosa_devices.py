"""OpenRosa devices (ODK Collect, Enketo): a device whose credential is the key in its URL.

Collect keeps one server URL per project and sends no bearer token, so the credential travels
in the path, ``<server>/openrosa/key/<key>/…`` (as ODK Central's app-user keys do). The key is
made here, handed out once, and only its SHA-256 is stored (``devices.openrosa_key_hash``).
The device is otherwise a device like any other: a volunteer's, with the org units it was given,
bound to a token family, so revoking it (``sync.accounts.devices.revoke``) ends the family and
the very next request with its key is refused.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session, aliased

from sync.accounts.devices import scoped_units
from sync.accounts.scope import Scope
from sync.accounts.users import LiveSession
from sync.admin import audit
from sync.models import Campaign, Device, DeviceOrgUnit, OrgUnit, TokenFamily, User

# What a key looks like (``secrets.token_urlsafe(32)``: 43 characters). Anything else is not
# looked up at all.
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{32,64}\Z")


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create(
    session: Session, actor: User, volunteer_name: str, org_unit_codes: list[str], name: str
) -> tuple[Device, str]:
    """A new OpenRosa device of the volunteer's, within ``org_unit_codes``, and its key (the
    only time the key exists in clear). The units must lie within the volunteer's own scope
    and the caller's, as for an enrolment code."""
    volunteer, units = scoped_units(session, actor, volunteer_name, org_unit_codes)
    key = secrets.token_urlsafe(32)
    family = TokenFamily(id=secrets.token_hex(16), user_id=volunteer.id)
    session.add(family)
    device = Device(
        id=secrets.token_hex(16),
        user_id=volunteer.id,
        family_id=family.id,
        name=name,
        org_units=units,
        openrosa_key_hash=digest(key),
    )
    session.add(device)
    session.flush()
    audit.record(
        session,
        actor,
        "device.create_openrosa",
        "device",
        device.id,
        volunteer=volunteer.username,
        org_units=[u.code for u in units],
    )
    return device, key


def _live_device_query():
    devices, family, people = Device.__table__, TokenFamily.__table__, User.__table__
    links, units = DeviceOrgUnit.__table__, OrgUnit.__table__
    return (
        select(devices.c.id, devices.c.user_id, people.c.role, units.c.path)
        .select_from(devices)
        .join(family, family.c.id == devices.c.family_id)
        .join(people, people.c.id == devices.c.user_id)
        .outerjoin(links, links.c.device_id == devices.c.id)
        .outerjoin(units, units.c.id == links.c.org_unit_id)
        .where(
            devices.c.openrosa_key_hash == bindparam("key_hash"),
            devices.c.revoked_at.is_(None),
            family.c.revoked_at.is_(None),
            people.c.is_active.is_(True),
        )
    )


_LIVE_DEVICE = _live_device_query()  # built once: every OpenRosa request runs it


def authenticate(session: Session, key: str) -> LiveSession | None:
    """The live device the key belongs to, in one query: None for a malformed or unknown
    key, a revoked device or token family, or an inactive volunteer."""
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        return None
    rows = session.execute(_LIVE_DEVICE, {"key_hash": digest(key)}).all()
    if not rows:
        return None
    paths = tuple(sorted({row.path for row in rows if row.path is not None}))
    return LiveSession(rows[0].user_id, rows[0].role, rows[0].id, paths)


def choices(session: Session, scope: Scope) -> tuple[tuple, tuple]:
    """What a device may pick in its forms: every campaign, and the wards of its scope (the
    units within it that have no units below them), each as ``(code, name)`` sorted by code."""
    campaigns = tuple(
        (row.code, row.name)
        for row in session.execute(select(Campaign.code, Campaign.name).order_by(Campaign.code))
    )
    child = aliased(OrgUnit)
    leaves = session.execute(
        select(OrgUnit.code, OrgUnit.name)
        .where(scope.filter(), ~exists().where(child.parent_id == OrgUnit.id))
        .order_by(OrgUnit.code)
    )
    return campaigns, tuple((row.code, row.name) for row in leaves)
