"""The push path, top to bottom: validate the batch, look up what is already known with one
query per table, lock the keys it merges into, merge in memory, write with one statement per
table, adjust the counters by their deltas, append to the change feed, answer.

The caller commits. The number of statements does not grow with the batch size. Each step's
domain lives in its own module: ``activations`` (records), ``events`` (help, gifts, voids),
``households``, ``reviews``; ``keys`` says what is locked.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from sync import text as text_rules
from sync.clock import HLC, MAX_SKEW_MS, server_clock, stamp
from sync.clock import now_ms as clock_now_ms
from sync.feed import journal
from sync.forms.flatten import flatten
from sync.forms.schemas import (
    citizen_hash,
    content_hash,
    item_id,
    validate_submission,
)
from sync.models import Campaign, OrgUnit, Submission
from sync.progress import counters, tallies
from sync.push import activations, events, households, keys
from sync.push.state import (
    DeviceContext,
    Item,
    PushOutcome,
    PushState,
    business_key,
    duplicate_of,
    rejected,
    stored_data,
)
from sync.store import bulk


def push(
    session: Session,
    device: DeviceContext,
    items: list[Any],
    *,
    citizen_key: str,
    now_ms: int | None = None,
) -> PushOutcome:
    server_ms = clock_now_ms() if now_ms is None else now_ms
    return run(PushState(session, device, citizen_key, server_ms), items)


def run(state: PushState, items: list[Any]) -> PushOutcome:
    state.results = [None] * len(items)
    digests = _answer_resends(state, items)  # before validation, without a lock
    echoes = _validate(state, items, digests)
    batch = echoes.pop("batch")
    batch = _resolve_places(state, batch) if batch else batch
    for item in batch:  # pure work, done before taking any lock
        _stamp(state, item)
        state.paths[item.unit.id] = item.unit.path
    batch = _drop_known(state, batch)  # what the first look could not tell apart
    keys.lock(state, batch)

    activations.merge(state, [i for i in batch if i.form == "activation"])
    batch = events.merge(state, batch)
    households.upsert(state, batch)
    state.reviews.write()
    _write(state, batch)
    for campaign_id, contributions in sorted(state.delta.items()):  # last: see counters
        counters.apply(state.session, campaign_id, contributions, state.paths)

    for index, first_index in echoes["echoes"]:
        state.results[index] = duplicate_of(state.results[index]["id"], state.results[first_index])
    for item in batch:
        server_clock.observe(HLC.parse(item.hlc))
    server_time = datetime.fromtimestamp(state.server_ms / 1000, UTC)
    return PushOutcome(state.results, str(server_clock.now()), server_time)


def _answer_resends(state: PushState, items: list[Any]) -> dict[int, str]:
    """Answer identical resends from their stored outcome, before any validation or lock.

    A phone that lost an answer sends the whole batch again, so on a bad link this is the
    common case, and its answer is already decided: the stored outcome of the same content.
    Returns the content hash of each item it could hash, for the items that go on.
    """
    digests: dict[int, str] = {}
    ids: dict[int, str] = {}
    for index, raw in enumerate(items):
        sid = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(sid, str) or len(sid) > 64:
            continue
        try:
            ids[index] = str(uuid.UUID(sid))
            digests[index] = content_hash(raw, state.citizen_key)
        except (ValueError, TypeError, UnicodeError):  # not a uuid, not hashable text
            ids.pop(index, None)
            continue
    if not ids:
        return digests
    stored = {
        row.id: row
        for row in state.session.execute(
            select(Submission.id, Submission.content_hash, Submission.result).where(
                Submission.id.in_(sorted(set(ids.values())))
            )
        )
    }
    for index, sid in ids.items():
        row = stored.get(sid)
        if row is not None and row.content_hash == digests[index]:
            state.results[index] = duplicate_of(sid, row.result)
    state.first_look = {sid: stored.get(sid) for sid in ids.values()}
    return digests


def _validate(state: PushState, items: list[Any], digests: dict[int, str]) -> dict:
    batch: list[Item] = []
    first: dict[str, Item] = {}
    echoes: list[tuple[int, int]] = []
    for index, raw in enumerate(items):
        if state.results[index] is not None:
            continue  # answered already: a resend of stored content
        bad_text = text_rules.problems(raw)  # before anything encodes, hashes or stores it
        if bad_text:
            state.results[index] = rejected(item_id(raw), bad_text)
            continue
        try:
            env = validate_submission(raw)
        except ValidationError as exc:
            state.results[index] = rejected(item_id(raw), flatten(exc.messages))
            continue
        digest = digests.get(index) or content_hash(raw, state.citizen_key)
        earlier = first.get(env["id"])
        if earlier is None:
            item = Item(index=index, env=env, hash=digest)
            first[env["id"]] = item
            batch.append(item)
        elif earlier.hash == digest:
            state.results[index] = {"id": env["id"]}
            echoes.append((index, earlier.index))
        else:
            state.results[index] = rejected(env["id"], {"id": ["Already used for other content."]})
    return {"batch": batch, "echoes": echoes}


def _resolve_places(state: PushState, batch: list[Item]) -> list[Item]:
    codes = {i.env["campaign"] for i in batch}
    unit_codes = {i.env["org_unit"] for i in batch}
    c, u = Campaign.__table__.c, OrgUnit.__table__.c  # plain rows: no ORM on the hot path
    campaigns = {
        row.code: row
        for row in state.session.execute(select(c.id, c.code, c.timezone).where(c.code.in_(codes)))
    }
    units = {
        row.code: row
        for row in state.session.execute(select(u.id, u.code, u.path).where(u.code.in_(unit_codes)))
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
        elif not state.device.scope.covers(item.unit):
            errors["org_unit"] = ["Outside this device's org units."]
        if errors:
            state.results[item.index] = rejected(item.sid, errors)
        else:
            kept.append(item)
    return kept


def _drop_known(state: PushState, batch: list[Item]) -> list[Item]:
    """Items whose id is stored already: the first look's answer where it asked (an id
    stored since then is caught by the insert's key like any concurrent first receipt),
    one more lookup only for ids it could not read."""
    if not batch:
        return batch
    known = {sid: row for sid, row in state.first_look.items() if row is not None}
    unseen = [i.sid for i in batch if i.sid not in state.first_look]
    if unseen:
        query = select(Submission.id, Submission.content_hash, Submission.result)
        known |= {
            row.id: row for row in state.session.execute(query.where(Submission.id.in_(unseen)))
        }
    fresh = []
    for item in batch:
        row = known.get(item.sid)
        if row is None:
            fresh.append(item)
        elif row.content_hash == item.hash:
            state.results[item.index] = duplicate_of(item.sid, row.result)
        else:
            state.results[item.index] = rejected(
                item.sid, {"id": ["Already used for other content."]}
            )
    return fresh


def _stamp(state: PushState, item: Item) -> None:
    """The item's clock, day and row; clocks far ahead are clamped and flagged."""
    recorded_at = item.env["recorded_at"].astimezone(UTC)
    recorded_ms = int(recorded_at.timestamp() * 1000)
    if "hlc" in item.env:
        parsed = HLC.parse(item.env["hlc"])
        wall, counter = parsed.wall_ms, parsed.counter
    else:
        wall, counter = recorded_ms, 0
    clock = stamp(wall, counter, state.device.device_id, state.server_ms)
    if clock.clock_suspect or recorded_ms > state.server_ms + MAX_SKEW_MS:
        item.flags.append("clock_suspect")
        recorded_at = min(recorded_at, datetime.fromtimestamp(state.server_ms / 1000, UTC))
        clock = stamp(min(wall, state.server_ms), counter, state.device.device_id, state.server_ms)
    item.hlc = str(clock.hlc)
    local_day = recorded_at.astimezone(ZoneInfo(item.campaign.timezone)).date()
    item.day = local_day.isoformat()
    item.result = {"id": item.sid, "status": "applied"}
    if item.form == "activation":
        item.record_key = (
            item.campaign.id,
            citizen_hash(item.data["citizen_id"], state.citizen_key),
        )
    item.row = {
        "id": item.sid,
        "campaign_id": item.campaign.id,
        "org_unit_id": item.unit.id,
        "device_id": state.device.device_id,
        "form": item.form,
        "form_version": item.env["form_version"],
        "recorded_at": recorded_at,
        "day": local_day,
        "hlc": item.hlc,
        "base_version": item.env["base_version"],
        "content_hash": item.hash,
        "data": stored_data(item.data),
        "household_id": item.data.get("household_id"),
        "record_id": None,
        "business_key": business_key(item.data) if item.form == "gift" else None,
        "void_target": item.data.get("target") if item.form == "void" else None,
        "voided": False,
        "double_decision": None,
        "received_at": state.received_at,
    }


def _write(state: PushState, batch: list[Item]) -> None:
    """The submissions and the feed, at their positions (``sync.feed.positions``)."""
    if not batch and not state.changes:
        return
    xid, seqs = journal.stamp(state.session, len(batch) + len(state.changes))
    for offset, item in enumerate(batch):
        conflict_ids = sorted(
            {state.reviews.items[s].id for s in item.reviews if state.reviews.items[s].id}
        )
        if conflict_ids:
            item.result["status"] = "conflict"
            item.result["conflict_id"] = conflict_ids[0]
        if item.flags:
            item.result["flags"] = sorted(set(item.flags))
        item.row["xid"], item.row["seq"] = xid, seqs[offset]
        item.row["result"] = item.result
        state.results[item.index] = item.result
    rows = [item.row for item in batch]
    bulk.insert_rows(state.session, Submission.__table__, rows)
    tallies.count_stored(state.session, rows)
    journal.publish(state.session, state.changes, (xid, seqs[len(batch) :]))
