"""Activation records: fold the batch's visits into each citizen's record, write the records, open
the conflicts they raise.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from sync.feed import journal
from sync.forms.schemas import (
    mask_citizen_id,
)
from sync.models import ActivationRecord
from sync.push.state import Item, PushState, RecordRow
from sync.rules.activations import (
    Mark,
    activation_contributions,
    has_status_conflict,
    merge_activation,
    new_activation_state,
    outcomes_of,
)
from sync.rules.adapters import activation_input_from_item
from sync.rules.contributions import Contributions, add, difference
from sync.store import bulk


def merge(state: PushState, items: list[Item]) -> None:
    if not items:
        return
    keys = sorted({i.record_key for i in items})
    table = ActivationRecord.__table__
    records = {
        (r.campaign_id, r.citizen_hash): RecordRow(**r._mapping)
        for r in state.session.execute(
            select(
                table.c.id,
                table.c.campaign_id,
                table.c.citizen_hash,
                table.c.org_unit_id,
                table.c.version,
                table.c.state,
            ).where(bulk.pairs_in(table.c.campaign_id, table.c.citizen_hash, keys))
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
            record.state, activation_input_from_item(item), record.version
        )
        record.org_unit_id = Mark.of(record.state["origin"]).org
        item.result["record_version"] = record.version
    _write_records(state, records, new_records)

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
    state.reviews.load(wanted)
    for item in items:
        record = records[item.record_key]
        item.row["record_id"] = item.result["record_id"] = record.id
        for clash in clashes[item.sid]:
            subject = f"record:{record.id}:{clash.field}"
            state.reviews.raise_item(
                item,
                subject,
                "field_conflict",
                record,
                fields={clash.field: {"current": clash.theirs, "incoming": clash.mine}},
            )
    state.load_paths({r.org_unit_id for r in records.values()})
    for key, record in records.items():
        after = activation_contributions(record.state)
        add(state.delta[record.campaign_id], difference(after, before.get(key, Contributions())))
        if has_status_conflict(record.state) and key not in conflicted:
            for item in items:
                if item.record_key == key and item.data["status"] in (
                    "activated",
                    "refused",
                    "ineligible",
                ):
                    state.reviews.raise_item(
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
                        day=Mark.of(record.state["origin"]).day,
                    )
        path = state.paths[record.org_unit_id]
        state.changes.append(journal.Change("activation", str(record.id), path))


def _write_records(state: PushState, records: dict, new: dict[tuple, str]) -> None:
    """New records first (review items and submissions point at their ids), then the
    changed ones, one statement each."""
    table = ActivationRecord.__table__
    now = datetime.now(UTC)
    fresh = [(k, records[k]) for k in new]  # ids in the order the batch names them
    ids = bulk.insert_with_ids(
        state.session,
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
        state.session,
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
