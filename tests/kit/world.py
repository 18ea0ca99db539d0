"""A small world every API test starts from: an admin, leads, volunteers and hq users with
tokens, and an enrolled phone."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kit.enrol import Phone, enroll_phone


@dataclass
class World:
    """A province with two cities and three wards, a campaign, and a user of every role.

    ``P`` ─┬─ ``C1`` ─┬─ ``W1``      users: admin, hq, lead-c1 (C1), lead-w1 (W1),
           │          └─ ``W2``             lead-w3 (W3), vol-w1 (W1)
           └─ ``C2`` ─── ``W3``      campaign: ``camp``
    """

    app: object
    tokens: dict[str, str]

    def headers(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}


WORLD_USERS = {
    "admin": ("admin", ()),
    "hq": ("hq", ()),
    "lead-c1": ("lead", ("C1",)),
    "lead-w1": ("lead", ("W1",)),
    "lead-w3": ("lead", ("W3",)),
    "vol-w1": ("volunteer", ("W1",)),
}


def mint_token(app, session, user) -> str:
    """A real access token for ``user``, issued the way login issues it (without argon2 cost)."""
    from server.auth import refresh
    from server.auth.tokens import KeyRing

    rotation = refresh.start_family(session, user.id, app.config["REFRESH_TOKEN_TTL"])
    return KeyRing.from_config(app.config).issue(str(user.id), rotation.family_id)


@pytest.fixture
def world(app, session) -> World:
    from datetime import date

    from sync.accounts import users
    from sync.admin import campaigns, orgunits

    orgunits.create(session, "P", "Province", None)
    orgunits.create(session, "C1", "City One", "P")
    orgunits.create(session, "W1", "Ward One", "C1")
    orgunits.create(session, "W2", "Ward Two", "C1")
    orgunits.create(session, "C2", "City Two", "P")
    orgunits.create(session, "W3", "Ward Three", "C2")
    campaigns.create(session, "camp", "Campaign", date(2023, 7, 29), date(2023, 8, 27))
    tokens = {}
    for username, (role, units) in WORLD_USERS.items():
        user = users.create(session, username, role, units)
        tokens[username] = mint_token(app, session, user)
    session.commit()
    return World(app, tokens)


@pytest.fixture
def phone(client, world) -> Phone:
    return enroll_phone(client, world)
