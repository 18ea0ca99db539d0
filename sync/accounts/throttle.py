"""Rate limits that hold across every worker and host: counted in the database, or in Redis.

A limit is a sliding log: each attempt is recorded *before* it is judged, and then judged by
the number of attempts in the window, its own included. An attempt is committed before it is
counted, so of any number of concurrent attempts (on any worker) at most ``limit`` can see a
count within the limit: the n-th to commit counts at least n. An attempt that turns out not to
count (a successful login, or one refused by the limit itself) is forgotten again.

Keys (a normalised username, a client address) are kept only as a hash.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from sync.models import ThrottleHit

LOG_KEPT = timedelta(days=1)  # any limit's window is shorter than this


@dataclass(frozen=True)
class Rule:
    name: str
    limit: int
    window_s: int


@dataclass(frozen=True)
class Attempt:
    """A recorded attempt: ``retry_after`` is set when it was over the limit."""

    bucket: str
    token: int | str
    retry_after: int | None = None


def bucket_of(rule: Rule, key: str) -> str:
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"{rule.name}:{digest}"


class Store(Protocol):
    def attempt(self, rule: Rule, key: str) -> Attempt: ...

    def forget(self, attempt: Attempt, session: Session | None = None) -> None:
        """Drop an attempt that does not count, in ``session`` if given (the caller commits:
        on SQLite a second session would wait on the first one's write lock)."""


class DatabaseStore:
    """The default: the ``throttle_hits`` table, in short transactions of their own."""

    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    def attempt(self, rule: Rule, key: str) -> Attempt:
        bucket = bucket_of(rule, key)
        now = datetime.now(UTC)
        since = now - timedelta(seconds=rule.window_s)
        with self.sessions() as session:
            session.execute(delete(ThrottleHit).where(ThrottleHit.at < now - LOG_KEPT))
            session.execute(
                delete(ThrottleHit).where(ThrottleHit.bucket == bucket, ThrottleHit.at <= since)
            )
            hit = ThrottleHit(bucket=bucket, at=now)
            session.add(hit)
            session.flush()
            token = hit.id
            session.commit()
        with self.sessions() as session:
            count, oldest = session.execute(
                select(func.count(), func.min(ThrottleHit.at)).where(
                    ThrottleHit.bucket == bucket, ThrottleHit.at > since
                )
            ).one()
            session.rollback()
        attempt = Attempt(bucket, token)
        if count > rule.limit:
            self.forget(attempt)
            return Attempt(bucket, token, _retry_after(oldest.timestamp(), rule, now.timestamp()))
        return attempt

    def forget(self, attempt: Attempt, session: Session | None = None) -> None:
        statement = delete(ThrottleHit).where(ThrottleHit.id == attempt.token)
        if session is not None:
            session.execute(statement)
            return
        with self.sessions() as own:
            own.execute(statement)
            own.commit()


class RedisStore:
    """When ``WARDSYNC_REDIS_URL`` is set: a sorted set per bucket, changed atomically."""

    def __init__(self, url: str, prefix: str = "wardsync"):
        import redis  # only needed when configured

        self.redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.prefix = prefix

    def attempt(self, rule: Rule, key: str) -> Attempt:
        bucket = f"{self.prefix}:throttle:{bucket_of(rule, key)}"
        now = time.time()
        member = secrets.token_hex(8)
        pipe = self.redis.pipeline(transaction=True)
        pipe.zremrangebyscore(bucket, "-inf", now - rule.window_s)
        pipe.zadd(bucket, {member: now})
        pipe.zcard(bucket)
        pipe.zrange(bucket, 0, 0, withscores=True)
        pipe.expire(bucket, rule.window_s + 1)
        _, _, count, oldest, _ = pipe.execute()
        attempt = Attempt(bucket, member)
        if count > rule.limit:
            self.forget(attempt)
            return Attempt(bucket, member, _retry_after(oldest[0][1], rule, now))
        return attempt

    def forget(self, attempt: Attempt, session: Session | None = None) -> None:
        self.redis.zrem(attempt.bucket, attempt.token)


def _retry_after(oldest: float, rule: Rule, now: float) -> int:
    """Seconds until the oldest attempt in the window leaves it, so one more may be made."""
    return max(1, int(oldest + rule.window_s - now + 0.999))
