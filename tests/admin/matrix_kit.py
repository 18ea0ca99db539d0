"""An estate for the authorization matrix: data in three wards, and a caller of every kind.

Each ward (W1, W2 under C1; W3 under C2) has its own phone, a citizen on the follow-up list,
a citizen both activated and refused (a status conflict), a help event and a gift delivered
twice (a suspected double). Callers: anonymous, a user of each role with a token (and, for the
pages, a session), a W1 phone, an export key for everything and one for W3 only.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from kit.enrol import Phone, enroll_phone
from sqlalchemy import select, text

from sync.accounts import api_keys, users
from sync.models import Base, User

WARDS = ("W1", "W2", "W3")
ALL = frozenset(WARDS)
CALLERS = (
    "anonymous",
    "admin",
    "hq",
    "lead-c1",
    "lead-w1",
    "lead-w3",
    "vol-w1",
    "phone-w1",
    "key-all",
    "key-w3",
)
ROLE = {
    "anonymous": None,
    "admin": "admin",
    "hq": "hq",
    "lead-c1": "lead",
    "lead-w1": "lead",
    "lead-w3": "lead",
    "vol-w1": "volunteer",
    "phone-w1": "device",
    "key-all": "key",
    "key-w3": "key",
}
SCOPE = {
    "anonymous": frozenset(),
    "admin": ALL,
    "hq": ALL,
    "lead-c1": frozenset({"W1", "W2"}),
    "lead-w1": frozenset({"W1"}),
    "lead-w3": frozenset({"W3"}),
    "vol-w1": frozenset({"W1"}),
    "phone-w1": frozenset({"W1"}),
    "key-all": ALL,
    "key-w3": frozenset({"W3"}),
}
WARD_NAMES = {"W1": "Ward One", "W2": "Ward Two", "W3": "Ward Three"}


def citizen(ward: str, n: int) -> str:
    return f"0791000000{WARDS.index(ward) + 1}{n}"  # the last three digits tell them apart


def masked(citizen_id: str) -> str:
    return "*********" + citizen_id[-3:]


@dataclass
class WardData:
    device_id: str
    submissions: dict[str, list[str]] = field(default_factory=dict)  # form -> ids
    records: list[int] = field(default_factory=list)
    items: dict[str, int] = field(default_factory=dict)  # review kind -> item id


@dataclass
class Estate:
    app: object
    client: object
    world: object
    engine: object
    phones: dict[str, Phone]
    wards: dict[str, WardData]
    keys: dict[str, tuple[int, str]]  # caller -> (key id, secret)

    # -- asking as someone ----------------------------------------------------------------

    def bearer(self, caller: str) -> dict:
        if caller == "anonymous":
            return {}
        if caller == "phone-w1":
            return self.phones["W1"].headers
        if caller.startswith("key-"):
            return {"Authorization": f"Bearer {self.keys[caller][1]}"}
        return self.world.headers(caller)

    def api(self, caller: str, method: str, path: str, **kwargs):
        return self.client.open(path, method=method, headers=self.bearer(caller), **kwargs)

    def page_client(self, caller: str):
        """A browser of its own for ``caller``: a session if a user, a bearer header (which
        the pages ignore) if a phone or a key. HTTPS, as the session cookie is Secure."""
        client = self.app.test_client()
        client.environ_base.update({"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"})
        if ROLE[caller] in ("admin", "hq", "lead", "volunteer"):
            from server.auth import refresh

            with self.engine.begin() as conn:
                user_id = conn.scalar(select(User.id).where(User.username == caller))
            with self.app.app_context():
                from server import db

                rotation = refresh.start_family(db.session(), user_id, 3600)
                db.session().commit()
                db.session().close()
            with client.session_transaction() as cookie:
                cookie["uid"], cookie["fam"] = user_id, rotation.family_id
        elif caller != "anonymous":
            auth = self.bearer(caller)["Authorization"]
            client.environ_base["HTTP_AUTHORIZATION"] = auth
        return client

    def page(self, caller: str, method: str, path: str, form: dict | None = None, **kwargs):
        """The page request, made ready (session, CSRF token) but not sent: call it."""
        client = self.page_client(caller)
        if method != "POST":
            return lambda: client.open(path, method=method, **kwargs)
        login = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', login)[1]
        return lambda: client.post(path, data={**(form or {}), "csrf_token": token}, **kwargs)

    # -- what the database holds ------------------------------------------------------------

    def snapshot(self) -> dict[str, list]:
        """Every row of every table, to show that a refused call wrote nothing."""
        with self.engine.connect() as conn:
            return {
                table.name: sorted(map(repr, conn.execute(select(table)).all()))
                for table in Base.metadata.sorted_tables
            }

    def scalar(self, sql: str, **params):
        with self.engine.connect() as conn:
            return conn.scalar(text(sql), params)


def _submission(ward: str, form: str, data: dict, minute: int) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "form": form,
        "form_version": 1,
        "campaign": "camp",
        "org_unit": ward,
        "recorded_at": f"2023-07-29T09:{minute:02d}:00+07:00",
        "data": data,
    }


def build(app, client, world, session, engine, wards=WARDS) -> Estate:
    built = wards
    for ward in ("W2", "W3"):
        users.create(session, f"vol-{ward.lower()}", "volunteer", [ward])
    keys = {}
    for caller, units in (("key-all", []), ("key-w3", ["W3"])):
        key, secret = api_keys.create(session, caller, units)
        keys[caller] = (key.id, secret)
    session.commit()
    session.close()
    phones, wards = {}, {}
    for ward in built:
        phones[ward] = phone = enroll_phone(client, world, f"vol-{ward.lower()}", (ward,), "admin")
        household = str(uuid.uuid5(uuid.NAMESPACE_URL, ward))
        gift = {"household_id": household, "gift_kind": "rice", "round": "2023-tet"}
        forms = [
            ("activation", {"citizen_id": citizen(ward, 1), "status": "no_smartphone"}),
            ("activation", {"citizen_id": citizen(ward, 2), "status": "activated"}),
            ("activation", {"citizen_id": citizen(ward, 2), "status": "refused"}),
            ("household_help", {"household_id": household, "kind": "cleanup", "hours": 2}),
            ("gift", {**gift, "value_vnd": 300_000}),
            ("gift", {**gift, "value_vnd": 300_000}),
        ]
        batch = [_submission(ward, f, d, minute) for minute, (f, d) in enumerate(forms)]
        answer = phone.push(batch)
        assert answer.status_code == 200, answer.get_json()
        data = WardData(phone.device_id)
        for body, result in zip(batch, answer.get_json()["results"], strict=True):
            assert result["status"] in ("applied", "conflict"), result
            data.submissions.setdefault(body["form"], []).append(body["id"])
            if "record_id" in result and result["record_id"] not in data.records:
                data.records.append(result["record_id"])
        wards[ward] = data
    listed = client.get(
        "/api/v1/conflicts", query_string={"campaign": "camp"}, headers=world.headers("admin")
    ).get_json()["items"]
    for item in listed:
        wards[item["org_unit"]].items[item["kind"]] = item["id"]
    for ward in built:
        assert set(wards[ward].items) == {"status_conflict", "suspected_double"}, listed
    return Estate(app, client, world, engine, phones, wards, keys)


def set_passwords(estate: Estate, password: str) -> None:
    """Give every user of the world one password (one argon2 hash, for speed)."""
    from sync.accounts.passwords import hash_password

    with estate.engine.begin() as conn:
        conn.execute(text("UPDATE users SET password_hash = :h"), {"h": hash_password(password)})


def refresh_token(estate: Estate, caller: str) -> str:
    """A live refresh token of ``caller``'s own (a user's new session, or the phone's)."""
    if caller == "phone-w1":
        return estate.phones["W1"].refresh_token
    from server import db
    from server.auth import refresh

    with estate.engine.connect() as conn:
        user_id = conn.scalar(select(User.id).where(User.username == caller))
    with estate.app.app_context():
        rotation = refresh.start_family(db.session(), user_id, 3600)
        db.session().commit()
        db.session().close()
    return rotation.refresh_token
