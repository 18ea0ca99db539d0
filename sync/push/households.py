"""The household registry: the latest form by clock names the ward, the latest address wins."""

from __future__ import annotations

from sqlalchemy import select

from sync.feed import journal
from sync.models import Household
from sync.push.state import Item, PushState, position
from sync.store import bulk


def upsert(state: PushState, batch: list[Item]) -> None:
    """The registry: the latest form by clock names the ward, the latest address wins.

    A household whose gifts changed (a gift, a void of one) gets a new version too.
    """
    named: dict[str, Item] = {}
    addressed: dict[str, Item] = {}
    for item in batch:
        hid = item.data.get("household_id") if item.form != "void" else None
        if hid is None:
            continue
        if hid not in named or position(item) > position(named[hid]):
            named[hid] = item
        if "household_address" in item.data and (
            hid not in addressed or position(item) > position(addressed[hid])
        ):
            addressed[hid] = item
    wanted = sorted(set(named) | state.gift_households)
    if not wanted:
        return
    table = Household.__table__
    existing = {
        row["id"]: dict(row)
        for row in state.session.execute(select(table).where(table.c.id.in_(wanted))).mappings()
    }
    state.load_paths({h["org_unit_id"] for h in existing.values()})
    new_rows: list[dict] = []
    changed_rows: list[dict] = []
    for hid in wanted:
        household = existing.get(hid)
        if household is None and hid not in named:
            continue  # a void's target from before households were kept: nothing to show
        fresh = household is None
        if fresh:
            household = {"id": hid, "org_unit_id": None, "address": None, "address_hlc": ""}
            household |= {"unit_hlc": "", "version": 0}
        changed = hid in state.gift_households
        if hid in named and position(named[hid]) > household["unit_hlc"]:
            household["org_unit_id"] = named[hid].unit.id
            household["unit_hlc"] = position(named[hid])
            changed = True
        if hid in addressed and position(addressed[hid]) > household["address_hlc"]:
            household["address"] = addressed[hid].data["household_address"]
            household["address_hlc"] = position(addressed[hid])
            changed = True
        if changed:
            household["version"] += 1
            path = state.paths[household["org_unit_id"]]
            state.changes.append(journal.Change("household", hid, path))
        if fresh:
            new_rows.append(household)
        elif changed:
            changed_rows.append(household)
    # Plain rows, not ORM objects: the unit of work sent one UPDATE per household (its
    # changed columns differ from one to the next), a tenth of a 500-form push's time.
    bulk.insert_rows(state.session, table, new_rows)
    bulk.update_rows(state.session, table, "id", changed_rows)
