"""A full disk is named as such: the push is refused whole with a 503 that says the disk is
full (and a longer Retry-After than a busy server's), the log line says so for the operator,
and once there is room the same push is stored."""

from __future__ import annotations

import logging
import uuid

import psycopg
import pytest
from sqlalchemy import event, func, select, text

from server.errors import disk_full
from sync.models import Submission


def _help(note: str) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "form": "household_help",
        "form_version": 1,
        "campaign": "camp",
        "org_unit": "W1",
        "recorded_at": "2023-07-29T09:15:00+07:00",
        "data": {"household_id": str(uuid.uuid4()), "kind": "sanitation", "note": note},
    }


def test_a_push_onto_a_full_disk_is_a_503_that_says_so(app, phone, session, backend, caplog):
    if backend != "sqlite":
        pytest.skip(
            "SQLite's limit on its file's pages fills its disk on demand; PostgreSQL's "
            "disk_full (53100) is checked below without a disk to fill"
        )
    engine = app.extensions["wardsync.engine"]
    pages = session.scalar(text("PRAGMA page_count"))
    session.close()
    limit = {"pages": pages + 4}  # room for a few pages more, not for the batch below

    @event.listens_for(engine, "connect")
    def _small_disk(dbapi_connection, _record):
        dbapi_connection.execute(f"PRAGMA max_page_count = {limit['pages']}")

    engine.dispose()  # new connections, each with the limit
    batch = [_help("Nhà cần sửa mái, " * 25) for _ in range(200)]
    with caplog.at_level(logging.ERROR, logger="server.errors"):
        answer = phone.push(batch)
    assert answer.status_code == 503, answer.get_data(as_text=True)
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert "disk is full" in answer.get_json()["detail"]
    assert answer.headers["Retry-After"] == "30"
    [line] = [r for r in caplog.records if getattr(r, "event", None) == "disk_full"]
    assert "/api/v1/sync/push" in line.getMessage()
    assert session.scalar(select(func.count()).select_from(Submission)) == 0

    limit["pages"] = 1_000_000  # the operator made room
    engine.dispose()
    again = phone.push(batch)
    assert again.status_code == 200
    assert {r["status"] for r in again.get_json()["results"]} == {"applied"}
    session.close()
    assert session.scalar(select(func.count()).select_from(Submission)) == len(batch)


def test_postgresqls_disk_full_is_recognised():
    assert disk_full(psycopg.errors.DiskFull("could not extend file: No space left on device"))
    assert not disk_full(psycopg.errors.SerializationFailure("could not serialize access"))
