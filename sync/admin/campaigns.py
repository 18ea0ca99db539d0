"""Campaigns and their per-unit targets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sync.admin import audit, orgunits
from sync.errors import Conflict, Invalid, NotFound
from sync.feed import journal
from sync.models import DEFAULT_TIMEZONE, Campaign, OrgUnit, Target, User
from sync.progress import targets
from sync.progress.metrics import METRICS


def get(session: Session, code: str) -> Campaign | None:
    return session.scalar(select(Campaign).where(Campaign.code == code))


def require(session: Session, code: str) -> Campaign:
    campaign = get(session, code)
    if campaign is None:
        raise NotFound(f"No campaign '{code}'.")
    return campaign


def create(
    session: Session,
    code: str,
    name: str,
    starts_on: date,
    ends_on: date,
    timezone: str | None = None,
    actor: User | None = None,
) -> Campaign:
    timezone = timezone or DEFAULT_TIMEZONE
    errors: dict[str, list[str]] = {}
    if ends_on < starts_on:
        errors["ends_on"] = ["Must not be before starts_on."]
    if not _is_zone(timezone):
        errors["timezone"] = [f"Unknown time zone '{timezone}'."]
    if errors:
        raise Invalid("Invalid campaign.", errors)
    if get(session, code) is not None:
        raise Conflict(f"Campaign '{code}' already exists.", {"code": ["Already exists."]})
    campaign = Campaign(
        code=code, name=name, starts_on=starts_on, ends_on=ends_on, timezone=timezone
    )
    session.add(campaign)
    session.flush()
    audit.record(session, actor, "campaign.create", "campaign", code, name=name)
    journal.publish(session, [journal.Change("campaign", code, None)])
    return campaign


def _is_zone(name: str) -> bool:
    if name not in available_timezones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def set_targets(
    session: Session, campaign: Campaign, items: Sequence[dict], actor: User | None = None
) -> None:
    """Set the listed targets, remove those given as ``None``, leave all others alone.

    Everything is checked before anything is written, so a bad item leaves no partial change.
    """
    errors: dict[str, list[str]] = {}
    codes = {item["org_unit"] for item in items}
    units = {u.code: u for u in orgunits.existing(session, codes)}
    seen: set[tuple[str, str]] = set()
    for i, item in enumerate(items):
        if item["org_unit"] not in units:
            errors[f"{i}.org_unit"] = [f"Unknown org unit '{item['org_unit']}'."]
        if item["metric"] not in METRICS:
            errors[f"{i}.metric"] = [f"Unknown metric '{item['metric']}'."]
        key = (item["org_unit"], item["metric"])
        if key in seen:
            errors[f"{i}.metric"] = ["Listed twice for this org unit."]
        seen.add(key)
    if errors:
        raise Invalid("Invalid targets.", errors)
    for item in items:
        unit = units[item["org_unit"]]
        session.execute(
            delete(Target).where(
                Target.campaign_id == campaign.id,
                Target.org_unit_id == unit.id,
                Target.metric == item["metric"],
            )
        )
        if item["value"] is not None:
            session.add(
                Target(
                    campaign_id=campaign.id,
                    org_unit_id=unit.id,
                    metric=item["metric"],
                    value=item["value"],
                )
            )
    session.flush()
    targets.roll_targets(session, campaign)
    journal.publish(
        session,
        [
            journal.Change(
                "target",
                target_key(campaign.code, item["org_unit"], item["metric"]),
                units[item["org_unit"]].path,
                deleted=item["value"] is None,
            )
            for item in items
        ],
    )
    audit.record(
        session,
        actor,
        "campaign.targets",
        "campaign",
        campaign.code,
        targets=[dict(item) for item in items],
    )


def target_key(campaign_code: str, unit_code: str, metric: str) -> str:
    return f"{campaign_code}|{unit_code}|{metric}"


def all_campaigns(session: Session) -> Sequence[Campaign]:
    return session.scalars(select(Campaign).order_by(Campaign.starts_on, Campaign.code)).all()


def target_rows(session: Session, campaign: Campaign) -> list[dict]:
    """The campaign's own targets as ``{org_unit, metric, value}``, by unit code."""
    rows = session.execute(
        select(OrgUnit.code, Target.metric, Target.value)
        .join(OrgUnit, OrgUnit.id == Target.org_unit_id)
        .where(Target.campaign_id == campaign.id)
        .order_by(OrgUnit.code, Target.metric)
    )
    return [{"org_unit": code, "metric": metric, "value": value} for code, metric, value in rows]
