"""Engine-level fixtures: a campaign with wards and two enrolled devices, no HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import delete

from sync.accounts import users
from sync.accounts.scope import Scope
from sync.admin import campaigns, orgunits
from sync.models import (
    ActivationRecord,
    Counter,
    Device,
    DeviceTally,
    FeedEntry,
    Household,
    ReviewItem,
    Rollup,
    Submission,
    TokenFamily,
)
from sync.push.state import DeviceContext

CITIZEN_KEY = "test-citizen-key"


@pytest.fixture
def citizen_key() -> str:
    return CITIZEN_KEY


@dataclass
class Field:
    devices: list[DeviceContext]
    unit_ids: dict[str, int]


@pytest.fixture
def field_setup(session) -> Field:
    orgunits.create(session, "P", "Province", None)
    orgunits.create(session, "W1", "Ward One", "P")
    orgunits.create(session, "W2", "Ward Two", "P")
    campaigns.create(session, "camp", "Campaign", date(2023, 7, 29), date(2023, 8, 27))
    volunteer = users.create(session, "vol", "volunteer", ["P"])
    devices = []
    for name in ("dev-a", "dev-b"):
        family = TokenFamily(id=f"fam-{name}", user_id=volunteer.id)
        session.add(family)
        session.flush()
        device = Device(
            id=name,
            user_id=volunteer.id,
            family_id=family.id,
            name=name,
            org_units=list(volunteer.org_units),
        )
        session.add(device)
        devices.append(DeviceContext(name, volunteer.id, Scope.of_units(volunteer.org_units)))
    session.commit()
    units = {u.code: u.id for u in volunteer.org_units}
    return Field(devices, units)


@pytest.fixture
def forget_submissions(session):
    """Forget every submission and what was derived from it (the setup stays)."""

    def forget() -> None:
        for model in (
            Submission,
            ReviewItem,
            ActivationRecord,
            Household,
            Counter,
            Rollup,
            DeviceTally,
        ):
            session.execute(delete(model))
        session.execute(delete(FeedEntry).where(FeedEntry.entity.in_(["activation", "household"])))
        session.commit()

    return forget
