"""The demo campaign: Thuận An city's "60 days and nights" VNeID drive of 2023.

Taken from the articles the project comes from: Bình Dương's police youth union sent weekend
waves of volunteers into Thuận An's 10 wards and communes to help citizens install and activate
level-2 electronic-identity accounts, and helped poor households and delivered gifts besides.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.accounts import devices, users
from sync.admin import audit, campaigns, orgunits
from sync.models import User

PROVINCE = ("BD", "Tỉnh Bình Dương")
CITY = ("BD-TA", "Thành phố Thuận An")
# (code, name, target of accounts activated on the volunteers' weekends): sized to each ward's
# population, a fifth of what the ward's police aimed at over the whole sixty days. The month's
# volunteers are shared out by these too.
WARDS = (
    ("TA-LAITHIEU", "Phường Lái Thiêu", 1200),
    ("TA-ANTHANH", "Phường An Thạnh", 1000),
    ("TA-BINHHOA", "Phường Bình Hòa", 1400),
    ("TA-BINHCHUAN", "Phường Bình Chuẩn", 1600),
    ("TA-THUANGIAO", "Phường Thuận Giao", 1500),
    ("TA-ANPHU", "Phường An Phú", 1400),
    ("TA-HUNGDINH", "Phường Hưng Định", 700),
    ("TA-BINHNHAM", "Phường Bình Nhâm", 600),
    ("TA-VINHPHU", "Phường Vĩnh Phú", 800),
    ("TA-ANSON", "Xã An Sơn", 300),
)
CAMPAIGN = (
    "vneid-2023",
    "60 ngày đêm kích hoạt định danh điện tử",
    date(2023, 7, 29),
    date(2023, 8, 27),
)
VOLUNTEERS = ("tnv-an", "tnv-binh", "tnv-chi", "tnv-dung", "tnv-giang", "tnv-hanh")


@dataclass(frozen=True)
class Credential:
    username: str
    role: str
    password: str
    org_units: tuple[str, ...]


LOAD_ACTION = "demo.load"  # in the audit log, with the month the campaign is to get, if any


def ward_lead(ward: str) -> str:
    return "lead-" + ward.removeprefix("TA-").lower()


def is_loaded(session: Session) -> bool:
    return campaigns.get(session, CAMPAIGN[0]) is not None


def load(session: Session, month: dict | None = None) -> list[Credential]:
    """Create the demo org units, campaign, targets and users; returns the passwords made.

    ``month``: the ``month.plan`` arguments of the forms the campaign is to get (the loader
    sends them), recorded with it so that an interrupted load can go on; None: none."""
    orgunits.create(session, *PROVINCE, None)
    orgunits.create(session, *CITY, PROVINCE[0])
    for code, name, _ in WARDS:
        orgunits.create(session, code, name, CITY[0])
    campaign = campaigns.create(session, *CAMPAIGN)
    targets = []
    for code, _, activated in WARDS:
        targets += [
            {"org_unit": code, "metric": "accounts_activated", "value": activated},
            {"org_unit": code, "metric": "citizens_reached", "value": activated * 2},
            {"org_unit": code, "metric": "households_helped", "value": activated // 100},
            {"org_unit": code, "metric": "gifts_delivered", "value": activated // 10},
        ]
    campaigns.set_targets(session, campaign, targets)

    made: list[Credential] = []

    def make(username: str, role: str, units: tuple[str, ...]) -> None:
        password = secrets.token_urlsafe(12)
        users.create(session, username, role, units, password=password)
        made.append(Credential(username, role, password, units))

    make("admin", "admin", ())
    make("hq-binhduong", "hq", ())
    make("lead-city", "lead", (CITY[0],))
    for code, _, _ in WARDS:
        make(ward_lead(code), "lead", (code,))
    for i, username in enumerate(VOLUNTEERS):
        make(username, "volunteer", (WARDS[i % len(WARDS)][0],))
    audit.record(session, None, LOAD_ACTION, "campaign", campaign.code, month=month)
    return made


def enrolment_codes(session: Session) -> list[tuple[str, str, str]]:
    """A fresh one-use enrolment code per demo volunteer, issued by the demo admin: codes are
    spent by enrolling and expire in a day, so every run of the demo prints new ones.
    Returns (volunteer, ward, code)."""
    admin = session.scalar(select(User).where(User.username == "admin"))
    issued = []
    for i, username in enumerate(VOLUNTEERS):
        ward = WARDS[i % len(WARDS)][0]
        code, _ = devices.create_code(session, admin, username, [ward])
        issued.append((username, ward, code))
    return issued
