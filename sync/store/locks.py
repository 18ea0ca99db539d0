"""Writers lock what they touch, never a whole campaign.

A push (or a lead's action) locks the keys it merges into: activation records by citizen
hash, gift groups by business key, help events by household, the household registry, and each
event id a void may be waiting for. The keys are hashed to 64-bit PostgreSQL advisory locks
held to the end of the transaction and taken in one global order (ascending lock number), so
two phones in different wards never wait for each other, and two phones touching the same
record are serialised without deadlock. (A hash collision only makes two unrelated keys wait
for each other.) The counter rows a transaction changes are row-locked by their upsert, in key
order, after every advisory lock.

SQLite has one writer at a time: its write lock already serialises everything, and this is
a no-op there.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable

from sqlalchemy import BigInteger, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

Key = tuple  # ("record", campaign_id, citizen_hash), ("gift", campaign_id, business_key), ...

# Told how long each lock round trip waited, and for how many locks: the server's metrics
# listen here (sync/ knows nothing of Prometheus). Instrumentation only: nothing depends on it.
observers: list[Callable[[float, int], None]] = []

_LOCK = text("SELECT pg_advisory_xact_lock(k) FROM unnest(:keys) AS k").bindparams(
    bindparam("keys", type_=ARRAY(BigInteger))
)


def number(key: Key) -> int:
    """A key's lock number: a signed 64-bit hash of its parts."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def record(campaign_id: int, citizen_hash: str) -> Key:
    return ("record", campaign_id, citizen_hash)


def gift_group(campaign_id: int, business_key: str) -> Key:
    return ("gift", campaign_id, business_key)


def help_group(campaign_id: int, household_id: str) -> Key:
    return ("help", campaign_id, household_id)


def household(household_id: str) -> Key:
    return ("household", household_id)


def event(submission_id: str) -> Key:
    """An event id: its own push and any void naming it take this, whichever comes first."""
    return ("event", submission_id)


def lock(session: Session, keys: Iterable[Key]) -> list[int]:
    """Take the locks for ``keys`` in ascending lock number; returns the numbers taken.

    Unrolled from ``unnest`` in array order (no sort in SQL), in one round trip.
    """
    numbers = sorted({number(k) for k in keys})
    if numbers and session.get_bind().dialect.name == "postgresql":
        started = time.perf_counter()
        session.execute(_LOCK, {"keys": numbers})
        waited = time.perf_counter() - started
        for observe in observers:
            observe(waited, len(numbers))
    return numbers
