"""The data model: every table wardsync has, as typed SQLAlchemy 2 models."""

from .accounts import ROLES, RefreshToken, TokenFamily, User, UserOrgUnit
from .audit import AuditEntry
from .base import Base, utcnow
from .org import DEFAULT_TIMEZONE, Campaign, OrgUnit, Target

__all__ = [
    "ROLES",
    "DEFAULT_TIMEZONE",
    "AuditEntry",
    "Base",
    "Campaign",
    "OrgUnit",
    "RefreshToken",
    "Target",
    "TokenFamily",
    "User",
    "UserOrgUnit",
    "utcnow",
]
