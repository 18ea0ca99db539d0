"""Requests the push endpoint refuses as a whole: nothing of them is ever stored."""

from __future__ import annotations

import json

from push_kit import count, household_help, new_id, submission_count

from sync.models import Counter, FeedEntry

PROBLEM = "application/problem+json"
PUSH = "/api/v1/sync/push"


def valid_batch(n: int) -> list[dict]:
    return [household_help(new_id(), minute=i % 600) for i in range(n)]


def feed_rows(session) -> int:
    return count(session, FeedEntry)


def assert_refused(response, status: int, session, feed_before: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail"} <= set(body)
    assert "results" not in body
    assert submission_count(session) == 0
    assert count(session, Counter) == 0
    assert feed_rows(session) == feed_before
    return body


def test_more_than_1000_submissions_is_413(phone, session):
    before = feed_rows(session)
    response = phone.push(valid_batch(1001))
    assert_refused(response, 413, session, before)


def test_exactly_1000_submissions_is_taken(phone, session):
    response = phone.push(valid_batch(1000))
    assert response.status_code == 200
    assert len(response.get_json()["results"]) == 1000
    assert submission_count(session) == 1000


def test_a_body_over_5_mib_is_413(client, phone, session):
    before = feed_rows(session)
    body = json.dumps({"submissions": valid_batch(2)})
    padded = body[:-1] + " " * (5 * 1024 * 1024) + "}"  # still valid JSON
    response = client.post(
        PUSH, data=padded, content_type="application/json", headers=phone.headers
    )
    assert_refused(response, 413, session, before)

    # Just under the limit, the same batch goes through.
    fits = body[:-1] + " " * (5 * 1024 * 1024 - len(body) - 1) + "}"
    assert len(fits.encode()) <= 5 * 1024 * 1024
    ok = client.post(PUSH, data=fits, content_type="application/json", headers=phone.headers)
    assert ok.status_code == 200
    assert submission_count(session) == 2


MALFORMED = {
    "truncated": '{"submissions": [',
    "single quotes": "{'submissions': []}",
    "trailing": '{"submissions": []} trailing',
    "empty": "",
    "not utf-8": b'{"submissions": ["\xff\xfe"]}',
    "nested deep": "[" * 100_000 + "]" * 100_000,
}


def test_malformed_json_is_400(client, phone, session):
    before = feed_rows(session)
    for what, raw in MALFORMED.items():
        response = client.post(
            PUSH, data=raw, content_type="application/json", headers=phone.headers
        )
        assert response.status_code == 400, what
        assert_refused(response, 400, session, before)


def test_a_body_that_is_not_json_is_415(client, phone, session):
    before = feed_rows(session)
    body = json.dumps({"submissions": valid_batch(1)})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        response = client.post(PUSH, data=body, content_type=content_type, headers=phone.headers)
        assert_refused(response, 415, session, before)
    missing = client.post(PUSH, data=body, headers=phone.headers)
    assert_refused(missing, 415, session, before)


def test_without_a_valid_token_is_401(client, phone, session):
    before = feed_rows(session)
    for headers in (
        None,
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not.a.jwt"},
        {"Authorization": "Basic dm9sLXcxOnNlY3JldA=="},
        {"Authorization": phone.access_token},  # no scheme
    ):
        response = client.post(PUSH, json={"submissions": valid_batch(1)}, headers=headers)
        assert response.status_code == 401, headers
        body = assert_refused(response, 401, session, before)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert body["title"] == "Unauthorized"


def test_a_tampered_token_is_401(client, phone, session):
    header, payload, signature = phone.access_token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    before = feed_rows(session)
    response = client.post(
        PUSH,
        json={"submissions": valid_batch(1)},
        headers={"Authorization": f"Bearer {header}.{payload}.{flipped}"},
    )
    assert_refused(response, 401, session, before)


WRONG_SHAPES = [
    # (body, the error path)
    ({"submissions": "x"}, "submissions"),
    ({"submissions": {"0": {}}}, "submissions"),
    ({"submissions": None}, "submissions"),
    ({}, "submissions"),
    ([], "submissions"),
    ("submissions", "submissions"),
    ({"submissions": "BATCH", "device": "x"}, "device"),
    ({"submissions": "BATCH", "extra": 1, "more": 2}, "extra"),
]


def test_a_body_of_the_wrong_shape_is_422(client, phone, session):
    before = feed_rows(session)
    for body, path in WRONG_SHAPES:
        if isinstance(body, dict) and body.get("submissions") == "BATCH":
            body = {**body, "submissions": valid_batch(1)}  # good items, refused with the body
        response = client.post(PUSH, json=body, headers=phone.headers)
        assert response.status_code == 422, body
        problem = assert_refused(response, 422, session, before)
        assert path in problem["errors"], body
        assert all(isinstance(v, list) and v for v in problem["errors"].values())


def test_an_empty_batch_is_an_empty_answer(phone, session):
    response = phone.push([])
    assert response.status_code == 200
    assert response.get_json()["results"] == []
    assert submission_count(session) == 0
