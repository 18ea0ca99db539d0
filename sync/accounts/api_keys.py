"""API keys for export scripts: made by an admin, shown once, stored hashed, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.accounts.scope import Scope
from sync.admin import audit, orgunits
from sync.errors import Invalid, NotFound
from sync.models import ApiKey, OrgUnit, User, utcnow

PREFIX = "wsk_"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(
    session: Session,
    name: str,
    unit_codes: list[str],
    actor: User | None = None,
    scope: str = "export",
) -> tuple[ApiKey, str]:
    if scope != "export":
        raise Invalid.field("scope", "The only scope is 'export'.")
    units = orgunits.require_many(session, unit_codes)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        scope=scope,
        key_hash=_digest(secret),
        org_unit_ids=",".join(str(u.id) for u in units),
        created_by_id=actor.id if actor else None,
    )
    session.add(key)
    session.flush()
    audit.record(
        session, actor, "api_key.create", "api_key", key.id, name=name, org_units=list(unit_codes)
    )
    return key, f"{PREFIX}{key.id}_{secret}"


def authenticate(session: Session, presented: str) -> tuple[ApiKey, Scope] | None:
    """The key and its scope, or None for anything unknown, revoked or malformed."""
    body = presented.removeprefix(PREFIX)
    key_id, _, secret = body.partition("_")
    if not key_id.isdigit() or not secret:
        return None
    key = session.get(ApiKey, int(key_id))
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.key_hash, _digest(secret)):
        return None
    ids = [int(i) for i in key.org_unit_ids.split(",") if i]
    if not ids:
        return key, Scope(everything=True)
    units = session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids))).all()
    return key, Scope.of_units(units)


def revoke(session: Session, actor: User, key_id: int) -> None:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound("No such API key.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(session, actor, "api_key.revoke", "api_key", key_id)
