"""The CSV export holds what the phones sent (read back with the csv module alone), and on
PostgreSQL, where ``COPY … TO STDOUT`` writes it, it is byte for byte the CSV the Python
writer makes from the same rows, whatever the values hold."""

from __future__ import annotations

import csv
import io
import random
import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.accounts.scope import Scope
from sync.exports import formats, submissions
from sync.exports.pg_copy import crlf
from sync.feed import positions
from sync.models import Campaign

NOTES = [
    'Nhà "cô Tư", hẻm 5',  # quotes and a comma
    "Hai dòng\nđổ bê tông",  # a newline inside a value
    '""',  # only quotes
    "  spaces around  ",
    "Cuối, cùng\n",
    "\\. and \\N",  # COPY's own markers
]


def _help(n: int, note: str | None, microsecond: int) -> dict:
    data = {
        "household_id": str(uuid.UUID(int=n + 1)),
        "kind": "yard_concrete",
        "quantity": [12.5, 3, 0.25][n % 3],
        "unit": "m2",
        "volunteers": 2,
        "hours": 1.5,
    }
    if note is not None:
        data["note"] = note
    return {
        "id": str(uuid.uuid4()),
        "form": "household_help",
        "form_version": 1,
        "campaign": "camp",
        "org_unit": "W1",
        "recorded_at": f"2023-07-29T09:{n % 60:02d}:05.{microsecond:06d}+07:00",
        "data": data,
    }


def test_the_export_csv_is_the_python_writers_csv_byte_for_byte(
    client, world, phone, engine, backend
):
    batch = [_help(n, (NOTES + [None])[n % 7], [0, 123456, 500][n % 3]) for n in range(40)]
    answer = phone.push(batch)
    assert [r["status"] for r in answer.get_json()["results"]] == ["applied"] * 40, (
        answer.get_json()
    )
    void = {
        "id": str(uuid.uuid4()),
        "form": "void",
        "form_version": 1,
        "campaign": "camp",
        "org_unit": "W1",
        "recorded_at": "2023-07-29T10:00:00+07:00",
        "data": {"target": batch[0]["id"], "reason": "nhập trùng"},
    }
    assert phone.push([void]).status_code == 200

    def served(who: str, **query) -> str:
        response = client.get(
            "/api/v1/exports/submissions",
            query_string={"campaign": "camp", "form": "household_help", "format": "csv", **query},
            headers=world.headers(who),
        )
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        response.close()
        return body

    with Session(engine) as session:
        campaign = session.scalar(select(Campaign))
        rows = submissions.submissions(
            session,
            campaign,
            Scope(everything=True),
            None,
            "household_help",
            positions.Position(),
            positions.Position(2**62, 0),
        )
        expected = "".join(formats.csv_lines(submissions.columns("household_help"), rows))
    # What was served says what the phone sent, read back by the csv module alone: this half
    # does not lean on the export's own writer, so it holds on SQLite too.
    rows = list(csv.DictReader(io.StringIO(served("hq"), newline="")))
    assert [r["id"] for r in rows] == [b["id"] for b in batch]
    for row, body in zip(rows, batch, strict=True):
        data = body["data"]
        assert row["note"] == data.get("note", "").strip()  # the server strips blanks
        assert (row["kind"], row["unit"], row["org_unit"]) == ("yard_concrete", "m2", "W1")
        assert float(row["quantity"]) == data["quantity"] and float(row["hours"]) == 1.5
        assert int(row["volunteers"]) == 2 and row["result"] == "applied"
        assert datetime.fromisoformat(row["recorded_at"]) == datetime.fromisoformat(
            body["recorded_at"]
        )
        assert row["voided"] == ("True" if body is batch[0] else "False")
    # Byte for byte the Python writer's CSV (on PostgreSQL, COPY wrote it): for everything
    # (hq), a subtree within a lead's scope, and a scope with nothing.
    assert served("hq") == expected
    assert served("lead-c1", org_unit="C1") == expected
    assert served("lead-c1", org_unit="W2") == expected.split("\r\n")[0] + "\r\n"
    assert expected.count("\r\n") >= 41 and ",True," in expected  # the void shows


def test_line_ends_change_only_between_records_wherever_the_chunks_split():
    text = b'a,"x\ny",1\n"q""\n",b\n,,\n"\n"\n' * 3
    whole, _ = crlf(text, True)
    assert whole == b'a,"x\ny",1\r\n"q""\n",b\r\n,,\r\n"\n"\r\n' * 3
    rnd = random.Random(3)
    for _ in range(200):
        cuts = sorted(rnd.sample(range(1, len(text)), 4))
        pieces, outside = [], True
        for start, end in zip([0, *cuts], [*cuts, len(text)], strict=True):
            piece, outside = crlf(text[start:end], outside)
            pieces.append(piece)
        assert b"".join(pieces) == whole and outside
