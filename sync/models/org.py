"""Org units (a tree of any depth), campaigns and their targets."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


class OrgUnit(Base):
    """A province, city, ward or any other level.

    ``path`` is the materialized path of ids (``/1/4/17/``): a subtree is one indexed prefix
    match, and levels can be added or re-parented without changing any code that reads it.
    """

    __tablename__ = "org_units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    path: Mapped[str] = mapped_column(String(1000), index=True)
    depth: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id])

    def is_within(self, ancestor_path: str) -> bool:
        return self.path.startswith(ancestor_path)


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (CheckConstraint("ends_on >= starts_on", name="dates_ordered"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Target(Base):
    """A unit's own target for a metric; a unit without one sums its children's."""

    __tablename__ = "targets"
    __table_args__ = (CheckConstraint("value >= 0", name="value_not_negative"),)

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class TargetRollup(Base):
    """Each unit's effective target: its own, or else the sum of its children's (recursively).

    Kept beside ``targets`` (rewritten for the campaign whenever its targets change, which is
    rare), so a progress page reads targets like it reads the rollups: a row per unit shown.
    """

    __tablename__ = "target_rollups"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
