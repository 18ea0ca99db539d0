"""Progress counters, changed only by deltas inside the transaction that changes what they count.

A busy city's rollup row for today is touched by every push below it, and a row lock is held
to the end of its transaction: one row per key would make every writer in the city queue
behind every other. So a key is kept in shards, and each writing transaction first claims a
shard no other running transaction holds (a non-blocking advisory lock, one round trip) and
adds only into that shard's rows. A key's value is the sum of its shards; readers sum.
Only when more writers run at once than there are shards does one wait for a shard.

SQLite has one writer at a time, so everything stays in shard 0 there.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from sync.models import Counter, OrgUnit, Rollup
from sync.rules.contributions import Contributions
from sync.store.upsert import upsert

_table = Counter.__table__
_rollups = Rollup.__table__
SHARDS = 32
SHARD_LOCKS = 7302  # pg_advisory_xact_lock(SHARD_LOCKS, shard)
_CLAIM = text(
    "SELECT s FROM generate_series(0, :last) AS s "
    "WHERE pg_try_advisory_xact_lock(:locks, s) LIMIT 1"
)
_WAIT = text("SELECT pg_advisory_xact_lock(:locks, :shard)")
_CLAIMED = "wardsync.counter_shard"


def shard(session: Session) -> int:
    """The shard this transaction adds into: the lowest one free, claimed to its end.

    Low shards first, so a quiet campaign keeps one row per key. Remembered on the
    transaction, so a second call in it answers the same shard.
    """
    if session.get_bind().dialect.name != "postgresql":
        return 0
    transaction, claimed = session.info.get(_CLAIMED, (None, None))
    if transaction is not None and transaction is session.get_transaction():
        return claimed
    found = session.execute(_CLAIM, {"last": SHARDS - 1, "locks": SHARD_LOCKS}).scalar()
    if found is None:  # every shard busy: wait for one (taken after every other lock)
        found = id(session) % SHARDS
        session.execute(_WAIT, {"locks": SHARD_LOCKS, "shard": found})
    session.info[_CLAIMED] = (session.get_transaction(), found)
    return found


def apply(
    session: Session, campaign_id: int, delta: Contributions, paths: dict[int, str] | None = None
) -> None:
    """Add ``delta`` to the counters and their rollups, into this transaction's shard.

    Call it last before the commit: the rows stay locked until then (though only by this
    transaction's own shard). ``paths``: org unit paths the caller already holds (a push
    has read every ward it touches), so the rollups need no query for them.
    """
    rows = [
        {
            "campaign_id": campaign_id,
            "org_unit_id": org,
            "metric": metric,
            "day": date.fromisoformat(day),
            "value": amount,
        }
        for (org, metric, day), amount in sorted(delta.items())
        if amount
    ]
    if not rows:
        return
    own = shard(session)
    _add(session, _table, rows, own)
    _add(session, _rollups, _to_ancestors(session, rows, paths or {}), own)


def _add(session: Session, table, rows: list[dict], own: int) -> None:
    if rows:
        statement = upsert(
            session,
            table,
            ["campaign_id", "org_unit_id", "metric", "day", "shard"],
            lambda stmt: {"value": table.c.value + stmt.excluded.value},
        )
        session.execute(statement, [{**row, "shard": own} for row in rows])


def ancestors_of(paths: dict[int, str], unit_id: int) -> list[int]:
    """The unit and every unit above it, read off its materialized path."""
    return [int(part) for part in paths[unit_id].strip("/").split("/")]


def _to_ancestors(session: Session, rows: list[dict], known: dict[int, str]) -> list[dict]:
    unit_ids = {r["org_unit_id"] for r in rows}
    paths = {u: known[u] for u in unit_ids if u in known}
    if len(paths) < len(unit_ids):
        query = select(OrgUnit.id, OrgUnit.path).where(OrgUnit.id.in_(unit_ids - set(paths)))
        paths.update(session.execute(query).all())
    summed: dict[tuple, int] = {}
    for row in rows:
        for unit in ancestors_of(paths, row["org_unit_id"]):
            key = (row["campaign_id"], unit, row["metric"], row["day"])
            summed[key] = summed.get(key, 0) + row["value"]
    return [
        {"campaign_id": c, "org_unit_id": u, "metric": m, "day": d, "value": v}
        for (c, u, m, d), v in sorted(summed.items())
        if v
    ]
