"""Attempts counted against a rate limit, in the database every worker and host shares."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime


class ThrottleHit(Base):
    """One attempt in a limit's bucket (a sliding log: the window is counted, not reset)."""

    __tablename__ = "throttle_hits"
    __table_args__ = (
        Index("ix_throttle_hits_bucket_at", "bucket", "at"),
        Index("ix_throttle_hits_at", "at"),
    )

    # BigInteger on PostgreSQL; SQLite only makes a rowid alias of a plain INTEGER key.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    # "<limit>:<hash of the key>": usernames and addresses are not kept in clear.
    bucket: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
