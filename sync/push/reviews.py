"""Review items a push opens, joins or closes, with the open-conflicts counter moving with them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sync.progress.metrics import COUNTED_REVIEWS

if TYPE_CHECKING:
    from sync.push.state import Item, RecordRow

from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.models import ReviewItem
from sync.rules.contributions import Contributions
from sync.store import bulk


class Reviews:
    """Review items this batch opens, joins or closes; open_conflicts moves with them."""

    def __init__(self, session: Session, delta: dict[int, Contributions]):
        self.session = session
        self.delta = delta
        self.items: dict[str, ReviewItem] = {}  # subject -> item (open, or closed just now)
        self.new: list[ReviewItem] = []

    def write(self) -> None:
        """Insert the new items (they get their ids) and update the changed ones."""
        bulk.insert_objects(self.session, self.new, key=("subject", "status"))
        self.session.flush()

    def load(self, subjects: set[str]) -> None:
        wanted = sorted(subjects - set(self.items))
        if wanted:
            for item in self.session.scalars(
                select(ReviewItem).where(
                    ReviewItem.subject.in_(wanted), ReviewItem.status == "open"
                )
            ):
                self.items[item.subject] = item

    def raise_item(
        self,
        cause: Item,
        subject: str,
        kind: str,
        record: RecordRow | None,
        *,
        fields: dict | None = None,
        day: str | None = None,
        campaign_id: int | None = None,
        org: int | None = None,
        sid: str | None = None,
    ) -> None:
        item = self.items.get(subject)
        if item is None or item.status != "open":
            item = ReviewItem(
                campaign_id=record.campaign_id if record else campaign_id,
                org_unit_id=record.org_unit_id if record else org,
                kind=kind,
                subject=subject,
                record_id=record.id if record else None,
                day=date.fromisoformat(day or cause.day),
                status="open",
                submissions=[],
                fields={},
            )
            self.items[subject] = item
            self.new.append(item)
            self._count(item, +1)
        for member in (sid, cause.sid):
            if member and member not in item.submissions:
                item.submissions = [*item.submissions, member]
        if fields:
            item.fields = {**item.fields, **fields}
        cause.reviews.append(subject)

    def close(self, subject: str, reason: str) -> None:
        item = self.items.get(subject)
        if item is None or item.status != "open":
            return
        item.status = "resolved"
        item.resolution = {"auto": reason}
        item.resolved_at = datetime.now(UTC)
        self._count(item, -1)

    def _count(self, item: ReviewItem, sign: int) -> None:
        if item.kind in COUNTED_REVIEWS:
            key = (item.org_unit_id, "open_conflicts", item.day.isoformat())
            self.delta[item.campaign_id][key] += sign
