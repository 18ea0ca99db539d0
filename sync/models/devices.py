"""Enrolled phones and the one-use codes that enrol them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow
from .org import OrgUnit


class Device(Base):
    """A volunteer's phone. Its scope is fixed at enrolment; revoking it ends its token family.

    An OpenRosa device (ODK Collect, Enketo) has no refresh tokens: its credential is the key
    in its server URL, of which only the SHA-256 is kept (``openrosa_key_hash``).
    """

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    family_id: Mapped[str] = mapped_column(ForeignKey("token_families.id"), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    openrosa_key_hash: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)

    org_units: Mapped[list[OrgUnit]] = relationship(secondary="device_org_units", lazy="selectin")


class DeviceOrgUnit(Base):
    __tablename__ = "device_org_units"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), primary_key=True)


class EnrollmentCode(Base):
    """One use, expiring. Only the SHA-256 of the code is stored."""

    __tablename__ = "enrollment_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    org_unit_ids: Mapped[str] = mapped_column(String(1000))  # comma-separated ids
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.id"))
