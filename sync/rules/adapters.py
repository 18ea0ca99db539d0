"""Rows and pipeline items turned into the rules' inputs: one adapter per input kind, shared by the
push path, the lead's actions and verify, so all three feed the rules the same values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sync.push.state import Item

from decimal import Decimal

from sync.models import (
    Correction,
    Submission,
)
from sync.rules.activations import (
    LWW_FIELDS,
    ActivationInput,
    Mark,
)
from sync.rules.events import Event


def activation_input_from_row(row: Submission) -> ActivationInput:
    data = row.data
    return ActivationInput(
        sid=row.id,
        hlc=row.hlc,
        device=row.device_id,
        day=row.day.isoformat(),
        org=row.org_unit_id,
        status=data["status"],
        fields={k: data[k] for k in LWW_FIELDS if k in data},
        base_version=row.base_version,
    )


def correction_mark(correction: Correction, org: int) -> Mark:
    return Mark(correction.hlc, f"correction:{correction.id}", correction.day.isoformat(), org)


def activation_input_from_item(item: Item) -> ActivationInput:
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


def event_from_item(item: Item) -> Event:
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
