"""The change feed phones pull from, compacted like CouchDB's changes feed.

Each entity has one row, at the sequence number of its latest change. Sequence numbers come
from ``feed_clock``, whose row lock is taken last in a writing transaction and held to its
commit: so numbers become visible in the order they were handed out, and a cursor that has
seen N never later misses a change below N, however transactions interleave.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from .models import FeedClock, FeedEntry
from .scope import Scope
from .upsert import insert_for

_feed = FeedEntry.__table__


@dataclass(frozen=True)
class Change:
    entity: str
    key: str
    path: str | None
    deleted: bool = False


def allocate(session: Session, count: int) -> tuple[int, str]:
    """Take ``count`` sequence numbers; returns the first and the feed's epoch.

    Call it as late as possible before commit: it serialises writers until they commit.
    """
    row = session.execute(
        update(FeedClock)
        .where(FeedClock.id == 1)
        .values(seq=FeedClock.seq + count)
        .returning(FeedClock.seq, FeedClock.epoch)
    ).one()
    return row.seq - count + 1, row.epoch


def publish(session: Session, changes: list[Change], first_seq: int | None = None) -> None:
    """Record changes at fresh sequence numbers (allocating them unless given)."""
    if not changes:
        return
    latest = {(c.entity, c.key): c for c in changes}  # one row per entity per statement
    if first_seq is None:
        first_seq, _ = allocate(session, len(latest))
    rows = [
        {
            "entity": c.entity,
            "key": c.key,
            "seq": first_seq + i,
            "path": c.path,
            "deleted": c.deleted,
        }
        for i, c in enumerate(sorted(latest.values(), key=lambda c: (c.entity, c.key)))
    ]
    stmt = insert_for(session, _feed)
    stmt = stmt.on_conflict_do_update(
        index_elements=["entity", "key"],
        set_={
            "seq": stmt.excluded.seq,
            "path": stmt.excluded.path,
            "deleted": stmt.excluded.deleted,
        },
    )
    session.execute(stmt, rows)


class BadCursor(ValueError):
    pass


def encode_cursor(epoch: str, seq: int) -> str:
    raw = json.dumps({"e": epoch, "s": seq}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


MAX_CURSOR = 500  # characters; ours are far shorter
MAX_SEQ = 2**63 - 1  # the feed's BIGINT


def decode_cursor(cursor: str) -> tuple[str, int]:
    if len(cursor) > MAX_CURSOR:
        raise BadCursor("The cursor cannot be read.")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        epoch, seq = data["e"], data["s"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise BadCursor("The cursor cannot be read.") from exc
    if (
        not isinstance(epoch, str)
        or not isinstance(seq, int)
        or isinstance(seq, bool)
        or not 0 <= seq <= MAX_SEQ
    ):
        raise BadCursor("The cursor cannot be read.")
    return epoch, seq


def current_epoch(session: Session) -> str:
    return session.scalar(select(FeedClock.epoch).where(FeedClock.id == 1))


@dataclass
class Page:
    entries: list[FeedEntry]
    next_seq: int
    epoch: str
    has_more: bool
    reset: bool


def read(session: Session, scope: Scope, cursor: str | None, limit: int) -> Page:
    """One page of changes visible to ``scope`` after ``cursor``.

    A cursor from another epoch (the feed was rebuilt) restarts from the beginning with
    ``reset`` set, so the phone drops what it pulled before.
    """
    epoch = current_epoch(session)
    after, reset = 0, False
    if cursor:
        cursor_epoch, after = decode_cursor(cursor)
        if cursor_epoch != epoch:
            after, reset = 0, True
    ancestors = scope.ancestor_paths()
    visible = or_(
        FeedEntry.path.is_(None),
        scope.filter(FeedEntry.path),
        and_(FeedEntry.entity == "org_unit", FeedEntry.path.in_(ancestors)),
    )
    entries = list(
        session.scalars(
            select(FeedEntry)
            .where(FeedEntry.seq > after, visible)
            .order_by(FeedEntry.seq)
            .limit(limit + 1)
        )
    )
    has_more = len(entries) > limit
    entries = entries[:limit]
    next_seq = entries[-1].seq if entries else after
    return Page(entries, next_seq, epoch, has_more, reset)
