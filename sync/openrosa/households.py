"""The device's households as the CSV file a form's manifest offers ODK Collect.

Collect works offline, so it cannot ask the server which households exist: a form made with
``Choices(..., households=True)`` picks ``household_id`` from this file instead (searched by
address, limited to the ward chosen in the form), fills in the address of the one picked, and
warns before a second gift of the same kind in the same round, as the phone app does. The file
is one of the form's media files (``listings.manifest``); Collect downloads it again when its hash
changes, and the form itself, whose hash does not depend on the households, stays as it is.

Columns: ``name`` (the household's uuid, the choice's value), ``label`` (what the volunteer
reads: the address), ``org_unit`` (the ward's code, for the filter), ``address`` and ``gifts``
(``|kind:round|kind:round|``, codes holding neither ``|`` nor ``:``). The first row is the
choice of a new household.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.accounts.scope import Scope
from sync.feed.pull import household_gifts
from sync.forms.fields import CODE_PATTERN
from sync.models import Household, OrgUnit
from sync.openrosa.xmlchars import replaced

FILE = "households.csv"
INSTANCE = "households"  # the secondary instance's id in the XForm
NEW = "new"  # the value of the new household's row
NEW_LABEL = "+ Hộ mới / New household"
SEP = "|"
COLUMNS = ("name", "label", "org_unit", "address", "gifts")
BREAKS = re.compile(r"[\t\r\n]+")
CHUNK = 5000  # households per query of their gifts


@dataclass(frozen=True)
class HouseholdRow:
    household_id: str
    org_unit: str  # the ward's code
    address: str | None
    gifts: tuple[tuple[str, str], ...] = ()  # (gift_kind, round) of the gifts it has had


def rows_for(session: Session, scope: Scope) -> list[HouseholdRow]:
    """The households of a device's scope, each with the gifts it has had (the phone app's
    pull says the same: groups that are not void, the canonical gift's kind and round), in
    two queries per ``CHUNK`` households."""
    listed = session.execute(
        select(Household.id, Household.address, OrgUnit.code)
        .join(OrgUnit, OrgUnit.id == Household.org_unit_id)
        .where(scope.filter(OrgUnit.path))
        .order_by(Household.id)
    ).all()
    gifts: dict[str, list[dict]] = {}
    for start in range(0, len(listed), CHUNK):
        ids = [row.id for row in listed[start : start + CHUNK]]
        gifts.update(household_gifts(session, ids))
    return [
        HouseholdRow(
            household_id=row.id,
            org_unit=row.code,
            address=row.address,
            gifts=tuple((g["gift_kind"], g["round"]) for g in gifts.get(row.id, ())),
        )
        for row in listed
    ]


def households_csv(rows: Iterable[HouseholdRow]) -> bytes:
    """The households file (UTF-8, a header row, the new household's row first, then the
    households by ward and address, so the same households always give the same bytes).

    Addresses are written on one line and with what XML cannot carry replaced (Collect reads
    the file into an XML instance); the same address twice in a ward gets the start of each
    household's id after it, so the volunteer can tell them apart."""
    cleaned = []
    for row in rows:
        hid = str(uuid.UUID(row.household_id))
        if not CODE_PATTERN.match(row.org_unit):
            raise ValueError(f"{row.org_unit!r} is not a ward code")
        for code in (c for pair in row.gifts for c in pair):
            if not CODE_PATTERN.match(code):
                raise ValueError(f"{code!r} is not a gift code")
        address = _one_line(row.address or "")
        gifts = sorted(set(row.gifts))
        given = SEP + SEP.join(f"{kind}:{rnd}" for kind, rnd in gifts) + SEP if gifts else ""
        cleaned.append((row.org_unit, address, hid, given))
    cleaned.sort()
    seen = Counter((unit, address) for unit, address, _, _ in cleaned)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerow((NEW, NEW_LABEL, "", "", ""))
    for unit, address, hid, given in cleaned:
        label = address or f"({hid[:8]})"
        if address and seen[(unit, address)] > 1:
            label = f"{address} ({hid[:8]})"
        writer.writerow((hid, label, unit, address, given))
    return out.getvalue().encode("utf-8")


def _one_line(text: str) -> str:
    return BREAKS.sub(" ", replaced(text)).strip()
