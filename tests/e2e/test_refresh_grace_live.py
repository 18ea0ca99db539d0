"""The grace window on a real server with several workers: a phone that sends its refresh (or
its enrolment) again while the first is still running, or right after losing the answer, is
answered by whichever worker gets it, from what the database holds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import select

from sync.models import Device, TokenFamily


def _post(url: str, body: dict) -> requests.Response:
    return requests.post(url, json=body, timeout=30)


def test_concurrent_retries_of_a_refresh_or_an_enrolment_work_and_revoke_nothing(
    live_server, client, world, phone, engine
):
    url = live_server.base + "/api/v1/auth/refresh"
    with ThreadPoolExecutor(6) as pool:
        answers = list(
            pool.map(lambda _: _post(url, {"refresh_token": phone.refresh_token}), range(6))
        )
    assert [a.status_code for a in answers] == [200] * 6
    with engine.connect() as conn:
        family = conn.scalar(select(Device.family_id).where(Device.id == phone.device_id))
        revoked = select(TokenFamily.revoked_at).where(TokenFamily.id == family)
        assert conn.scalar(revoked) is None
    # Each answer's pair works; the phone carries on with whichever it kept.
    kept = answers[3].json()
    pulled = requests.get(
        live_server.base + "/api/v1/sync/pull",
        headers={"Authorization": f"Bearer {kept['access_token']}"},
        timeout=30,
    )
    assert pulled.status_code == 200
    assert _post(url, {"refresh_token": kept["refresh_token"]}).status_code == 200
    # Now that a later token was used, the first one is a thief's.
    assert _post(url, {"refresh_token": phone.refresh_token}).status_code == 401

    # (One server start for both halves: starting gunicorn is most of this test's time.)
    code = client.post(
        "/api/v1/enrollment-codes",
        json={"volunteer": "vol-w1", "org_units": ["W1"]},
        headers=world.headers("lead-w1"),
    ).get_json()["code"]
    url = live_server.base + "/api/v1/devices/enroll"
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: _post(url, {"code": code, "name": "Lan"}), range(4)))
    assert [a.status_code for a in answers] == [201] * 4
    assert len({a.json()["device_id"] for a in answers}) == 1
    with engine.connect() as conn:
        assert len(conn.execute(select(Device.id)).all()) == 2  # the fixture's phone and this
