"""Rotating refresh tokens grouped in families, with reuse detection.

A refresh token is a random opaque string; only its SHA-256 is stored. Each use marks it used
and issues the next one in the same family. A used token presented again means two parties
hold it, so the whole family is revoked and the owner must log in (or enrol) again.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sync.models import RefreshToken, TokenFamily, utcnow
from sync.users import revoke_family


class RefreshRejected(Exception):
    pass


@dataclass(frozen=True)
class Rotation:
    user_id: int
    family_id: str
    refresh_token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token(session: Session, family_id: str, ttl: int) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            family_id=family_id,
            token_hash=_digest(token),
            expires_at=utcnow() + timedelta(seconds=ttl),
        )
    )
    return token


def start_family(session: Session, user_id: int, ttl: int) -> Rotation:
    family = TokenFamily(id=secrets.token_hex(16), user_id=user_id)
    session.add(family)
    session.flush()
    return Rotation(user_id, family.id, _new_token(session, family.id, ttl))


def rotate(session: Session, token: str, ttl: int) -> Rotation:
    """Trade a refresh token for the next one. Commits a revocation before raising on reuse."""
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
    if stored.used_at is not None:
        revoke_family(session, family.id, "refresh_token_reuse")
        session.commit()
        raise RefreshRejected("refresh token reused: the session is revoked")
    if stored.expires_at <= now:
        raise RefreshRejected("refresh token expired")
    # Marking used with a guarded UPDATE makes two concurrent uses of one token race safely:
    # exactly one of them sees a row change.
    marked = session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == stored.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if marked != 1:
        revoke_family(session, family.id, "refresh_token_reuse")
        session.commit()
        raise RefreshRejected("refresh token reused: the session is revoked")
    return Rotation(family.user_id, family.id, _new_token(session, family.id, ttl))
