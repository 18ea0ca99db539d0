"""Positions in the change feed and the cursors that carry them, for pull and exports alike.

A position is ``(xid, seq)``:
the id of the transaction that wrote the row, then a sequence number (from a PostgreSQL
sequence, so no writer waits for another to take one). A reader is only ever shown rows of
transactions that have *finished for everyone*: those below the oldest transaction still
running in this database just before it read (``horizon``). Every writer that could still
commit has an id at or above that horizon, and a transaction that starts later gets a larger
id, so a cursor past position P never later misses a change at or below P, however
transactions interleave and in whatever order they commit. No lock is needed for it: a
slow writer only holds back what readers see after it, for as long as it runs.

SQLite has one writer at a time, so there the position is the sequence alone (``xid`` 0),
handed out by ``feed_clock`` under the database's write lock.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from sqlalchemy import text, tuple_
from sqlalchemy.orm import Session

from sync.db import is_postgres


@dataclass(frozen=True, order=True)
class Position:
    xid: int = 0
    seq: int = 0


# The oldest transaction of this database still running, as a full (64-bit) id; the next id to
# be handed out when none is. Other databases' transactions never write here, so they do not
# count (a snapshot's own xmin would let them hold the feed back). pg_stat_activity shows
# 32-bit ids: each is widened against the next full id, which it can only trail by < 2^31.
#
# On a hot standby (a read replica serving exports) pg_stat_activity lists none of the
# primary's writers; the snapshot's xmin does: the oldest transaction still running on the
# primary as far as the replayed WAL tells (PostgreSQL counts an id it has not seen yet, below
# one it has, as running). Replay only moves forward, so what was settled stays settled.
_HORIZON = text(
    """
    WITH next AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS id)
    SELECT CASE WHEN pg_is_in_recovery()
        THEN pg_snapshot_xmin(pg_current_snapshot())::text::bigint
        ELSE LEAST(
            (SELECT id FROM next),
            (SELECT min((SELECT id FROM next)
                        - (((SELECT id FROM next) % 4294967296) - a.backend_xid::text::bigint
                           + 4294967296) % 4294967296)
             FROM pg_stat_activity AS a
             WHERE a.datname = current_database() AND a.backend_xid IS NOT NULL)
        )
    END
    """
)


def horizon(session: Session) -> int | None:
    """Positions below this transaction id are settled: their writers have all finished.

    Read in a statement of its own *before* the rows it guards: any transaction running then
    has an id at or above it, and one that starts after it gets a larger id still, so no row
    below it can appear later. None on SQLite, where a reader sees only finished writers.
    """
    if not is_postgres(session):
        return None
    return session.execute(_HORIZON).scalar_one()


def settled(xid_column, below: int | None):
    """Rows of transactions that have finished for everyone, as a condition on ``xid_column``."""
    return True if below is None else xid_column < below


def after(xid_column, seq_column, position: Position):
    return tuple_(xid_column, seq_column) > tuple_(position.xid, position.seq)


class BadCursor(ValueError):
    pass


MAX_CURSOR = 500  # characters; ours are far shorter


MAX_INT = 2**63 - 1  # BIGINT


def encode_cursor(position: Position, epoch: str | None = None) -> str:
    body: dict = {"x": position.xid, "s": position.seq}
    if epoch is not None:
        body["e"] = epoch
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str | None, Position]:
    """The epoch (if the cursor has one) and the position.

    Cursors of the releases before positions had transaction ids still read: a pull cursor
    ``{"e", "s"}`` and an export cursor ``{"x": seq}`` name a sequence number, which is the
    position ``(0, seq)`` (rows written then have transaction id 0).
    """
    if len(cursor) > MAX_CURSOR:
        raise BadCursor("The cursor cannot be read.")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise TypeError("not an object")
        epoch = data.get("e")
        if "s" in data:
            xid, seq = data.get("x", 0), data["s"]
        else:
            xid, seq = 0, data["x"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise BadCursor("The cursor cannot be read.") from exc
    if not (epoch is None or isinstance(epoch, str)) or not all(
        isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_INT for n in (xid, seq)
    ):
        raise BadCursor("The cursor cannot be read.")
    return epoch, Position(xid, seq)
