"""What one push carries through its steps, and the shapes of the items it carries."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.accounts.scope import Scope
from sync.feed import journal
from sync.forms.schemas import (
    mask_citizen_id,
)
from sync.models import OrgUnit
from sync.push.reviews import Reviews
from sync.rules.contributions import Contributions
from sync.store import locks

MAX_BATCH = 1000


@dataclass(frozen=True)
class DeviceContext:
    device_id: str
    user_id: int
    scope: Scope


@dataclass
class PushOutcome:
    results: list[dict]
    server_hlc: str
    server_time: datetime


@dataclass
class RecordRow:
    """An activation record as the push path reads and writes it (no ORM on the hot path)."""

    id: int | None
    campaign_id: int
    citizen_hash: str
    org_unit_id: int
    version: int
    state: dict


@dataclass
class Item:
    """One new submission on its way through the pipeline."""

    index: int
    env: dict
    hash: str
    campaign: Any = None  # a row: id, code, timezone
    unit: Any = None  # a row: id, code, path
    hlc: str = ""
    day: str = ""
    flags: list[str] = field(default_factory=list)
    result: dict = field(default_factory=dict)
    row: dict = field(default_factory=dict)
    reviews: list[str] = field(default_factory=list)  # subjects this item opened or joined
    record_key: tuple[int, str] | None = None

    @property
    def sid(self) -> str:
        return self.env["id"]

    @property
    def form(self) -> str:
        return self.env["form"]

    @property
    def data(self) -> dict:
        return self.env["data"]


def rejected(sid: str | None, errors: dict[str, list[str]]) -> dict:
    return {"id": sid, "status": "rejected", "errors": errors}


def duplicate_of(sid: str, original: dict) -> dict:
    if original["status"] == "rejected":
        return dict(original)
    answer = {k: v for k, v in original.items() if k not in ("status", "original_status")}
    answer.update(id=sid, status="duplicate", original_status=original["status"])
    return answer


class PushState:
    """One push on its way: the answers so far, the counter deltas, the feed changes, the review
    items and the keys locked."""

    def __init__(self, session: Session, device: DeviceContext, citizen_key: str, server_ms: int):
        self.session = session
        self.device = device
        self.citizen_key = citizen_key
        self.server_ms = server_ms
        self.results: list[dict | None] = []
        self.delta: dict[int, Contributions] = defaultdict(Contributions)
        self.changes: list[journal.Change] = []
        self.reviews = Reviews(session, self.delta)
        self.paths: dict[int, str] = {}
        self.locked: set[int] = set()
        self.received_at = datetime.now(UTC)
        self.void_targets: dict[str, tuple] = {}
        # Households whose gifts changed: the pull shows each household's gifts, so these
        # go to the change feed at a new version even when nothing else about them did.
        self.gift_households: set[str] = set()
        # What the first lookup of the batch's ids found (None: not stored), by id.
        self.first_look: dict[str, object] = {}

    def load_paths(self, unit_ids: set[int]) -> None:
        missing = sorted(unit_ids - set(self.paths))
        if missing:
            query = select(OrgUnit.id, OrgUnit.path).where(OrgUnit.id.in_(missing))
            self.paths.update(self.session.execute(query).all())

    def lock_late(self, keys: set) -> None:
        """Keys found only after the first locks (a void's target that arrived meanwhile):
        taken out of the global order, so a deadlock is possible; the database detects it and
        the push is retried."""
        wanted = {k for k in keys if locks.number(k) not in self.locked}
        self.locked |= set(locks.lock(self.session, wanted))


def position(item: Item) -> str:
    """Clock then id, as one string that sorts like the pair."""
    return f"{item.hlc} {item.sid}"


def business_key(data: dict) -> str:
    return f"{data['household_id']}|{data['gift_kind']}|{data['round']}"


def stored_data(data: dict) -> dict:
    stored = {k: str(v) if isinstance(v, Decimal) else v for k, v in data.items()}
    if "citizen_id" in stored:
        stored["citizen_id"] = mask_citizen_id(stored["citizen_id"])
    return stored
