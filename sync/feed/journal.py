"""The change feed phones pull from, compacted like CouchDB's changes feed: each entity has one
row, at the position (``sync.feed.positions``) of its latest change."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, or_, select, text, update
from sqlalchemy.orm import Session

from sync.accounts.scope import Scope
from sync.db import is_postgres
from sync.feed.positions import Position, after, decode_cursor, encode_cursor, horizon, settled
from sync.models import FeedClock, FeedEntry
from sync.store.upsert import upsert

_feed = FeedEntry.__table__
# PostgreSQL only (migration 0007). The id is read first in the row: nextval needs none.
_STAMP = text(
    "SELECT pg_current_xact_id()::text::bigint, nextval('feed_seq') FROM generate_series(1, :n)"
)


@dataclass(frozen=True)
class Change:
    entity: str
    key: str
    path: str | None
    deleted: bool = False


def stamp(session: Session, count: int) -> tuple[int, list[int]]:
    """This transaction's id and ``count`` fresh sequence numbers, in one round trip."""
    if count <= 0:
        return 0, []
    if is_postgres(session):
        rows = session.execute(_STAMP, {"n": count}).all()
        return rows[0][0], [seq for _, seq in rows]
    last = session.execute(
        update(FeedClock)
        .where(FeedClock.id == 1)
        .values(seq=FeedClock.seq + count)
        .returning(FeedClock.seq)
    ).scalar_one()
    return 0, list(range(last - count + 1, last + 1))


def publish(session: Session, changes: list[Change], stamped: tuple[int, list[int]] | None = None):
    """Record changes at fresh positions (stamping them here unless given)."""
    latest = {(c.entity, c.key): c for c in changes}  # one row per entity per statement
    if not latest:
        return
    xid, seqs = stamped if stamped is not None else stamp(session, len(latest))
    ordered = sorted(latest.values(), key=lambda c: (c.entity, c.key))
    rows = [
        {
            "entity": c.entity,
            "key": c.key,
            "xid": xid,
            "seq": seq,
            "path": c.path,
            "deleted": c.deleted,
        }
        for c, seq in zip(ordered, seqs, strict=False)
    ]
    statement = upsert(
        session,
        _feed,
        ["entity", "key"],
        lambda stmt: {
            "xid": stmt.excluded.xid,
            "seq": stmt.excluded.seq,
            "path": stmt.excluded.path,
            "deleted": stmt.excluded.deleted,
        },
    )
    session.execute(statement, rows)


# --- cursors ----------------------------------------------------------------------------------


def current_epoch(session: Session) -> str:
    return session.scalar(select(FeedClock.epoch).where(FeedClock.id == 1))


# --- reading ----------------------------------------------------------------------------------


@dataclass
class Page:
    entries: list[FeedEntry]
    next_position: Position
    epoch: str
    has_more: bool
    reset: bool

    @property
    def next_cursor(self) -> str:
        return encode_cursor(self.next_position, self.epoch)


def read(session: Session, scope: Scope, cursor: str | None, limit: int) -> Page:
    """One page of changes visible to ``scope`` after ``cursor``.

    A cursor from another epoch (the feed was rebuilt), or one without an epoch, restarts from
    the beginning with ``reset`` set, so the phone drops what it pulled before.
    """
    epoch = current_epoch(session)
    start, reset = Position(), False
    if cursor:
        cursor_epoch, start = decode_cursor(cursor)
        if cursor_epoch != epoch:
            start, reset = Position(), True
    below = horizon(session)  # before the rows are read
    ancestors = scope.ancestor_paths()
    visible = or_(
        FeedEntry.path.is_(None),
        scope.filter(FeedEntry.path),
        and_(FeedEntry.entity == "org_unit", FeedEntry.path.in_(ancestors)),
    )
    entries = list(
        session.scalars(
            select(FeedEntry)
            .where(
                after(FeedEntry.xid, FeedEntry.seq, start),
                settled(FeedEntry.xid, below),
                visible,
            )
            .order_by(FeedEntry.xid, FeedEntry.seq)
            .limit(limit + 1)
        )
    )
    has_more = len(entries) > limit
    entries = entries[:limit]
    last = Position(entries[-1].xid, entries[-1].seq) if entries else start
    return Page(entries, last, epoch, has_more, reset)
