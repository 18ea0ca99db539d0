"""User accounts: creation with role and scope rules, and password checks."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sync.accounts.passwords import MIN_LENGTH, hash_password, needs_rehash, verify_password
from sync.accounts.scope import GLOBAL_ROLES, Scope
from sync.admin import audit, orgunits
from sync.errors import Conflict, Forbidden, Invalid
from sync.models import (
    ROLES,
    Device,
    DeviceOrgUnit,
    OrgUnit,
    TokenFamily,
    User,
    UserOrgUnit,
    utcnow,
)

USERNAME_PATTERN = re.compile(r"[A-Za-z0-9._-]{2,64}\Z")


def normalize_username(raw: str) -> str:
    """The one spelling of a username: compatibility-normalised, trimmed, lower case.

    Every lookup goes through here, and so does the login limit's key, so no spelling of a
    name (" lead-x", "LEAD-X", full-width "ｌｅａｄ－ｘ") can reach an account while being
    counted as someone else.
    """
    return unicodedata.normalize("NFKC", raw).strip().lower()


def get(session: Session, username: str) -> User | None:
    name = normalize_username(username)
    if not USERNAME_PATTERN.match(name):
        return None
    return session.scalar(select(User).where(User.username == name))


def create(
    session: Session,
    username: str,
    role: str,
    org_unit_codes: Sequence[str] = (),
    password: str | None = None,
    actor: User | None = None,
) -> User:
    """Create a user; ``actor`` None means the server's own CLI, which may do anything.

    A lead may only create volunteers, and only within their own subtrees.
    """
    errors: dict[str, list[str]] = {}
    username = normalize_username(username)
    if not USERNAME_PATTERN.match(username):
        errors["username"] = ["Must be 2-64 letters, digits, '.', '_' or '-'."]
    if role not in ROLES:
        errors["role"] = [f"Must be one of: {', '.join(ROLES)}."]
    if password is not None and len(password) < MIN_LENGTH:
        errors["password"] = [f"Must be at least {MIN_LENGTH} characters."]
    if role not in GLOBAL_ROLES and not org_unit_codes:
        errors["org_units"] = ["A lead or volunteer needs at least one org unit."]
    if errors:
        raise Invalid("Invalid user.", errors)
    units = orgunits.require_many(session, org_unit_codes)
    if actor is not None and actor.role != "admin":
        if actor.role != "lead" or role != "volunteer":
            raise Forbidden("Leads may only create volunteers.")
        if not Scope.of_user(actor).contains(Scope.of_units(units)):
            raise Forbidden("The org units lie outside your scope.")
    if get(session, username) is not None:
        raise Conflict(f"User '{username}' already exists.", {"username": ["Already exists."]})
    user = User(
        username=username,
        role=role,
        password_hash=hash_password(password) if password is not None else None,
        org_units=units,
    )
    session.add(user)
    session.flush()
    audit.record(
        session, actor, "user.create", "user", username, role=role, org_units=list(org_unit_codes)
    )
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The user if the password is right; None alike for an unknown user and a wrong password."""
    user = get(session, username)
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


@dataclass(frozen=True)
class LiveSession:
    """What a request's token stands for, if its session is still live: read in one query."""

    user_id: int
    role: str
    device_id: str | None
    paths: tuple[str, ...]  # the org units of the device (device tokens) or of the user


def live_session(
    session: Session, user_id: int, family_id: str, device_id: str | None
) -> LiveSession | None:
    """The user, the token family and (for a device's token) the device, checked together:
    None when any of them is revoked, inactive or not bound to the others."""
    family = TokenFamily.__table__
    people = User.__table__
    if device_id is None:
        links = UserOrgUnit.__table__
        query = (
            select(people.c.role, OrgUnit.__table__.c.path)
            .select_from(family)
            .join(people, people.c.id == family.c.user_id)
            .outerjoin(links, links.c.user_id == people.c.id)
            .outerjoin(OrgUnit.__table__, OrgUnit.__table__.c.id == links.c.org_unit_id)
        )
    else:
        devices = Device.__table__
        links = DeviceOrgUnit.__table__
        query = (
            select(people.c.role, OrgUnit.__table__.c.path)
            .select_from(family)
            .join(people, people.c.id == family.c.user_id)
            .join(
                devices,
                (devices.c.id == device_id)
                & (devices.c.family_id == family.c.id)
                & devices.c.revoked_at.is_(None),
            )
            .outerjoin(links, links.c.device_id == devices.c.id)
            .outerjoin(OrgUnit.__table__, OrgUnit.__table__.c.id == links.c.org_unit_id)
        )
    rows = session.execute(
        query.where(
            family.c.id == family_id,
            family.c.user_id == user_id,
            family.c.revoked_at.is_(None),
            people.c.is_active.is_(True),
        )
    ).all()
    if not rows:
        return None
    paths = tuple(sorted({path for _, path in rows if path is not None}))
    return LiveSession(user_id, rows[0].role, device_id, paths)


def revoke_family(session: Session, family_id: str, reason: str) -> None:
    """End a login or a device's session everywhere: its refresh tokens stop working, and
    its access tokens at their next check."""
    session.execute(
        update(TokenFamily)
        .where(TokenFamily.id == family_id, TokenFamily.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
