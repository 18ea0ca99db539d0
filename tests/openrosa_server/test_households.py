"""Households for Collect (issue 13 item 4): each form's manifest offers the device's
households as ``households.csv``, so Collect picks one by its address offline and warns before
a second gift of a kind in a round. Only the device's wards; the file's hash changes with the
households and their gifts, the form's does not."""

from __future__ import annotations

import csv
import hashlib
import io

import defusedxml.ElementTree as defused
from collect_kit import FORMS_NS, instance, is_openrosa_xml, make_device, new_id, submit
from kit.enrol import enroll_phone

MANIFEST_NS = "{http://openrosa.org/xforms/xformsManifest}"
H1 = "1f0c1a52-0b0e-4c3a-9d65-0a3e0b6f7a11"
H3 = "3f0c1a52-0b0e-4c3a-9d65-0a3e0b6f7a33"


def _md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data, usedforsecurity=False).hexdigest()


def _manifest(client, device, form="gift"):
    listed = client.get(device.base + "/formList")
    entry = next(
        x for x in defused.fromstring(listed.data) if x.find(f"{FORMS_NS}formID").text == form
    )
    url = entry.find(f"{FORMS_NS}manifestUrl").text
    assert url == device.server_url + f"/forms/{form}/manifest"
    answer = client.get(url.removeprefix("http://localhost"))
    assert answer.status_code == 200 and is_openrosa_xml(answer)
    [media] = defused.fromstring(answer.data)
    return {
        "filename": media.find(f"{MANIFEST_NS}filename").text,
        "hash": media.find(f"{MANIFEST_NS}hash").text,
        "url": media.find(f"{MANIFEST_NS}downloadUrl").text,
        "form_hash": entry.find(f"{FORMS_NS}hash").text,
    }


def _rows(client, url) -> list[dict]:
    answer = client.get(url.removeprefix("http://localhost"))
    assert answer.status_code == 200
    assert answer.content_type == "text/csv; charset=utf-8"
    assert answer.headers["X-OpenRosa-Version"] == "1.0"
    return list(csv.DictReader(io.StringIO(answer.get_data(as_text=True)))), answer.data


def test_the_manifest_offers_the_wards_households_with_their_gifts(client, world):
    collect = make_device(client, world)
    before = _manifest(client, collect)
    assert before["filename"] == "households.csv"
    rows, data = _rows(client, before["url"])
    assert [r["name"] for r in rows] == ["new"]  # only the new household's row so far
    assert before["hash"] == _md5(data)

    sid = new_id()
    gift = {
        "campaign": "camp",
        "org_unit": "W1",
        "household_id": H1,
        "household_address": "5 Lê Lợi",
        "gift_kind": "rice",
        "round": "2023-tet",
    }
    assert (
        submit(
            client, collect, instance(client, collect, "gift", gift, instance_id=sid)
        ).status_code
        == 201
    )
    after = _manifest(client, collect)
    assert after["hash"] != before["hash"]
    assert after["form_hash"] == before["form_hash"]  # the form itself is unchanged
    rows, data = _rows(client, after["url"])
    assert after["hash"] == _md5(data)
    assert rows[1] == {
        "name": H1,
        "label": "5 Lê Lợi",
        "org_unit": "W1",
        "address": "5 Lê Lợi",
        "gifts": "|rice:2023-tet|",
    }


def test_only_the_devices_wards(client, world, session):
    from sync.accounts import users

    users.create(session, "vol-w3", "volunteer", ["W3"])
    session.commit()
    far = enroll_phone(client, world, "vol-w3", ("W3",), "admin")
    pushed = far.push(
        [
            {
                "id": new_id(),
                "form": "household_help",
                "form_version": 1,
                "campaign": "camp",
                "org_unit": "W3",
                "recorded_at": "2023-07-29T09:15:00+07:00",
                "data": {"household_id": H3, "household_address": "9 Xa", "kind": "cleanup"},
            }
        ]
    )
    assert pushed.get_json()["results"][0]["status"] == "applied"
    collect = make_device(client, world)
    rows, _ = _rows(client, _manifest(client, collect, "household_help")["url"])
    assert H3 not in {r["name"] for r in rows}
    far_collect = make_device(client, world, lead="admin", volunteer="vol-w3", units=("W3",))
    rows, _ = _rows(client, _manifest(client, far_collect, "activation")["url"])
    assert H3 in {r["name"] for r in rows}


def test_unknown_files_and_forms_are_404_in_xml(client, world):
    collect = make_device(client, world)
    for path in (
        "/forms/gift/media/secrets.csv",
        "/forms/void/manifest",
        "/forms/nope/media/households.csv",
    ):
        answer = client.get(collect.base + path)
        assert answer.status_code == 404 and is_openrosa_xml(answer), path
    revoked = client.delete(f"/api/v1/devices/{collect.device_id}", headers=world.headers("admin"))
    assert revoked.status_code == 204
    assert client.get(collect.base + "/forms/gift/manifest").status_code == 401
    assert client.get(collect.base + "/forms/gift/media/households.csv").status_code == 401
