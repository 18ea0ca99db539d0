"""The downloads the progress page links to: the progress and follow-up exports, reached with
the page's session cookie instead of a token, in the session user's scope only (checked by
the server on every download), refused to anyone else."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from matrix_kit import ROLE, SCOPE, build, citizen, masked

PATHS = ("/api/v1/exports/progress", "/api/v1/exports/follow-ups")
SUBTREE = {"C1": {"W1", "W2"}, "W1": {"W1"}, "W3": {"W3"}}
SESSION_CALLERS = ("admin", "hq", "lead-c1", "lead-w1", "lead-w3", "vol-w1", "anonymous")


@pytest.fixture
def estate(app, client, world, session, engine):
    return build(app, client, world, session, engine)


def _expected(caller: str, unit: str) -> int:
    if ROLE[caller] is None:
        return 401
    if ROLE[caller] == "volunteer":
        return 403
    return 200 if SUBTREE[unit] <= SCOPE[caller] else 403


def _rows(response, fmt: str) -> list[dict]:
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    sheet = openpyxl.load_workbook(io.BytesIO(response.get_data()), read_only=True).active
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    return [dict(zip(header, r, strict=True)) for r in rows]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("path", PATHS)
def test_a_page_session_downloads_within_its_scope_only(estate, path, fmt):
    for caller in SESSION_CALLERS:
        client = estate.page_client(caller)
        for unit in ("C1", "W1", "W3"):
            response = client.get(
                path, query_string={"campaign": "camp", "org_unit": unit, "format": fmt}
            )
            where = (path, fmt, caller, unit)
            assert response.status_code == _expected(caller, unit), where
            if response.status_code != 200:
                assert response.content_type == "application/problem+json", where
                continue
            rows = _rows(response, fmt)
            if path.endswith("progress"):
                assert {r["org_unit"] for r in rows} == {unit} | SUBTREE[unit], where
            else:
                wards = sorted(SUBTREE[unit])
                assert sorted(r["citizen_id"] for r in rows) == sorted(
                    masked(citizen(w, 1)) for w in wards
                ), where


def test_a_bearer_token_beside_the_cookie_is_what_counts(estate):
    """A cookie does not rescue a bad token, nor widen a good one."""
    client = estate.page_client("admin")
    query = {"campaign": "camp", "org_unit": "W1"}
    bad = client.get(PATHS[0], query_string=query, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    narrow = client.get(PATHS[0], query_string=query, headers=estate.bearer("lead-w3"))
    assert narrow.status_code == 403


def test_a_logged_out_session_downloads_nothing(estate):
    client = estate.page_client("lead-w1")
    query = {"campaign": "camp", "org_unit": "W1"}
    assert client.get(PATHS[1], query_string=query).status_code == 200

    login = client.get("/login").get_data(as_text=True)
    token = login.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get(PATHS[1], query_string=query).status_code == 401


def test_session_downloads_are_only_the_pages_own(estate):
    """Only the two downloads the pages link to take a session: the other endpoints still
    want a token."""
    client = estate.page_client("admin")
    for path, query in (
        ("/api/v1/exports/submissions", {"campaign": "camp", "form": "gift"}),
        ("/api/v1/progress", {"campaign": "camp", "org_unit": "W1"}),
        ("/api/v1/conflicts", {"campaign": "camp"}),
    ):
        assert client.get(path, query_string=query).status_code == 401, path
