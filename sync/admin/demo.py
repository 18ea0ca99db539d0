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
from sync.admin import campaigns, orgunits
from sync.models import User

PROVINCE = ("BD", "Tỉnh Bình Dương")
CITY = ("BD-TA", "Thành phố Thuận An")
# (code, name, target of activated accounts): targets sized to each ward's population.
WARDS = (
    ("TA-LAITHIEU", "Phường Lái Thiêu", 6000),
    ("TA-ANTHANH", "Phường An Thạnh", 5000),
    ("TA-BINHHOA", "Phường Bình Hòa", 7000),
    ("TA-BINHCHUAN", "Phường Bình Chuẩn", 8000),
    ("TA-THUANGIAO", "Phường Thuận Giao", 7500),
    ("TA-ANPHU", "Phường An Phú", 7000),
    ("TA-HUNGDINH", "Phường Hưng Định", 3500),
    ("TA-BINHNHAM", "Phường Bình Nhâm", 3000),
    ("TA-VINHPHU", "Phường Vĩnh Phú", 4000),
    ("TA-ANSON", "Xã An Sơn", 1500),
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


def is_loaded(session: Session) -> bool:
    return campaigns.get(session, CAMPAIGN[0]) is not None


def load(session: Session) -> list[Credential]:
    """Create the demo org units, campaign, targets and users; returns the passwords made."""
    orgunits.create(session, *PROVINCE, None)
    orgunits.create(session, *CITY, PROVINCE[0])
    for code, name, _ in WARDS:
        orgunits.create(session, code, name, CITY[0])
    campaign = campaigns.create(session, *CAMPAIGN)
    targets = []
    for code, _, activated in WARDS:
        targets += [
            {"org_unit": code, "metric": "accounts_activated", "value": activated},
            {"org_unit": code, "metric": "citizens_reached", "value": round(activated * 1.2)},
            {"org_unit": code, "metric": "households_helped", "value": 4},
            {"org_unit": code, "metric": "gifts_delivered", "value": 10},
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
        make("lead-" + code.removeprefix("TA-").lower(), "lead", (code,))
    for i, username in enumerate(VOLUNTEERS):
        make(username, "volunteer", (WARDS[i % len(WARDS)][0],))
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
