"""The data model: every table wardsync has, as typed SQLAlchemy 2 models."""

from .accounts import ROLES, ApiKey, RefreshToken, TokenFamily, User, UserOrgUnit
from .audit import AuditEntry
from .base import Base, utcnow
from .devices import Device, DeviceOrgUnit, EnrollmentCode
from .org import DEFAULT_TIMEZONE, Campaign, OrgUnit, Target, TargetRollup
from .sync_state import (
    ActivationRecord,
    Correction,
    Counter,
    DeviceTally,
    FeedClock,
    FeedEntry,
    Household,
    ReviewItem,
    Rollup,
    Submission,
)
from .throttle import ThrottleHit

__all__ = [
    "ROLES",
    "DEFAULT_TIMEZONE",
    "ActivationRecord",
    "ApiKey",
    "AuditEntry",
    "Correction",
    "Counter",
    "Device",
    "DeviceTally",
    "DeviceOrgUnit",
    "EnrollmentCode",
    "FeedClock",
    "FeedEntry",
    "Household",
    "ReviewItem",
    "Rollup",
    "Submission",
    "Base",
    "Campaign",
    "OrgUnit",
    "RefreshToken",
    "Target",
    "TargetRollup",
    "ThrottleHit",
    "TokenFamily",
    "User",
    "UserOrgUnit",
    "utcnow",
]
