"""Headquarters' exports: incremental in commit order, masked, integers for money, scoped;
API keys that only export and can be revoked."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pytest

WARDSYNC = str(Path(sys.executable).with_name("wardsync"))


def _sub(form: str, data: dict, minute: int = 0) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "form": form,
        "form_version": 1,
        "campaign": "camp",
        "org_unit": "W1",
        "recorded_at": f"2023-07-29T09:{minute:02d}:00+07:00",
        "data": data,
    }


@pytest.fixture
def key(client, world):
    response = client.post(
        "/api/v1/api-keys",
        json={"name": "Tỉnh đoàn script", "scope": "export"},
        headers=world.headers("admin"),
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _export(client, token, **query):
    """The whole response, read to its end: a streamed export holds its transaction open until
    the stream is consumed or closed (as a WSGI server closes it)."""
    query.setdefault("campaign", "camp")
    response = client.get(
        "/api/v1/exports/submissions",
        query_string=query,
        headers={"Authorization": f"Bearer {token}"},
    )
    response.get_data()
    response.close()
    return response


def _csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_incremental_csv_never_repeats_or_skips(client, world, phone, key):
    household = str(uuid.uuid4())
    first = [
        _sub(
            "activation",
            {
                "citizen_id": f"07910000000{i}",
                "status": "installed",
                "household_address": "12 Nguyễn Trãi, Lái Thiêu",
            },
            i,
        )
        for i in range(3)
    ]
    first.append(
        _sub(
            "gift",
            {
                "household_id": household,
                "gift_kind": "qua-tet",
                "round": "2023-tet",
                "value_vnd": 500000,
            },
            5,
        )
    )
    phone.push(first)
    full = _export(client, key["key"], form="activation", format="csv")
    assert full.status_code == 200
    assert full.mimetype == "text/csv"
    rows = _csv(full)
    assert [r["id"] for r in rows] == [s["id"] for s in first[:3]]
    assert [r["citizen_id"] for r in rows] == ["*********000", "*********001", "*********002"]
    assert rows[0]["household_address"] == "12 Nguyễn Trãi, Lái Thiêu"
    cursor = full.headers["X-Next-Cursor"]

    nothing = _export(client, key["key"], form="activation", format="csv", after=cursor)
    assert nothing.get_data(as_text=True).strip().count("\n") == 0  # the header alone
    assert nothing.headers["X-Next-Cursor"] == cursor

    later = [_sub("activation", {"citizen_id": "079100000009", "status": "activated"}, 9)]
    phone.push(later + first[:1])  # a resend rides along: it is no new row
    more = _export(client, key["key"], form="activation", format="csv", after=cursor)
    assert [r["id"] for r in _csv(more)] == [later[0]["id"]]

    gifts = _export(client, key["key"], form="gift", format="ndjson")
    [gift] = [json.loads(line) for line in gifts.get_data(as_text=True).splitlines()]
    assert gift["value_vnd"] == 500000 and isinstance(gift["value_vnd"], int)


def test_xlsx_has_a_sheet_per_form_with_vietnamese_intact(client, world, phone, key):
    phone.push(
        [
            _sub(
                "activation",
                {
                    "citizen_id": "079100000001",
                    "status": "visited",
                    "note": "Bà Nguyễn Thị Hồng vắng nhà",
                },
            )
        ]
    )
    response = _export(client, key["key"], format="xlsx")
    assert response.status_code == 200
    book = zipfile.ZipFile(io.BytesIO(response.get_data()))
    names = book.namelist()
    workbook = book.read("xl/workbook.xml").decode()
    for form in ("activation", "household_help", "gift", "void"):
        assert f'name="{form}"' in workbook
    text = "".join(book.read(n).decode() for n in names if n.startswith("xl/"))
    assert "Bà Nguyễn Thị Hồng vắng nhà" in text
    assert "079100000001" not in text and "*********001" in text


def test_progress_and_follow_up_exports(client, world, phone, key):
    client.put(
        "/api/v1/campaigns/camp/targets",
        json=[{"org_unit": "W1", "metric": "accounts_activated", "value": 5}],
        headers=world.headers("admin"),
    )
    phone.push(
        [
            _sub(
                "activation",
                {
                    "citizen_id": "079100000001",
                    "status": "no_smartphone",
                    "household_address": "3 Lê Lợi",
                },
            ),
            _sub("activation", {"citizen_id": "079100000002", "status": "activated"}, 1),
        ]
    )
    headers = {"Authorization": f"Bearer {key['key']}"}
    progress = client.get(
        "/api/v1/exports/progress",
        query_string={"campaign": "camp", "org_unit": "C1"},
        headers=headers,
    )
    rows = {r["org_unit"]: r for r in _csv(progress)}
    assert set(rows) == {"C1", "W1", "W2"}
    assert (rows["W1"]["accounts_activated"], rows["W1"]["accounts_activated_target"]) == ("1", "5")
    assert (rows["C1"]["citizens_reached"], rows["C1"]["accounts_activated_target"]) == ("2", "5")
    follow = client.get(
        "/api/v1/exports/follow-ups",
        query_string={"campaign": "camp", "org_unit": "P"},
        headers=headers,
    )
    [person] = _csv(follow)
    assert (person["citizen_id"], person["household_address"]) == ("*********001", "3 Lê Lợi")
    xlsx = client.get(
        "/api/v1/exports/progress",
        query_string={"campaign": "camp", "org_unit": "C1", "format": "xlsx"},
        headers=headers,
    )
    assert zipfile.ZipFile(io.BytesIO(xlsx.get_data())).testzip() is None


def test_keys_export_only_within_their_units_and_can_be_revoked(client, world, phone, key):
    phone.push([_sub("activation", {"citizen_id": "079100000001", "status": "visited"})])
    scoped = client.post(
        "/api/v1/api-keys",
        json={"name": "W3 only", "scope": "export", "org_units": ["W3"]},
        headers=world.headers("admin"),
    ).get_json()
    assert _csv(_export(client, scoped["key"], form="activation")) == []
    assert _export(client, scoped["key"], form="activation", org_unit="W1").status_code == 403
    assert len(_csv(_export(client, key["key"], form="activation"))) == 1
    other = client.get("/api/v1/org-units", headers={"Authorization": f"Bearer {key['key']}"})
    assert other.status_code == 403
    assert (
        client.delete(f"/api/v1/api-keys/{key['id']}", headers=world.headers("admin")).status_code
        == 204
    )
    assert _export(client, key["key"], form="activation").status_code == 401
    forged = key["key"][:-3] + "abc"
    assert _export(client, forged, form="activation").status_code == 401


@pytest.mark.parametrize(
    ("who", "unit", "status"),
    [
        ("admin", "P", 200),
        ("hq", "P", 200),
        ("lead-w1", "W1", 200),
        ("lead-w1", "C1", 403),
        ("lead-w3", "W1", 403),
        ("vol-w1", "W1", 403),
        (None, "W1", 401),
    ],
)
def test_who_may_export(client, world, who, unit, status):
    response = client.get(
        "/api/v1/exports/submissions",
        query_string={"campaign": "camp", "org_unit": unit, "form": "gift"},
        headers=world.headers(who),
    )
    response.get_data()
    response.close()
    assert response.status_code == status


def test_bad_export_requests(client, world, key):
    headers = {"Authorization": f"Bearer {key['key']}"}
    no_form = client.get(
        "/api/v1/exports/submissions", query_string={"campaign": "camp"}, headers=headers
    )
    assert no_form.status_code == 422 and "form" in no_form.get_json()["errors"]
    bad_cursor = _export(client, key["key"], form="gift", after="not-a-cursor")
    assert bad_cursor.status_code == 400
    assert _export(client, key["key"], campaign="nope", form="gift").status_code == 404
    assert (
        client.post(
            "/api/v1/api-keys", json={"name": "x", "scope": "write"}, headers=world.headers("admin")
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/api/v1/api-keys", json={"name": "x", "scope": "export"}, headers=world.headers("hq")
        ).status_code
        == 403
    )


def test_cli_makes_a_working_key(client, world, db_url, instance_dir):
    env = {
        **os.environ,
        "WARDSYNC_DATABASE_URL": db_url,
        "WARDSYNC_INSTANCE_PATH": str(instance_dir),
    }
    made = subprocess.run(
        [WARDSYNC, "api-key", "create", "hq-script", "--scope", "export", "--org-unit", "C1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip().rsplit(" ", 1)[1]
    assert _export(client, secret, form="gift", org_unit="W1").status_code == 200
    assert _export(client, secret, form="gift", org_unit="W3").status_code == 403
