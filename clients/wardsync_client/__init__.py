"""The wardsync client: a phone's durable outbox and sync, and headquarters' incremental
exports. It talks to a wardsync server over HTTP only."""

from .api import ApiError, AuthError, Connection, Tokens, Unreachable
from .exports import ExportStateError, IncrementalExport
from .outbox import DeviceStore
from .sync import SyncReport, connect, enroll, pull, push, sync_device

__all__ = [
    "ApiError",
    "AuthError",
    "Connection",
    "ExportStateError",
    "DeviceStore",
    "IncrementalExport",
    "SyncReport",
    "Tokens",
    "Unreachable",
    "connect",
    "enroll",
    "pull",
    "push",
    "sync_device",
]
