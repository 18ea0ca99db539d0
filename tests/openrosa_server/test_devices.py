"""OpenRosa devices: made by a lead in scope or an admin, the key shown once in the server URL
and stored hashed, ODK Collect's settings QR, revoked with the device, never in a log."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import zlib

import pytest
from collect_kit import is_openrosa_xml, make_device, message
from sqlalchemy import select, text

from sync.models import AuditEntry, Device


def _settings(device) -> dict:
    return json.loads(zlib.decompress(base64.b64decode(device.collect_settings)))


def test_a_lead_makes_a_device_and_collect_gets_its_settings(client, world, session):
    device = make_device(client, world, name="Máy của Lan")
    assert re.fullmatch(r"http://localhost/openrosa/key/[A-Za-z0-9_-]{43}", device.server_url)
    assert _settings(device) == {
        "general": {
            "server_url": device.server_url,
            "form_update_mode": "match_exactly",
            "autosend": "wifi_and_cellular",
        },
        "admin": {},
        "project": {"name": "wardsync: Máy của Lan"},
    }
    stored = session.get(Device, device.device_id)
    assert stored.openrosa_key_hash == hashlib.sha256(device.key.encode()).hexdigest()
    assert [u.code for u in stored.org_units] == ["W1"]
    # The key itself is nowhere in the database: not in a row, not in the audit log.
    with session.bind.connect() as conn:
        for table in ("devices", "audit_log", "token_families"):
            rows = conn.execute(text(f"SELECT * FROM {table}")).all()
            assert device.key not in repr(rows), table
    assert (
        session.scalar(select(AuditEntry.action).where(AuditEntry.target_id == device.device_id))
        == "device.create_openrosa"
    )
    listed = client.get("/api/v1/devices", headers=world.headers("lead-w1")).get_json()["items"]
    assert {d["device_id"]: d["kind"] for d in listed} == {device.device_id: "openrosa"}


def test_the_device_works_until_it_is_revoked(client, world):
    device = make_device(client, world)
    assert client.get(device.base + "/formList").status_code == 200
    revoked = client.delete(f"/api/v1/devices/{device.device_id}", headers=world.headers("lead-w1"))
    assert revoked.status_code == 204
    for method, path in (
        ("GET", "/formList"),
        ("GET", "/forms/gift"),
        ("HEAD", "/submission"),
        ("POST", "/submission"),
    ):
        answer = client.open(device.base + path, method=method)
        assert answer.status_code == 401, (method, path)
        assert answer.headers["X-OpenRosa-Version"] == "1.0"
        if method != "HEAD":
            assert is_openrosa_xml(answer)
            assert "thu hồi" in message(answer)  # "revoked", in Vietnamese


@pytest.mark.parametrize(
    ("lead", "units", "status"),
    [
        ("lead-w1", ["W1"], 201),
        ("lead-c1", ["W1"], 201),
        ("admin", ["W1"], 201),
        ("lead-w3", ["W1"], 403),  # outside the lead's scope
        ("lead-c1", ["W3"], 403),
        ("hq", ["W1"], 403),  # hq reads, it does not hand out devices
        ("vol-w1", ["W1"], 403),
        ("admin", ["W3"], 422),  # outside the volunteer's own units
        ("admin", [], 422),
        ("admin", ["NOPE"], 422),
    ],
)
def test_who_may_make_one(client, world, lead, units, status):
    answer = client.post(
        "/api/v1/devices/openrosa",
        json={"volunteer": "vol-w1", "org_units": units, "name": "Collect"},
        headers=world.headers(lead),
    )
    assert answer.status_code == status, answer.get_json()
    if status >= 400:
        assert answer.content_type == "application/problem+json"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"org_units": ["W1"], "name": "c"}, "volunteer"),
        ({"volunteer": "lead-w1", "org_units": ["W1"], "name": "c"}, "volunteer"),
        ({"volunteer": "vol-w1", "org_units": ["W1"]}, "name"),
        ({"volunteer": "vol-w1", "org_units": ["W1"], "name": ""}, "name"),
        ({"volunteer": "vol-w1", "org_units": ["W1"], "name": "x" * 101}, "name"),
        ({"volunteer": "vol-w1", "org_units": ["W1"], "name": "a\x00b"}, "name"),
        ({"volunteer": "vol-w1", "org_units": "W1", "name": "c"}, "org_units"),
        ({"volunteer": "vol-w1", "org_units": ["W 1"], "name": "c"}, "org_units.0"),
        ({"volunteer": "vol-w1", "org_units": ["W1"], "name": "c", "key": "k"}, "key"),
    ],
)
def test_bad_input_names_the_field(client, world, body, field):
    answer = client.post("/api/v1/devices/openrosa", json=body, headers=world.headers("admin"))
    assert answer.status_code == 422, answer.get_json()
    assert field in answer.get_json()["errors"], answer.get_json()


def test_a_phone_token_cannot_make_one(client, world, phone):
    answer = client.post(
        "/api/v1/devices/openrosa",
        json={"volunteer": "vol-w1", "org_units": ["W1"], "name": "c"},
        headers=phone.headers,
    )
    assert answer.status_code == 403


@pytest.mark.parametrize(
    "key",
    ["", "short", "x" * 43 + "/", "%00" * 20, "a" * 43, "é" * 43, "a" * 65, "../../api"],
)
def test_an_unknown_key_is_401(client, world, key):
    make_device(client, world)
    answer = client.get(f"/openrosa/key/{key}/formList")
    assert answer.headers["X-OpenRosa-Version"] == "1.0"
    if key.endswith("/"):  # "…//formList": werkzeug's redirect to the single-slash path
        assert answer.status_code == 308
        return
    assert answer.status_code in (401, 404), key
    assert is_openrosa_xml(answer)


def test_the_key_never_reaches_the_apps_log(client, world, caplog, monkeypatch):
    """An unexpected error and a database outage are logged with the path: without the key."""
    device = make_device(client, world)
    from server import openrosa

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(openrosa.listings, "form_list", broken)
    with caplog.at_level(logging.INFO):
        answer = client.get(device.base + "/formList")
    assert answer.status_code == 500 and is_openrosa_xml(answer)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "/openrosa/key/[redacted]/formList" in logged
    assert device.key not in logged


def test_the_devices_page_makes_one_and_shows_the_qr_once(app, client, world, session):
    from kit.world import mint_token  # noqa: F401 - the world's users are there already

    page = _page_client(app, session, "lead-w1")
    form = page.get("/devices").get_data(as_text=True)
    assert 'id="collect-form"' in form
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]
    answer = page.post(
        "/devices/openrosa",
        data={"volunteer": "vol-w1", "org_units": "W1", "name": "Collect 1", "csrf_token": token},
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200, html[:500]
    url = re.search(r'<code id="server-url">([^<]+)</code>', html)[1]
    assert "<svg" in html.split('id="new-collect"')[1]
    key = url.rsplit("/", 1)[1]
    assert client.get(f"/openrosa/key/{key}/formList").status_code == 200
    again = page.get("/devices").get_data(as_text=True)
    assert key not in again and "ODK Collect" in again


def test_the_devices_page_refuses_bad_input_naming_the_field(app, session, world):
    page = _page_client(app, session, "lead-w1")
    form = page.get("/devices").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]
    for data, field in (
        ({"volunteer": "vol-w1", "org_units": "W1", "name": ""}, "name"),
        ({"volunteer": "vol-w1", "name": "c"}, "org_units"),
        ({"volunteer": "nobody", "org_units": "W1", "name": "c"}, "volunteer"),
    ):
        answer = page.post("/devices/openrosa", data={**data, "csrf_token": token})
        assert answer.status_code == 302, field
        shown = page.get("/devices").get_data(as_text=True)
        assert f"{field}:" in shown, field
    with session.bind.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM devices")) == 0


def _page_client(app, session, username):
    from server import db
    from server.auth import refresh
    from sync.models import User

    client = app.test_client()
    client.environ_base.update({"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"})
    user_id = session.scalar(select(User.id).where(User.username == username))
    session.close()
    with app.app_context():
        rotation = refresh.start_family(db.session(), user_id, 3600)
        db.session().commit()
    with client.session_transaction() as cookie:
        cookie["uid"], cookie["fam"] = user_id, rotation.family_id
    return client
