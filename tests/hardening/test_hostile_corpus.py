"""A corpus of hostile input (invalid Unicode, control characters, nesting, sizes, numbers, wrong
shapes) sent to every route of a real server, with an admin's token and a phone's: every request
gets an answer, none is a 5xx, every error is problem+json, and the server logs no crash."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date

import pytest
import requests
from kit.databases import TEST_SECRET
from kit.live import ServerProcess

from server.app import create_app
from server.auth import refresh
from server.auth.tokens import KeyRing
from sync.accounts import devices, users
from sync.admin import campaigns, orgunits
from sync.db import make_engine, make_session_factory

AT = "2023-07-29T09:15:00+07:00"

BODIES: list[tuple[str, bytes]] = [
    ("invalid utf-8", b'{"name": "\xff\xfe"}'),
    ("overlong utf-8", b'{"name": "\xc0\xaf"}'),
    ("cesu-8 surrogate", b'{"name": "\xed\xa0\x80"}'),
    ("truncated utf-8", b'{"name": "\xe1\x80"}'),
    ("lone surrogate escape", b'{"name": "\\ud800", "code": "\\udfff"}'),
    ("surrogate key", b'{"\\ud800": 1}'),
    ("nul", b'{"name": "a\\u0000b", "username": "\\u0000"}'),
    ("c1 control", b'{"name": "a\\u0085b", "reason": "\\u009b"}'),
    ("deep nesting", b"[" * 50_000 + b"]" * 50_000),
    ("deep objects", b'{"a":' * 20_000 + b"1" + b"}" * 20_000),
    ("huge integer", b'{"value": ' + b"9" * 5000 + b"}"),
    ("huge exponent", b'{"value": 1e999, "count": -1e999}'),
    ("tiny exponent", b'{"value": 1e-400}'),
    ("nan", b'{"value": NaN}'),
    ("many keys", json.dumps({f"k{i}": i for i in range(20_000)}).encode()),
    ("long array", json.dumps(list(range(100_000))).encode()),
    ("long string", json.dumps({"name": "x" * 1_000_000}).encode()),
    ("empty", b""),
    ("null", b"null"),
    ("array", b"[]"),
    ("string", b'"hello"'),
    ("number", b"42"),
    ("true", b"true"),
    ("bom", b'\xef\xbb\xbf{"name": "x"}'),
    ("trailing garbage", b'{"name": "x"} x'),
    ("duplicate keys", b'{"name": "a", "name": "b"}'),
    (
        "wrong types",
        json.dumps(
            {
                "name": 1,
                "code": [],
                "username": {},
                "password": None,
                "values": "x",
                "confirm": "yes",
                "org_units": "W1",
                "submissions": [None, 1, "x", [], {"id": {}}],
            }
        ).encode(),
    ),
    (
        "push items",
        json.dumps(
            {
                "submissions": [
                    {
                        "id": str(uuid.uuid4()),
                        "form": "gift",
                        "form_version": 2**70,
                        "campaign": "camp",
                        "org_unit": "W1",
                        "recorded_at": "9999-12-31T23:59:59-23:59",
                        "data": {},
                    },
                    {
                        "id": str(uuid.uuid4()),
                        "form": "activation",
                        "form_version": 1,
                        "campaign": "camp",
                        "org_unit": "W1",
                        "recorded_at": AT,
                        "hlc": "99999999999999999999:1:x",
                        "base_version": -1,
                        "data": {"citizen_id": "١٢٣٤٥٦٧٨٩٠١٢", "status": "activated"},
                    },
                    {
                        "id": str(uuid.uuid4()),
                        "form": "gift",
                        "form_version": 1,
                        "campaign": "camp",
                        "org_unit": "W1",
                        "recorded_at": "0001-01-01T00:00:00+14:00",
                        "data": {
                            "household_id": str(uuid.uuid4()),
                            "gift_kind": "a" * 65,
                            "round": "r",
                            "value_vnd": 10**30,
                            "count": 1.5,
                        },
                    },
                ]
            }
        ).encode(),
    ),
]
QUERIES = [
    "campaign=%ED%A0%80",
    "org_unit=%FF%FE",
    "cursor=%00",
    "limit=99999999999999999999999",
    "limit=-1&limit=2",
    "after=" + "9" * 5000,
    "format=xlsx&form=%C2%85",
    "parent=" + "x" * 10_000,
    "status=open&campaign=camp&org_unit=P&daily=%E2%80%AE",
]


def concrete(rule: str) -> str:
    return re.sub(r"<(?:int:)?[^>]+>", lambda m: "1" if "int:" in m[0] else "abc%00", rule)


def routes() -> list[tuple[str, str]]:
    app = create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET, "DATABASE_URL": "sqlite://"})
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, concrete(rule.rule)))
    app.extensions["wardsync.engine"].dispose()
    return found


@pytest.fixture(scope="module")
def hostile_server(database, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("hostile")
    url = database.fresh_url()
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        orgunits.create(session, "P", "Province", None)
        orgunits.create(session, "W1", "Ward", "P")
        campaigns.create(session, "camp", "Campaign", date(2023, 7, 29), date(2023, 8, 27))
        admin = users.create(session, "admin", "admin", [])
        users.create(session, "vol", "volunteer", ["W1"])
        code, _ = devices.create_code(session, admin, "vol", ["W1"])
        session.commit()
    engine.dispose()
    env = {
        "WARDSYNC_DATABASE_URL": url,
        "WARDSYNC_SECRET_KEY": TEST_SECRET,
        "WARDSYNC_INSTANCE_PATH": str(workdir / "instance"),
    }
    server = ServerProcess(env, workdir / "server.log", workers=2)
    server.start()
    enrolled = requests.post(
        server.base + "/api/v1/devices/enroll", json={"code": code, "name": "p"}, timeout=30
    ).json()
    app = create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET, "DATABASE_URL": url})
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        rotation = refresh.start_family(session, admin.id, 3600)
        session.commit()
    engine.dispose()
    admin_token = KeyRing.from_config(app.config).issue(str(admin.id), rotation.family_id)
    app.extensions["wardsync.engine"].dispose()
    yield server, {"admin": admin_token, "device": enrolled["access_token"]}
    server.stop()


def check(response: requests.Response, what: str) -> None:
    assert response.status_code < 500, (what, response.status_code, response.text[:300])
    gunicorn_refused = response.headers.get("Content-Type") == "text/html" and (
        response.status_code in (400, 414, 431)  # a request line or header gunicorn refuses
    )
    if "/openrosa/" in response.url and not gunicorn_refused:  # Collect's: OpenRosa's XML
        assert response.headers.get("X-OpenRosa-Version") == "1.0", (what, response.status_code)
        if response.status_code >= 400:
            assert response.headers["Content-Type"] == "text/xml; charset=utf-8", what
            assert "<OpenRosaResponse" in response.text, what
        return
    if response.status_code >= 400:
        assert response.headers["Content-Type"].startswith(
            ("application/problem+json", "text/html")
        ), what
        if response.headers["Content-Type"] == "application/problem+json":
            assert response.json()["status"] == response.status_code, what


@pytest.mark.parametrize("who", ["admin", "device"])
def test_every_route_survives_the_corpus(hostile_server, who):
    server, tokens = hostile_server
    headers = {"Authorization": f"Bearer {tokens[who]}"}
    sent = 0
    with requests.Session() as client:
        for method, path in routes():
            if path.startswith("/static/"):
                continue
            url = server.base + path
            for query in QUERIES:
                response = client.request(method, f"{url}?{query}", headers=headers, timeout=60)
                check(response, f"{method} {path}?{query[:40]}")
                sent += 1
            if method not in ("POST", "PUT", "DELETE"):
                continue
            for name, body in BODIES:
                for content_type in ("application/json", "application/json; charset=utf-8"):
                    response = client.request(
                        method,
                        url,
                        data=body,
                        headers={**headers, "Content-Type": content_type},
                        timeout=60,
                    )
                    check(response, f"{method} {path} {name} {content_type}")
                    sent += 1
    assert sent > 500
    log = server.log_path.read_text()
    assert "Traceback" not in log, log[-3000:]
