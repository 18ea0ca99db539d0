"""The push path, top to bottom: validate the batch, look up what is already known with one
query per table, merge in memory, write with one statement per table, adjust the counters by
their deltas, append to the change feed, answer.

The caller commits. The number of statements does not grow with the batch size.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from marshmallow import ValidationError
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from . import bulk, counters, feed, locks
from . import text as text_rules
from .clock import HLC, MAX_SKEW_MS, server_clock, stamp
from .clock import now_ms as clock_now_ms
from .flatten import flatten
from .forms import (
    EVENT_FORMS,
    citizen_hash,
    content_hash,
    item_id,
    mask_citizen_id,
    validate_submission,
)
from .merge import (
    LWW_FIELDS,
    ActivationInput,
    Contributions,
    Event,
    activation_contributions,
    add,
    difference,
    gift_contributions,
    gift_standing,
    has_status_conflict,
    help_contributions,
    merge_activation,
    new_activation_state,
    outcomes_of,
)
from .models import ActivationRecord, Campaign, Household, OrgUnit, ReviewItem, Submission
from .scope import Scope

MAX_BATCH = 1000
COUNTED_REVIEWS = ("field_conflict", "status_conflict")  # in open_conflicts


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


def push(
    session: Session,
    device: DeviceContext,
    items: list[Any],
    *,
    citizen_key: str,
    now_ms: int | None = None,
) -> PushOutcome:
    server_ms = clock_now_ms() if now_ms is None else now_ms
    return _Push(session, device, citizen_key, server_ms).run(items)


class _Push:
    def __init__(self, session: Session, device: DeviceContext, citizen_key: str, server_ms: int):
        self.session = session
        self.device = device
        self.citizen_key = citizen_key
        self.server_ms = server_ms
        self.results: list[dict | None] = []
        self.delta: dict[int, Contributions] = defaultdict(Contributions)
        self.changes: list[feed.Change] = []
        self.reviews = _Reviews(session, self.delta)
        self.paths: dict[int, str] = {}
        self.locked: set[int] = set()
        self.received_at = datetime.now(UTC)
        self.void_targets: dict[str, tuple] = {}

    def run(self, items: list[Any]) -> PushOutcome:
        self.results = [None] * len(items)
        echoes = self._validate(items)
        batch = self._resolve_places(echoes.pop("batch"))
        for item in batch:  # pure work, done before taking any lock
            self._stamp(item)
            self.paths[item.unit.id] = item.unit.path
        batch = self._drop_known(batch)  # resends are answered without a lock
        self._lock(batch)

        self._merge_activations([i for i in batch if i.form == "activation"])
        batch = self._merge_events(batch)
        self._upsert_households(batch)
        self.reviews.write()
        self._write(batch)
        for campaign_id, contributions in sorted(self.delta.items()):  # last: see counters
            counters.apply(self.session, campaign_id, contributions)

        for index, first_index in echoes["echoes"]:
            self.results[index] = duplicate_of(self.results[index]["id"], self.results[first_index])
        for item in batch:
            server_clock.observe(HLC.parse(item.hlc))
        server_time = datetime.fromtimestamp(self.server_ms / 1000, UTC)
        return PushOutcome(self.results, str(server_clock.now()), server_time)

    # 1. validation, no database ---------------------------------------------------------

    def _validate(self, items: list[Any]) -> dict:
        batch: list[Item] = []
        first: dict[str, Item] = {}
        echoes: list[tuple[int, int]] = []
        for index, raw in enumerate(items):
            bad_text = text_rules.problems(raw)  # before anything encodes, hashes or stores it
            if bad_text:
                self.results[index] = rejected(item_id(raw), bad_text)
                continue
            try:
                env = validate_submission(raw)
            except ValidationError as exc:
                self.results[index] = rejected(item_id(raw), flatten(exc.messages))
                continue
            digest = content_hash(raw, self.citizen_key)
            earlier = first.get(env["id"])
            if earlier is None:
                item = Item(index=index, env=env, hash=digest)
                first[env["id"]] = item
                batch.append(item)
            elif earlier.hash == digest:
                self.results[index] = {"id": env["id"]}
                echoes.append((index, earlier.index))
            else:
                self.results[index] = rejected(
                    env["id"], {"id": ["Already used for other content."]}
                )
        return {"batch": batch, "echoes": echoes}

    # 2. places and scope ----------------------------------------------------------------

    def _resolve_places(self, batch: list[Item]) -> list[Item]:
        codes = {i.env["campaign"] for i in batch}
        unit_codes = {i.env["org_unit"] for i in batch}
        c, u = Campaign.__table__.c, OrgUnit.__table__.c  # plain rows: no ORM on the hot path
        campaigns = {
            row.code: row
            for row in self.session.execute(
                select(c.id, c.code, c.timezone).where(c.code.in_(codes))
            )
        }
        units = {
            row.code: row
            for row in self.session.execute(
                select(u.id, u.code, u.path).where(u.code.in_(unit_codes))
            )
        }
        kept = []
        for item in batch:
            item.campaign = campaigns.get(item.env["campaign"])
            item.unit = units.get(item.env["org_unit"])
            errors = {}
            if item.campaign is None:
                errors["campaign"] = ["Unknown campaign."]
            if item.unit is None:
                errors["org_unit"] = ["Unknown org unit."]
            elif not self.device.scope.covers(item.unit):
                errors["org_unit"] = ["Outside this device's org units."]
            if errors:
                self.results[item.index] = rejected(item.sid, errors)
            else:
                kept.append(item)
        return kept

    def _lock(self, batch: list[Item]) -> None:
        """Lock every key the batch merges into (``sync.locks``), before reading any of them.

        A void's target decides which group it changes: a stored target is looked up first
        (what a stored submission belongs to never changes); a target not stored yet is
        waited for through its event key, and locked late if it turns up meanwhile.
        """
        keys: set = set()
        targets = {i.data["target"] for i in batch if i.form == "void"}
        known = {i.sid: i for i in batch}
        self.void_targets = _target_groups(self.session, targets - set(known))
        for item in batch:
            keys.update(_keys_of(item))
            if item.form == "void":
                keys.add(locks.event(item.data["target"]))
                target = known.get(item.data["target"])
                group = (
                    _group_key_of_item(target)
                    if target
                    else self.void_targets.get(item.data["target"])
                )
                if group:
                    keys.add(group)
        self.locked = set(locks.lock(self.session, keys))

    def lock_late(self, keys: set) -> None:
        """Keys found only after the first locks (a void's target that arrived meanwhile):
        taken out of the global order, so a deadlock is possible; the database detects it and
        the push is retried."""
        wanted = {k for k in keys if locks.number(k) not in self.locked}
        self.locked |= set(locks.lock(self.session, wanted))

    # 3. what is already known -----------------------------------------------------------

    def _drop_known(self, batch: list[Item]) -> list[Item]:
        if not batch:
            return batch
        known = {
            row.id: row
            for row in self.session.execute(
                select(Submission.id, Submission.content_hash, Submission.result).where(
                    Submission.id.in_([i.sid for i in batch])
                )
            )
        }
        fresh = []
        for item in batch:
            row = known.get(item.sid)
            if row is None:
                fresh.append(item)
            elif row.content_hash == item.hash:
                self.results[item.index] = duplicate_of(item.sid, row.result)
            else:
                self.results[item.index] = rejected(
                    item.sid, {"id": ["Already used for other content."]}
                )
        return fresh

    def _stamp(self, item: Item) -> None:
        """The item's clock, day and row; clocks far ahead are clamped and flagged."""
        recorded_at = item.env["recorded_at"].astimezone(UTC)
        recorded_ms = int(recorded_at.timestamp() * 1000)
        if "hlc" in item.env:
            parsed = HLC.parse(item.env["hlc"])
            wall, counter = parsed.wall_ms, parsed.counter
        else:
            wall, counter = recorded_ms, 0
        clock = stamp(wall, counter, self.device.device_id, self.server_ms)
        if clock.clock_suspect or recorded_ms > self.server_ms + MAX_SKEW_MS:
            item.flags.append("clock_suspect")
            recorded_at = min(recorded_at, datetime.fromtimestamp(self.server_ms / 1000, UTC))
            clock = stamp(min(wall, self.server_ms), counter, self.device.device_id, self.server_ms)
        item.hlc = str(clock.hlc)
        local_day = recorded_at.astimezone(ZoneInfo(item.campaign.timezone)).date()
        item.day = local_day.isoformat()
        item.result = {"id": item.sid, "status": "applied"}
        if item.form == "activation":
            item.record_key = (
                item.campaign.id,
                citizen_hash(item.data["citizen_id"], self.citizen_key),
            )
        item.row = {
            "id": item.sid,
            "campaign_id": item.campaign.id,
            "org_unit_id": item.unit.id,
            "device_id": self.device.device_id,
            "form": item.form,
            "form_version": item.env["form_version"],
            "recorded_at": recorded_at,
            "day": local_day,
            "hlc": item.hlc,
            "base_version": item.env["base_version"],
            "content_hash": item.hash,
            "data": _stored_data(item.data),
            "household_id": item.data.get("household_id"),
            "record_id": None,
            "business_key": business_key(item.data) if item.form == "gift" else None,
            "void_target": item.data.get("target") if item.form == "void" else None,
            "voided": False,
            "double_decision": None,
            "received_at": self.received_at,
        }

    # 4. activation records --------------------------------------------------------------

    def _merge_activations(self, items: list[Item]) -> None:
        if not items:
            return
        keys = sorted({i.record_key for i in items})
        table = ActivationRecord.__table__
        records = {
            (r.campaign_id, r.citizen_hash): RecordRow(**r._mapping)
            for r in self.session.execute(
                select(
                    table.c.id,
                    table.c.campaign_id,
                    table.c.citizen_hash,
                    table.c.org_unit_id,
                    table.c.version,
                    table.c.state,
                ).where(_pairs_in(table.c.campaign_id, table.c.citizen_hash, keys))
            )
        }
        before = {k: activation_contributions(r.state) for k, r in records.items()}
        conflicted = {k for k, r in records.items() if has_status_conflict(r.state)}
        clashes = {}
        new_records: dict[tuple, str] = {}  # key -> masked citizen id
        for item in items:
            record = records.get(item.record_key)
            if record is None:
                record = RecordRow(
                    None,
                    item.campaign.id,
                    item.record_key[1],
                    item.unit.id,
                    0,
                    new_activation_state(),
                )
                records[item.record_key] = record
                new_records[item.record_key] = mask_citizen_id(item.data["citizen_id"])
            record.version += 1
            record.state, clashes[item.sid] = merge_activation(
                record.state, _activation_input(item), record.version
            )
            record.org_unit_id = record.state["origin"][3]
            item.result["record_version"] = record.version
        self._write_records(records, new_records)

        # Only the review items this batch may open or join: clashed fields, new conflicts.
        wanted = {
            f"record:{records[i.record_key].id}:{clash.field}"
            for i in items
            for clash in clashes[i.sid]
        }
        wanted |= {
            f"record:{r.id}:status"
            for k, r in records.items()
            if k not in conflicted and has_status_conflict(r.state)
        }
        self.reviews.load(wanted)
        for item in items:
            record = records[item.record_key]
            item.row["record_id"] = item.result["record_id"] = record.id
            for clash in clashes[item.sid]:
                subject = f"record:{record.id}:{clash.field}"
                self.reviews.raise_item(
                    item,
                    subject,
                    "field_conflict",
                    record,
                    fields={clash.field: {"current": clash.theirs, "incoming": clash.mine}},
                )
        self._load_paths({r.org_unit_id for r in records.values()})
        for key, record in records.items():
            after = activation_contributions(record.state)
            add(self.delta[record.campaign_id], difference(after, before.get(key, Contributions())))
            if has_status_conflict(record.state) and key not in conflicted:
                for item in items:
                    if item.record_key == key and item.data["status"] in (
                        "activated",
                        "refused",
                        "ineligible",
                    ):
                        self.reviews.raise_item(
                            item,
                            f"record:{record.id}:status",
                            "status_conflict",
                            record,
                            fields={
                                "status": {
                                    "ladder": "activated",
                                    "outcomes": outcomes_of(record.state),
                                }
                            },
                            day=record.state["origin"][2],
                        )
            path = self.paths[record.org_unit_id]
            self.changes.append(feed.Change("activation", str(record.id), path))

    def _write_records(self, records: dict, new: dict[tuple, str]) -> None:
        """New records first (review items and submissions point at their ids), then the
        changed ones, one statement each."""
        table = ActivationRecord.__table__
        now = datetime.now(UTC)
        fresh = [(k, records[k]) for k in new]  # ids in the order the batch names them
        ids = bulk.insert_with_ids(
            self.session,
            table,
            [
                {
                    "campaign_id": r.campaign_id,
                    "citizen_hash": r.citizen_hash,
                    "citizen_masked": new[k],
                    "org_unit_id": r.org_unit_id,
                    "version": r.version,
                    "state": r.state,
                    "updated_at": now,
                }
                for k, r in fresh
            ],
            key=("campaign_id", "citizen_hash"),
        )
        for (_, record), new_id in zip(fresh, ids, strict=True):
            record.id = new_id
        bulk.update_rows(
            self.session,
            table,
            "id",
            [
                {
                    "id": r.id,
                    "version": r.version,
                    "state": r.state,
                    "org_unit_id": r.org_unit_id,
                    "updated_at": now,
                }
                for k, r in sorted(records.items())
                if k not in new
            ],
        )

    def _load_paths(self, unit_ids: set[int]) -> None:
        missing = sorted(unit_ids - set(self.paths))
        if missing:
            query = select(OrgUnit.id, OrgUnit.path).where(OrgUnit.id.in_(missing))
            self.paths.update(self.session.execute(query).all())

    # 5. events and voids ----------------------------------------------------------------

    def _merge_events(self, batch: list[Item]) -> list[Item]:
        """Add the new events and voids; recount every gift group and household they touch."""
        by_id = {i.sid: i for i in batch}
        voids = [i for i in batch if i.form == "void"]
        new_events = [i for i in batch if i.form in EVENT_FORMS]
        if not voids and not new_events:
            return batch

        targets = {v.data["target"] for v in voids}
        stored_targets = (
            {
                s.id: s
                for s in self.session.scalars(
                    select(Submission).where(Submission.id.in_(targets - set(by_id)))
                )
            }
            if targets
            else {}
        )
        self.lock_late(
            {_group_key_of_row(t) for t in stored_targets.values() if t.form in EVENT_FORMS}
        )
        self._load_paths({t.org_unit_id for t in stored_targets.values()})
        for void in voids:
            target = by_id.get(void.data["target"]) or stored_targets.get(void.data["target"])
            problem = _void_problem(void, target, self.paths)
            if problem:
                self.results[void.index] = rejected(void.sid, {"data.target": [problem]})
        batch = [i for i in batch if self.results[i.index] is None]
        voids = [v for v in voids if self.results[v.index] is None]

        voided_now = {v.data["target"] for v in voids}
        # Voids that came before their targets: they apply if the target lies in their unit.
        pending = set()
        if new_events:
            rows = self.session.execute(
                select(Submission.void_target, OrgUnit.path)
                .join(OrgUnit, OrgUnit.id == Submission.org_unit_id)
                .where(Submission.void_target.in_([e.sid for e in new_events]))
            ).all()
            by_sid = {e.sid: e for e in new_events}
            pending = {t for t, path in rows if by_sid[t].unit.path.startswith(path)}
        for event in new_events:
            if event.sid in voided_now or event.sid in pending:
                event.row["voided"] = True

        # Every group the batch touches, as stored before this batch.
        gift_keys, households = set(), set()
        for e in new_events:
            if e.form == "gift":
                gift_keys.add((e.campaign.id, e.row["business_key"]))
            else:
                households.add((e.campaign.id, e.data["household_id"]))
        for sid in voided_now:
            target = stored_targets.get(sid)
            if target is not None and target.form == "gift":
                gift_keys.add((target.campaign_id, target.business_key))
            elif target is not None:
                households.add((target.campaign_id, target.household_id))
        stored = self._stored_events(gift_keys, households)
        groups: dict[tuple, list[Event]] = defaultdict(list)
        for event in stored:
            groups[_group_of(event)].append(event)
        before = {g: _group_contributions(g, events) for g, events in groups.items()}
        standing_before = {
            g: gift_standing(events) for g, events in groups.items() if g[0] == "gift"
        }

        # Apply: void what the batch voids, add what it brings.
        stored_ids = set()
        for events in groups.values():
            for event in events:
                stored_ids.add(event.sid)
                if event.sid in voided_now:
                    event.voided = True
        for item in new_events:
            event = _event_from_item(item)
            groups[_group_of(event)].append(event)
        self._void_stored(voided_now & stored_ids)

        self.reviews.load(
            {
                f"gift:{e.sid}"
                for g, evs in groups.items()
                if g[0] == "gift"
                for e in evs
                if "suspected" in (standing_before.get(g, {}).get(e.sid), None)
            }
        )
        for group, events in groups.items():
            campaign_id = group[1]
            add(
                self.delta[campaign_id],
                difference(_group_contributions(group, events), before.get(group, Contributions())),
            )
            if group[0] == "gift":
                self._judge_doubles(events, standing_before.get(group, {}), by_id)
        return batch

    def _stored_events(self, gift_keys: set, households: set) -> list[Event]:
        conditions = []
        if gift_keys:
            conditions.append(
                and_(
                    Submission.form == "gift",
                    _pairs_in(Submission.campaign_id, Submission.business_key, gift_keys),
                )
            )
        if households:
            conditions.append(
                and_(
                    Submission.form == "household_help",
                    _pairs_in(Submission.campaign_id, Submission.household_id, households),
                )
            )
        if not conditions:
            return []
        t = Submission.__table__
        rows = self.session.execute(  # plain rows: no ORM objects on the hot path
            select(
                t.c.id,
                t.c.form,
                t.c.hlc,
                t.c.day,
                t.c.org_unit_id,
                t.c.household_id,
                t.c.business_key,
                t.c.data,
                t.c.voided,
                t.c.double_decision,
                t.c.campaign_id,
            ).where(or_(*conditions))
        )
        return [event_from_row(row) for row in rows]

    def _void_stored(self, ids: set[str]) -> None:
        if ids:
            self.session.execute(
                update(Submission)
                .where(Submission.id.in_(sorted(ids)))
                .values(voided=True)
                .execution_options(synchronize_session=False)
            )

    def _judge_doubles(self, events: list[Event], before: dict[str, str], by_id: dict) -> None:
        """Open a review item for each gift that became a suspected double; close the rest."""
        after = gift_standing(events)
        counted_new = [by_id[e.sid] for e in events if e.sid in by_id and after[e.sid] == "counted"]
        for event in sorted(events, key=lambda e: e.order):
            was, now = before.get(event.sid), after[event.sid]
            subject = f"gift:{event.sid}"
            if now == "suspected" and was != "suspected":
                item = by_id.get(event.sid)
                causes = [item] if item is not None else counted_new
                for cause in causes:
                    self.reviews.raise_item(
                        cause,
                        subject,
                        "suspected_double",
                        None,
                        campaign_id=event.extra["campaign_id"],
                        org=event.org,
                        day=event.day,
                        sid=event.sid,
                    )
                if item is not None:
                    item.flags.append("suspected_double")
            elif was == "suspected" and now != "suspected":
                self.reviews.close(subject, "void" if now == "void" else "promoted")

    # 6. households ----------------------------------------------------------------------

    def _upsert_households(self, batch: list[Item]) -> None:
        """The registry: the latest form by clock names the ward, the latest address wins."""
        named: dict[str, Item] = {}
        addressed: dict[str, Item] = {}
        for item in batch:
            hid = item.data.get("household_id") if item.form != "void" else None
            if hid is None:
                continue
            if hid not in named or _position(item) > _position(named[hid]):
                named[hid] = item
            if "household_address" in item.data and (
                hid not in addressed or _position(item) > _position(addressed[hid])
            ):
                addressed[hid] = item
        if not named:
            return
        existing = {
            h.id: h
            for h in self.session.scalars(select(Household).where(Household.id.in_(sorted(named))))
        }
        self._load_paths({h.org_unit_id for h in existing.values()})
        new_households: list[Household] = []
        for hid in sorted(named):
            household = existing.get(hid)
            if household is None:
                household = Household(id=hid, address=None, address_hlc="", unit_hlc="", version=0)
                new_households.append(household)
            changed = False
            if _position(named[hid]) > household.unit_hlc:
                household.org_unit_id = named[hid].unit.id
                household.unit_hlc = _position(named[hid])
                changed = True
            if hid in addressed and _position(addressed[hid]) > household.address_hlc:
                household.address = addressed[hid].data["household_address"]
                household.address_hlc = _position(addressed[hid])
                changed = True
            if changed:
                household.version += 1
                path = self.paths[household.org_unit_id]
                self.changes.append(feed.Change("household", hid, path))
        insert_objects(self.session, new_households)

    # 7. write ---------------------------------------------------------------------------

    def _write(self, batch: list[Item]) -> None:
        """The submissions and the feed, at their positions (``sync.feed``)."""
        if not batch and not self.changes:
            return
        xid, seqs = feed.stamp(self.session, len(batch) + len(self.changes))
        for offset, item in enumerate(batch):
            conflict_ids = sorted(
                {self.reviews.items[s].id for s in item.reviews if self.reviews.items[s].id}
            )
            if conflict_ids:
                item.result["status"] = "conflict"
                item.result["conflict_id"] = conflict_ids[0]
            if item.flags:
                item.result["flags"] = sorted(set(item.flags))
            item.row["xid"], item.row["seq"] = xid, seqs[offset]
            item.row["result"] = item.result
            self.results[item.index] = item.result
        bulk.insert_rows(self.session, Submission.__table__, [item.row for item in batch])
        feed.publish(self.session, self.changes, (xid, seqs[len(batch) :]))


class _Reviews:
    """Review items this batch opens, joins or closes; open_conflicts moves with them."""

    def __init__(self, session: Session, delta: dict[int, Contributions]):
        self.session = session
        self.delta = delta
        self.items: dict[str, ReviewItem] = {}  # subject -> item (open, or closed just now)
        self.new: list[ReviewItem] = []

    def write(self) -> None:
        """Insert the new items (they get their ids) and update the changed ones."""
        insert_objects(self.session, self.new, key=("subject", "status"))
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


# --- helpers ---------------------------------------------------------------------------------


def insert_objects(session: Session, objects: list, key: tuple[str, ...] = ()) -> None:
    """Insert new (unattached) model objects in one statement, filling in generated ids.

    The ORM's unit of work would send one INSERT per object; ``sync.bulk`` writes them all at
    once. ``key``: attributes that tell the new objects apart (to match ids on SQLite).
    """
    if not objects:
        return
    table = objects[0].__table__
    generated = table.autoincrement_column
    rows = []
    for obj in objects:
        row = {}
        for column in table.columns:
            if column is generated:
                continue
            value = getattr(obj, column.key)
            if value is None and column.default is not None and column.default.is_scalar:
                value = column.default.arg
            elif value is None and column.default is not None and column.default.is_callable:
                value = column.default.arg(None)
            row[column.key] = value
        rows.append(row)
    if generated is None:
        bulk.insert_rows(session, table, rows)
        return
    for obj, new_id in zip(objects, bulk.insert_with_ids(session, table, rows, key), strict=True):
        setattr(obj, generated.key, new_id)


def _keys_of(item: Item) -> set:
    """The lock keys an item merges into (a void's target is added by the caller)."""
    keys = set()
    if item.form == "activation":
        keys.add(locks.record(*item.record_key))
    elif item.form in EVENT_FORMS:
        keys.add(_group_key_of_item(item))
        keys.add(locks.event(item.sid))
    household = item.data.get("household_id") if item.form != "void" else None
    if household:
        keys.add(locks.household(household))
    return keys


def _group_key_of_item(item: Item) -> tuple | None:
    if item.form == "gift":
        return locks.gift_group(item.campaign.id, item.row["business_key"])
    if item.form == "household_help":
        return locks.help_group(item.campaign.id, item.data["household_id"])
    return None


def _group_key_of_row(row) -> tuple | None:
    if row.form == "gift":
        return locks.gift_group(row.campaign_id, row.business_key)
    if row.form == "household_help":
        return locks.help_group(row.campaign_id, row.household_id)
    return None


def _target_groups(session: Session, ids: set[str]) -> dict[str, tuple]:
    """The group each stored submission in ``ids`` belongs to (events only)."""
    if not ids:
        return {}
    rows = session.execute(
        select(
            Submission.id,
            Submission.form,
            Submission.campaign_id,
            Submission.business_key,
            Submission.household_id,
        ).where(Submission.id.in_(sorted(ids)))
    )
    return {row.id: group for row in rows if (group := _group_key_of_row(row))}


def _pairs_in(campaign_column, key_column, pairs):
    """``(campaign, key) IN pairs`` as ``campaign = c AND key IN (...)`` per campaign.

    PostgreSQL plans a row-value IN list poorly (often a sequential scan); this form uses the
    composite index. A batch almost always holds one campaign.
    """
    by_campaign: dict[int, list[str]] = defaultdict(list)
    for campaign_id, key in sorted(pairs):
        by_campaign[campaign_id].append(key)
    return or_(
        *(and_(campaign_column == c, key_column.in_(keys)) for c, keys in by_campaign.items())
    )


def _position(item: Item) -> str:
    """Clock then id, as one string that sorts like the pair."""
    return f"{item.hlc} {item.sid}"


def business_key(data: dict) -> str:
    return f"{data['household_id']}|{data['gift_kind']}|{data['round']}"


def _stored_data(data: dict) -> dict:
    stored = {k: str(v) if isinstance(v, Decimal) else v for k, v in data.items()}
    if "citizen_id" in stored:
        stored["citizen_id"] = mask_citizen_id(stored["citizen_id"])
    return stored


def _activation_input(item: Item) -> ActivationInput:
    return ActivationInput(
        sid=item.sid,
        hlc=item.hlc,
        device=item.row["device_id"],
        day=item.day,
        org=item.unit.id,
        status=item.data["status"],
        fields={k: item.data[k] for k in LWW_FIELDS if k in item.data},
        base_version=item.env["base_version"],
    )


def _void_problem(void: Item, target, paths: dict[int, str]) -> str | None:
    """Why a void cannot apply to its (stored or same-batch) target, if it cannot.

    A void reaches only events within its own org unit's subtree: the same rule whichever
    arrives first, and always within the device's scope, since the void's unit is.
    """
    if target is None:
        return None  # kept; the target is void from the moment it arrives
    if isinstance(target, Item):
        form, campaign_id, unit_id = target.form, target.campaign.id, target.unit.id
    else:
        form, campaign_id, unit_id = target.form, target.campaign_id, target.org_unit_id
    if form not in EVENT_FORMS:
        return "A void can only target a household_help or gift submission."
    if campaign_id != void.campaign.id:
        return "The target belongs to another campaign."
    if not paths[unit_id].startswith(void.unit.path):
        return "The target lies outside this void's org unit."
    return None


def event_from_row(row: Submission) -> Event:
    data = row.data
    return Event(
        sid=row.id,
        form=row.form,
        hlc=row.hlc,
        day=row.day.isoformat(),
        org=row.org_unit_id,
        household=row.household_id,
        business_key=row.business_key,
        count=data.get("count", 1),
        value_vnd=data.get("value_vnd", 0),
        volunteers=data.get("volunteers", 1),
        hours=Decimal(data.get("hours", "0")),
        voided=row.voided,
        decision=row.double_decision,
        extra={"campaign_id": row.campaign_id},
    )


def _event_from_item(item: Item) -> Event:
    data = item.data
    return Event(
        sid=item.sid,
        form=item.form,
        hlc=item.hlc,
        day=item.day,
        org=item.unit.id,
        household=data["household_id"],
        business_key=item.row["business_key"],
        count=data.get("count", 1),
        value_vnd=data.get("value_vnd", 0),
        volunteers=data.get("volunteers", 1),
        hours=Decimal(data.get("hours", 0)),
        voided=item.row["voided"],
        extra={"campaign_id": item.campaign.id},
    )


def _group_of(event: Event) -> tuple:
    campaign_id = event.extra["campaign_id"]
    if event.form == "gift":
        return ("gift", campaign_id, event.business_key)
    return ("help", campaign_id, event.household)


def _group_contributions(group: tuple, events: list[Event]) -> Contributions:
    return gift_contributions(events) if group[0] == "gift" else help_contributions(events)
