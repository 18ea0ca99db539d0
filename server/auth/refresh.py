"""Rotating refresh tokens grouped in families, with reuse detection and a grace window.

A refresh token is a random opaque string; only its SHA-256 is stored. Each use marks it used
and issues the next one in the same family. A used token presented again means two parties
hold it, so the whole family is revoked and the owner must log in (or enrol) again.

Except for a phone on a bad link, whose answer to a refresh is often lost: within the grace
window (``WARDSYNC_REFRESH_GRACE_S``) of a token's first use, and as long as no token issued
after it has been used, presenting it again issues it a second child and revokes nothing. The
first child stays valid too, so whichever answer reached the phone works; as soon as one child
is used its siblings are superseded, and presenting a superseded token is reuse. Everything
this needs is in the database (the token's parent, when it was used), so any worker on any
host judges a retry the same way.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from sync.accounts.users import revoke_family
from sync.models import RefreshToken, TokenFamily, utcnow


class RefreshRejected(Exception):
    pass


@dataclass(frozen=True)
class Rotation:
    user_id: int
    family_id: str
    refresh_token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token(session: Session, family_id: str, ttl: int, parent_id: int | None = None) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            family_id=family_id,
            token_hash=_digest(token),
            expires_at=utcnow() + timedelta(seconds=ttl),
            parent_id=parent_id,
        )
    )
    return token


def start_family(session: Session, user_id: int, ttl: int) -> Rotation:
    family = TokenFamily(id=secrets.token_hex(16), user_id=user_id)
    session.add(family)
    session.flush()
    return Rotation(user_id, family.id, _new_token(session, family.id, ttl))


def add_first_token(session: Session, family_id: str, user_id: int, ttl: int) -> Rotation:
    """Another first token of a family: the answer to an enrolment's retried, lost answer."""
    return Rotation(user_id, family_id, _new_token(session, family_id, ttl))


def rotate(session: Session, token: str, ttl: int, grace_s: int = 0) -> Rotation:
    """Trade a refresh token for the next one. Commits a revocation before raising on reuse.

    The family row is locked first, so every rotation of one family (two tabs, a retry racing
    its own first attempt) runs one after the other, on every worker and host.
    """
    row = session.execute(
        select(RefreshToken, TokenFamily)
        .join(TokenFamily, TokenFamily.id == RefreshToken.family_id)
        .where(RefreshToken.token_hash == _digest(token))
        .with_for_update()
    ).first()
    if row is None:
        raise RefreshRejected("unknown refresh token")
    stored, family = row
    now = utcnow()
    if family.revoked_at is not None:
        raise RefreshRejected("this session was revoked")
    if stored.superseded_at is None and stored.used_at is None:
        if stored.expires_at <= now:
            raise RefreshRejected("refresh token expired")
        _mark_used(session, stored, now)
        return Rotation(family.user_id, family.id, _new_token(session, family.id, ttl, stored.id))
    if stored.superseded_at is None and _retry_in_grace(session, stored, now, grace_s):
        # The answer to the first use was lost: a second child, and the first one stays.
        return Rotation(family.user_id, family.id, _new_token(session, family.id, ttl, stored.id))
    revoke_family(session, family.id, "refresh_token_reuse")
    session.commit()
    raise RefreshRejected("refresh token reused: the session is revoked")


def _mark_used(session: Session, stored: RefreshToken, now: datetime) -> None:
    """Mark the token used and supersede its unused siblings (the other answers to one retry)."""
    stored.used_at = now
    siblings = (
        RefreshToken.parent_id.is_(None)
        if stored.parent_id is None
        else RefreshToken.parent_id == stored.parent_id
    )
    session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.family_id == stored.family_id,
            siblings,
            RefreshToken.id != stored.id,
            RefreshToken.used_at.is_(None),
            RefreshToken.superseded_at.is_(None),
        )
        .values(superseded_at=now)
        .execution_options(synchronize_session=False)
    )
    session.flush()


def _retry_in_grace(session: Session, stored: RefreshToken, now: datetime, grace_s: int) -> bool:
    """A used token presented again soon enough, before any of its children was used."""
    if stored.used_at is None or now - stored.used_at > timedelta(seconds=grace_s):
        return False
    child_used = session.scalar(
        select(
            exists().where(RefreshToken.parent_id == stored.id, RefreshToken.used_at.is_not(None))
        )
    )
    return not child_used
