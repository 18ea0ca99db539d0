"""What the phones send and what it adds up to.

``submissions`` keeps every accepted submission exactly once (its id is the phone's uuid), with
the outcome its first receipt got, so resends can be answered from it. Records, households,
conflicts and counters are derived from the submissions: ``wardsync verify`` rebuilds the
counters from the submissions alone and compares.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (
        Index("ix_submissions_campaign_position", "campaign_id", "xid", "seq"),
        # Partial: only gifts have a business key and only voids a target, so the other rows
        # (most of them activations) cost these indexes nothing on insert.
        Index(
            "ix_submissions_gift_key",
            "campaign_id",
            "business_key",
            postgresql_where=text("business_key IS NOT NULL"),
            sqlite_where=text("business_key IS NOT NULL"),
        ),
        Index(
            "ix_submissions_void_target",
            "void_target",
            postgresql_where=text("void_target IS NOT NULL"),
            sqlite_where=text("void_target IS NOT NULL"),
        ),
        Index("ix_submissions_household", "campaign_id", "household_id"),
        Index("ix_submissions_device", "device_id", "received_at"),  # a phone's receipt
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # Its position in the feed's order (``sync.feed.positions``): the writing transaction's id,
    # then a sequence number. Exports page by it.
    xid: Mapped[int] = mapped_column(BigInteger, default=0)
    seq: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    form: Mapped[str] = mapped_column(String(16))
    form_version: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)  # clamped
    day: Mapped[date] = mapped_column(Date)  # recorded_at's date in the campaign's zone
    hlc: Mapped[str] = mapped_column(String(80))  # sortable: wall ms, counter, device id
    base_version: Mapped[int] = mapped_column(Integer, default=0)
    content_hash: Mapped[str] = mapped_column(String(64))
    # The validated data; a citizen id only as its keyed hash and masked form.
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    household_id: Mapped[str | None] = mapped_column(String(36))
    record_id: Mapped[int | None] = mapped_column(ForeignKey("activation_records.id"))
    business_key: Mapped[str | None] = mapped_column(String(200))  # gifts: household|kind|round
    void_target: Mapped[str | None] = mapped_column(String(36))
    voided: Mapped[bool] = mapped_column(Boolean, default=False)
    # Gifts: None (not a double, or not judged), "confirmed" or "rejected" by a lead.
    double_decision: Mapped[str | None] = mapped_column(String(16))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)  # first receipt's outcome
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ActivationRecord(Base):
    """One citizen in one campaign, merged from every activation submission about them."""

    __tablename__ = "activation_records"
    __table_args__ = (UniqueConstraint("campaign_id", "citizen_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    citizen_hash: Mapped[str] = mapped_column(String(64))
    citizen_masked: Mapped[str] = mapped_column(String(12))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    # The merged state (sync.rules.activations.ActivationState as JSON): the ladder, negative
    # outcomes, per-field last-writer-wins values with their clocks.
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Household(Base):
    """The household registry, upserted from the forms (last writer wins on the address)."""

    __tablename__ = "households"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(200))
    address_hlc: Mapped[str] = mapped_column(String(120))  # "<hlc> <submission id>"
    # The ward is last-writer-wins over every form naming the household, with or without
    # an address, so it does not depend on which form arrived first.
    unit_hlc: Mapped[str] = mapped_column(String(120))
    version: Mapped[int] = mapped_column(Integer, default=1)


class ReviewItem(Base):
    """A conflict or suspected double delivery waiting for (or resolved by) a lead."""

    __tablename__ = "review_items"
    __table_args__ = (Index("ix_review_items_open", "campaign_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    kind: Mapped[str] = mapped_column(String(20))  # field_conflict|status_conflict|suspected_double
    # What the item is about: "record:<id>:<field>", "record:<id>:status", "gift:<submission>".
    subject: Mapped[str] = mapped_column(String(120), index=True)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("activation_records.id"))
    day: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")
    submissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    resolution: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Counter(Base):
    """Progress per (campaign, org unit, metric, day), changed only by deltas.

    A key's value is the sum over its ``shard`` rows: each writing transaction adds into a
    shard no other running transaction holds (``sync.progress.counters``), so writers never queue
    on a busy ward's or city's row.
    """

    __tablename__ = "counters"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True, default=0)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class FeedEntry(Base):
    """The compacted change feed: one row per entity, at the sequence of its latest change."""

    __tablename__ = "feed"
    __table_args__ = (Index("ix_feed_position", "xid", "seq"),)

    entity: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    xid: Mapped[int] = mapped_column(BigInteger, default=0)  # see sync.feed.positions: the position
    seq: Mapped[int] = mapped_column(BigInteger)
    # Where it lives, for scoping a pull; NULL: everyone sees it (campaigns).
    path: Mapped[str | None] = mapped_column(String(1000))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


class FeedClock(Base):
    """A single row: the feed's epoch, and on SQLite (one writer at a time) the sequence.

    PostgreSQL takes sequence numbers from the ``feed_seq`` sequence instead, so that no
    writer waits on this row (``sync.feed.positions``).
    """

    __tablename__ = "feed_clock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    epoch: Mapped[str] = mapped_column(String(32))


class Rollup(Base):
    """Progress of a whole subtree per (campaign, org unit, metric, day).

    Kept beside ``counters`` by the same deltas, added to the unit and every ancestor, so a
    progress page reads a few rows per unit shown, however many submissions lie below it.
    """

    __tablename__ = "rollups"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True, default=0)  # as counters
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class DeviceTally(Base):
    """Each phone's stored forms per (campaign, org unit, form), and how many of its gifts a
    lead rejected as double entries: the lead's volunteer table reads these few rows instead of
    grouping a city's submissions on every request.

    Changed only inside the transaction that stores a submission or rejects a gift, by the
    difference, like the progress counters. Only that phone's own pushes (and a lead's
    rejection) touch its rows, so writers do not queue on them and they need no shards.
    """

    __tablename__ = "device_tallies"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    form: Mapped[str] = mapped_column(String(16), primary_key=True)
    stored: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected: Mapped[int] = mapped_column(BigInteger, default=0)


class Correction(Base):
    """A lead's correction of an activation record: the only way a status moves down.

    Kept as data, like a submission, so ``verify`` can refold records and counters from the
    submissions and corrections alone.
    """

    __tablename__ = "corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("activation_records.id"), index=True)
    hlc: Mapped[str] = mapped_column(String(80))  # the server's clock when it was made
    day: Mapped[date] = mapped_column(Date)
    status: Mapped[str | None] = mapped_column(String(16))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(String(500))
    actor_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    review_item_id: Mapped[int | None] = mapped_column(ForeignKey("review_items.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
