"""What an operator reads: one JSON object per log line, every line of a request carrying its
request id (the phone's own X-Request-ID when it sent one), one line per push with counts,
and never a token, a password or a citizen id."""

from __future__ import annotations

import json
import uuid

import requests
from kit.live import wait_for
from sqlalchemy import select

from sync.accounts import devices
from sync.models import User

CITIZEN = "079203001234"


def _lines_once(server) -> list[dict]:
    text = server.log_path.read_text()
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"a log line that is not JSON: {line!r}") from None
    return parsed


def _lines(server, request_id: str | None = None) -> list[dict]:
    """The log's lines, once the access line of ``request_id`` is among them: gunicorn writes
    that line after the answer has gone, so it may come a moment after the client has it."""
    if request_id is None:
        return _lines_once(server)
    return wait_for(
        lambda: (
            (lines := _lines_once(server))
            and any(
                line.get("request_id") == request_id and line["logger"] == "gunicorn.access"
                for line in lines
            )
            and lines
        ),
        timeout=30,
        what=f"the access line of {request_id}",
    )


def _phone(session, live_server) -> dict:
    admin = session.scalar(select(User).where(User.username == "admin"))
    code = devices.create_code(session, admin, "vol-w1", ["W1"])[0]
    session.commit()
    answer = requests.post(
        live_server.base + "/api/v1/devices/enroll",
        json={"code": code, "name": "phone"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def _push(live_server, token: str, items: list[dict], request_id: str | None = None):
    headers = {"Authorization": f"Bearer {token}"}
    if request_id:
        headers["X-Request-ID"] = request_id
    return requests.post(
        live_server.base + "/api/v1/sync/push",
        json={"submissions": items},
        headers=headers,
        timeout=30,
    )


def _item(form: str, data: dict) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "form": form,
        "form_version": 1,
        "campaign": "camp",
        "org_unit": "W1",
        "recorded_at": "2023-07-29T09:00:00+07:00",
        "data": data,
    }


def test_a_push_is_one_line_found_by_its_request_id(world, session, live_server):
    phone = _phone(session, live_server)
    items = [
        _item("activation", {"citizen_id": CITIZEN, "status": "installed"}),
        _item("household_help", {"household_id": str(uuid.uuid4()), "kind": "cleanup"}),
        _item("activation", {"citizen_id": "12", "status": "installed"}),  # rejected
    ]
    sent_id = "phone-7f3a-retry-0001"
    answer = _push(live_server, phone["access_token"], items, sent_id)
    assert answer.status_code == 200
    assert answer.headers["X-Request-ID"] == sent_id

    lines = _lines(live_server, sent_id)
    mine = [line for line in lines if line.get("request_id") == sent_id]
    push = [line for line in mine if line.get("event") == "push"]
    assert len(push) == 1, mine
    assert push[0]["device"] == phone["device_id"]
    assert push[0]["statuses"] == {"applied": 2, "rejected": 1}
    assert push[0]["forms"] == {"activation": 2, "household_help": 1}
    assert push[0]["status"] == 200 and push[0]["duration_ms"] > 0
    access = [line for line in mine if line["logger"] == "gunicorn.access"]
    assert len(access) == 1 and access[0]["path"] == "/api/v1/sync/push"
    assert access[0]["status"] == 200

    text = live_server.log_path.read_text()
    for secret in (CITIZEN, phone["access_token"], phone["refresh_token"]):
        assert secret not in text


def test_a_request_without_a_sane_id_gets_one_of_its_own(world, session, live_server):
    phone = _phone(session, live_server)
    made = _push(live_server, phone["access_token"], [])
    bad = _push(live_server, phone["access_token"], [], request_id="has spaces; and=more")
    ids = {made.headers["X-Request-ID"], bad.headers["X-Request-ID"]}
    assert len(ids) == 2 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    logged = {line.get("request_id") for line in _lines(live_server)}
    assert ids <= logged


def test_a_refused_push_has_its_line_too(world, session, live_server):
    answer = requests.post(
        live_server.base + "/api/v1/sync/push",
        json={"submissions": []},
        headers={"Authorization": "Bearer not-a-token", "X-Request-ID": "refused-push-0001"},
        timeout=30,
    )
    assert answer.status_code == 401
    push = [
        line
        for line in _lines(live_server)
        if line.get("request_id") == "refused-push-0001" and line.get("event") == "push"
    ]
    assert [p["status"] for p in push] == [401]
    assert "not-a-token" not in live_server.log_path.read_text()
