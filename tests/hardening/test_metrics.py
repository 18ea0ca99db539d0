"""The operator's metrics: only with the operator's token, added up over every gunicorn worker
(multiprocess mode), and equal to what the test itself sent."""

from __future__ import annotations

import uuid

import pytest
import requests
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from server.app import create_app
from sync.accounts import devices
from sync.models import User

TOKEN = "operator-metrics-token-0123456789"


@pytest.fixture
def server_env(server_env):
    return {**server_env, "WARDSYNC_METRICS_TOKEN": TOKEN}


def _samples(base: str) -> dict[tuple[str, frozenset], float]:
    answer = requests.get(
        base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    out = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def _value(samples, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _item(form: str, data: dict, ward: str = "W1") -> dict:
    return {
        "id": str(uuid.uuid4()),
        "form": form,
        "form_version": 1,
        "campaign": "camp",
        "org_unit": ward,
        "recorded_at": "2023-07-29T09:00:00+07:00",
        "data": data,
    }


def _help() -> dict:
    return _item("household_help", {"household_id": str(uuid.uuid4()), "kind": "cleanup"})


def test_metrics_need_the_operator_token(world, live_server):
    url = live_server.base + "/metrics"
    assert requests.get(url, timeout=30).status_code == 401
    wrong = requests.get(url, headers={"Authorization": "Bearer " + "x" * 40}, timeout=30)
    assert wrong.status_code == 401 and "Bearer" in wrong.headers["WWW-Authenticate"]
    assert "wardsync_pushes_total" not in wrong.text


def test_no_token_configured_means_no_metrics(app):
    assert app.test_client().get("/metrics").status_code == 404
    with pytest.raises(ValueError, match="at least"):
        create_app({"DATABASE_URL": "sqlite://", "SECRET_KEY": "s" * 40, "METRICS_TOKEN": "short"})


def test_pushes_pulls_and_exports_add_up_over_the_workers(world, session, live_server, backend):
    admin = session.scalar(select(User).where(User.username == "admin"))
    code = devices.create_code(session, admin, "vol-w1", ["W1"])[0]
    session.commit()
    base = live_server.base
    phone = requests.post(
        base + "/api/v1/devices/enroll", json={"code": code, "name": "p"}, timeout=30
    ).json()
    auth = {"Authorization": f"Bearer {phone['access_token']}"}
    before = _samples(base)

    requests_sent, applied, rejected = 0, 0, 0
    session_ = requests.Session()  # keep-alive and fresh connections both reach the workers
    for n in range(12):
        batch = [_help() for _ in range(n % 4 + 1)]
        if n % 3 == 0:
            batch.append(_item("activation", {"citizen_id": "12", "status": "installed"}))
            rejected += 1
        applied += len(batch) - (n % 3 == 0)
        client = session_ if n % 2 else requests
        answer = client.post(base + "/api/v1/sync/push", json={"submissions": batch},
                             headers=auth, timeout=30)  # fmt: skip
        assert answer.status_code == 200
        requests_sent += 1
    refused = requests.post(base + "/api/v1/sync/push", json={"submissions": []}, timeout=30)
    assert refused.status_code == 401
    pulled = requests.get(base + "/api/v1/sync/pull", headers=auth, timeout=30).json()
    exported = requests.get(
        base + "/api/v1/exports/submissions",
        params={"campaign": "camp", "format": "ndjson"},
        headers={"Authorization": f"Bearer {_hq_key(session)}"},
        timeout=30,
    )
    assert exported.status_code == 200

    after = _samples(base)

    def grew(name, **labels):
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("wardsync_push_items_total", status="applied", form="household_help") == applied
    assert grew("wardsync_push_items_total", status="rejected", form="activation") == rejected
    assert grew("wardsync_pushes_total", path="json", code="200") == requests_sent
    assert grew("wardsync_pushes_total", path="json", code="401") == 1
    assert grew("wardsync_push_batch_size_count") == requests_sent
    assert grew("wardsync_push_batch_size_sum") == applied + rejected
    assert grew("wardsync_push_duration_seconds_count") == requests_sent + 1
    assert grew("wardsync_submissions_stored_total", campaign="camp") == applied
    assert grew("wardsync_pulls_total") == 1
    assert grew("wardsync_pull_changes_total") == len(pulled["changes"]) > 0
    assert grew("wardsync_exports_total", export="submissions", format="ndjson") == 1
    assert grew("wardsync_export_bytes_total", export="submissions", format="ndjson") == len(
        exported.content
    )
    if backend == "postgresql":  # advisory locks are PostgreSQL's; SQLite has one writer
        assert grew("wardsync_lock_wait_seconds_count") >= requests_sent


def test_throttled_logins_are_counted(world, live_server):
    base = live_server.base
    before = _samples(base)
    codes = [
        requests.post(
            base + "/api/v1/auth/login",
            json={"username": "lead-w1", "password": "wrong"},
            timeout=30,
        ).status_code
        for _ in range(12)
    ]
    assert 429 in codes
    after = _samples(base)
    grown = sum(
        value - before.get(key, 0.0)
        for key, value in after.items()
        if key[0] == "wardsync_throttled_total"
    )
    assert grown == codes.count(429)


def test_a_database_outage_counts_its_503s(tmp_path, monkeypatch):
    monkeypatch.setenv("WARDSYNC_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'missing' / 'db.sqlite3'}",
            "SECRET_KEY": "s" * 40,
        }
    )

    def unavailable() -> float:  # the database's own error, or the retries given up on it
        return sum(
            REGISTRY.get_sample_value("wardsync_unavailable_total", {"reason": r}) or 0
            for r in ("database", "busy")
        )

    before = unavailable()
    answer = app.test_client().post("/api/v1/auth/login", json={"username": "a", "password": "b"})
    assert answer.status_code == 503
    assert unavailable() - before == 1


def _hq_key(session) -> str:
    from sync.accounts import api_keys

    _key, secret = api_keys.create(session, "metrics test", [])
    session.commit()
    return secret


@pytest.mark.parametrize("form", [{}, ["gift"], 7, None, "no-such-form"])
def test_a_form_name_of_any_shape_is_counted_as_other_not_a_500(phone, form):
    """The push's log line and metrics read each item's form name before validation: a dict
    or a list there (schemathesis sent ``"form": {}``) is "other", and the item is rejected."""
    before = (
        REGISTRY.get_sample_value(
            "wardsync_push_items_total", {"status": "rejected", "form": "other"}
        )
        or 0
    )
    item = {**_help(), "form": form}
    answer = phone.push([item])
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["results"][0]["status"] == "rejected"
    after = REGISTRY.get_sample_value(
        "wardsync_push_items_total", {"status": "rejected", "form": "other"}
    )
    assert after - before == 1
