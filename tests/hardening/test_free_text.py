"""A citizen id typed into free text (a note, a reason, an address) is masked at rest as citizen
ids are: nowhere in the database, in any table, is the 12-digit number kept in clear."""

from __future__ import annotations

import uuid

import pytest
from kit.enrol import enroll_phone
from sqlalchemy import select

from sync.models import Base, Submission

AT = "2023-07-29T09:15:00+07:00"
WALL = 1_690_596_900_000
IDS = ["001203004005", "079123456789", "038099001122", "046200334455", "001188776655"]


def envelope(form: str, data: dict, minute: int, **extra) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "form": form,
        "form_version": 1,
        "campaign": "camp",
        "org_unit": "W1",
        "recorded_at": AT,
        "hlc": f"{WALL + minute * 60_000}:0:p",
        "data": data,
        **extra,
    }


def everything_stored(engine) -> str:
    """Every value of every row of every table, as text."""
    parts = []
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(select(table)):
                parts.extend(str(value) for value in row)
    return "\n".join(parts)


@pytest.mark.parametrize(
    "typed, kept",
    [
        ("cccd 001203004005", "cccd *********005"),
        ("số 0012 0300 4005 nhé", "số *********005 nhé"),
        ("0012-0300-4005", "*********005"),
        ("0901234567 gọi lại", "0901234567 gọi lại"),  # a phone number: 10 digits, kept
        ("mã 1234567890123456", "mã *************456"),
    ],
)
def test_long_numbers_keep_their_last_three_digits(typed, kept):
    from sync.text import mask_numbers

    assert mask_numbers(typed) == kept


def test_no_typed_citizen_id_is_kept_in_clear_anywhere(client, world, engine, session):
    first = enroll_phone(client, world)
    second = enroll_phone(client, world)
    household = str(uuid.uuid4())
    citizen = "079000000001"
    gift = envelope(
        "gift",
        {
            "household_id": household,
            "household_address": f"nhà bà Lan, CCCD {IDS[0]}",
            "gift_kind": "rice",
            "round": "2023-tet",
            "donor": f"anh {IDS[1]}",
            "note": f"đã nhận, cccd {IDS[2]}",
        },
        0,
    )
    answers = first.push(
        [
            envelope(
                "activation",
                {"citizen_id": citizen, "status": "installed", "note": f"cmnd cũ {IDS[3]}"},
                1,
            ),
            envelope(
                "household_help",
                {"household_id": household, "kind": "cleanup", "note": f"số {IDS[0]}"},
                2,
            ),
            gift,
        ]
    ).get_json()["results"]
    assert [a["status"] for a in answers] == ["applied"] * 3
    record_id = answers[0]["record_id"]
    # Another phone, which had not seen the first note, writes a different one: a field
    # conflict whose review item holds both notes.
    conflict = second.push(
        [
            envelope(
                "activation",
                {"citizen_id": citizen, "status": "installed", "note": f"cccd {IDS[4]}"},
                3,
                base_version=0,
            )
        ]
    ).get_json()["results"][0]
    assert conflict["status"] == "conflict"
    first.push([envelope("void", {"target": gift["id"], "reason": f"trùng, cccd {IDS[1]}"}, 4)])
    corrected = client.post(
        f"/api/v1/records/{record_id}/correct",
        json={
            "values": {"status": "visited", "note": f"sửa {IDS[2]}"},
            "reason": f"khách đọc nhầm số {IDS[3]}",
        },
        headers=world.headers("lead-w1"),
    )
    assert corrected.status_code == 200, corrected.get_json()

    stored = everything_stored(engine)
    for number in IDS + [citizen]:
        assert number not in stored, number
    assert f"*********{IDS[0][-3:]}" in stored
    kept = session.scalar(select(Submission).where(Submission.id == gift["id"]))
    session.close()
    assert kept.data["note"] == f"đã nhận, cccd *********{IDS[2][-3:]}"
    assert kept.data["donor"] == f"anh *********{IDS[1][-3:]}"

    pulled = first.pull().get_json()["changes"]
    assert not any(number in str(pulled) for number in IDS)
    export = client.get(
        "/api/v1/exports/submissions",
        query_string={"campaign": "camp", "form": "gift", "format": "csv"},
        headers=world.headers("admin"),
    )
    assert export.status_code == 200
    text = export.get_data(as_text=True)
    assert "*********" in text and not any(number in text for number in IDS)
