"""The per-unit progress table and the follow-up list: small exports a lead downloads for their
subtree.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sync.models import ActivationRecord, Campaign, OrgUnit, Rollup
from sync.progress.metrics import METRICS, SCALE
from sync.progress.targets import effective_targets
from sync.rules.activations import status_of, visible_fields


def progress_rows(session: Session, campaign: Campaign, root: OrgUnit) -> list[dict]:
    """One row per unit of the subtree, the root included: every metric and its target."""
    units = session.scalars(
        select(OrgUnit)
        .where(OrgUnit.path.startswith(root.path, autoescape=True))
        .order_by(OrgUnit.path)
    ).all()
    sums: dict[tuple[int, str], int] = {}
    for unit_id, metric, value in session.execute(
        select(Rollup.org_unit_id, Rollup.metric, func.sum(Rollup.value))
        .join(OrgUnit, OrgUnit.id == Rollup.org_unit_id)
        .where(
            Rollup.campaign_id == campaign.id, OrgUnit.path.startswith(root.path, autoescape=True)
        )
        .group_by(Rollup.org_unit_id, Rollup.metric)
    ):
        sums[(unit_id, metric)] = int(value)
    targets = effective_targets(session, campaign, root)
    rows = []
    for unit in units:
        row = {"org_unit": unit.code, "name": unit.name, "depth": unit.depth}
        for metric in METRICS:
            raw = sums.get((unit.id, metric), 0)
            row[metric] = raw / SCALE[metric] if metric in SCALE else raw
            row[f"{metric}_target"] = targets.get((unit.id, metric))
        rows.append(row)
    return rows


def progress_columns() -> list[str]:
    cols = ["org_unit", "name", "depth"]
    for metric in METRICS:
        cols += [metric, f"{metric}_target"]
    return cols


FOLLOW_UP_COLUMNS = [
    "record_id",
    "citizen_id",
    "org_unit",
    "household_id",
    "household_address",
    "phone_owner",
    "note",
    "since",
]


def follow_ups(session: Session, campaign: Campaign, root: OrgUnit) -> Iterator[dict]:
    query = (
        select(ActivationRecord, OrgUnit.code)
        .join(OrgUnit, OrgUnit.id == ActivationRecord.org_unit_id)
        .where(
            ActivationRecord.campaign_id == campaign.id,
            OrgUnit.path.startswith(root.path, autoescape=True),
        )
        .order_by(OrgUnit.code, ActivationRecord.id)
        .execution_options(yield_per=1000)
    )
    for record, code in session.execute(query):
        if status_of(record.state) != "no_smartphone":
            continue
        fields = visible_fields(record.state)
        since = record.state["first"].get("no_smartphone", record.state["origin"])[2]
        yield {
            "record_id": record.id,
            "citizen_id": record.citizen_masked,
            "org_unit": code,
            "household_id": fields.get("household_id"),
            "household_address": fields.get("household_address"),
            "phone_owner": fields.get("phone_owner"),
            "note": fields.get("note"),
            "since": since,
        }
