"""Server bugs the chaos suite found, each now fixed and kept as a small deterministic
regression test (they were first pinned as strict xfails):

1. The same batch arriving several times at once (a phone that gave up waiting resends while
   the slow network still delivers the first copy) must be answered 200 every time, each form
   new in exactly one answer and ``duplicate`` in the others. On PostgreSQL the pushes that
   lose the race fail in ``sync.store.bulk.insert_rows`` (``COPY submissions``) with
   ``psycopg.errors.UniqueViolation``: the COPY goes through the raw psycopg cursor, so the
   driver's exception arrives unwrapped, ``server.transaction`` (which reruns SQLAlchemy's
   ``IntegrityError``) lets it through and ``server.errors`` answers 500. Nothing is lost or
   counted twice (the loser rolls back), but the contract promises no 500, and
   ``wardsync-client`` treats a 500 as final: its sync stops with an error. Fixed:
   ``server.transaction`` reruns psycopg's own integrity and operational errors too.
2. A push whose commit fails (here: SQLite on a full disk) answers 503 and stores nothing, yet
   ``wardsync_submissions_stored_total`` and ``wardsync_push_items_total{status="applied"}``
   count its forms, and its log line says ``push 503: N forms, N applied``:
   ``server.request_log.note_push`` notes the view's results before ``@transaction`` commits,
   and a failed commit does not take them back. Fixed: only a success's results are counted.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timedelta

import pytest
import requests
from chaos_runner import (
    CAMPAIGN,
    VN,
    _fill,
    _truncate_wal,
    build_world,
    server_env,
    sqlite_on,
    stored_metric,
)
from kit.live import ServerProcess
from sqlalchemy import func, select

from migrations import api as migrations_api
from sync.db import make_engine
from sync.models import Submission

COPIES = 8
ROUNDS = 3  # each round of the eight copies met the bug 3 to 7 times when it was found


def _batch(n: int, count: int = 20) -> list[dict]:
    at = (datetime.now(VN) - timedelta(minutes=1)).isoformat()
    household = str(uuid.uuid4())
    forms = []
    for i in range(count):
        if i % 3 == 0:
            form, data = "activation", {"citizen_id": f"1{n:03d}{i:08d}", "status": "installed"}
        elif i % 3 == 1:
            form, data = "gift", {"household_id": household, "gift_kind": "rice", "round": "r1"}
        else:
            form, data = "household_help", {"household_id": household, "kind": "cleanup"}
        envelope = {"campaign": CAMPAIGN, "org_unit": "W1", "recorded_at": at}
        forms.append(
            {"id": str(uuid.uuid4()), "form": form, "form_version": 1, **envelope, "data": data}
        )
    return forms


def _serve_one_phone(url: str, tmp_path) -> tuple[ServerProcess, dict]:
    (code, _ward), *_ = build_world(url, 1)
    server = ServerProcess(server_env(url, tmp_path), tmp_path / "server.log", workers=2)
    server.start()
    enrolled = requests.post(
        server.base + "/api/v1/devices/enroll", json={"code": code, "name": "p"}, timeout=60
    )
    return server, {"Authorization": f"Bearer {enrolled.json()['access_token']}"}


@pytest.mark.timeout(300)
def test_one_batch_arriving_several_times_at_once(request, db_url, backend, tmp_path):
    server, phone = _serve_one_phone(db_url, tmp_path)
    try:
        problems = []
        for n in range(ROUNDS):
            batch = _batch(n)
            barrier = threading.Barrier(COPIES)
            answers: list = [None] * COPIES

            def send(i: int, batch=batch, barrier=barrier, answers=answers) -> None:
                barrier.wait(timeout=60)
                answers[i] = requests.post(
                    server.base + "/api/v1/sync/push",
                    json={"submissions": batch},
                    headers=phone,
                    timeout=120,
                )

            threads = [threading.Thread(target=send, args=(i,)) for i in range(COPIES)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=180)
            statuses = sorted(a.status_code for a in answers)
            if any(s != 200 for s in statuses):
                problems.append(f"round {n}: statuses {statuses}")
                continue
            new = {f["id"]: 0 for f in batch}
            for answer in answers:
                for result in answer.json()["results"]:
                    if result["status"] in ("applied", "conflict"):
                        new[result["id"]] += 1
                    elif result["status"] != "duplicate":
                        problems.append(f"round {n}: {result}")
            if set(new.values()) != {1}:
                problems.append(f"round {n}: times answered new {sorted(set(new.values()))}")
        assert not problems, problems
    finally:
        server.stop()


@pytest.mark.timeout(300)
def test_a_push_refused_at_commit_is_not_counted_as_stored(tmpfs, tmp_path):
    disk = tmpfs(16)
    url = sqlite_on(disk)
    migrations_api.upgrade(url)
    server, phone = _serve_one_phone(url, tmp_path)
    filler = disk / "filler"
    try:
        first = requests.post(
            server.base + "/api/v1/sync/push",
            json={"submissions": _batch(0)},
            headers=phone,
            timeout=60,
        )
        assert first.status_code == 200
        _truncate_wal(disk / "wardsync.sqlite3")
        _fill(filler)
        refused = None
        for n in range(1, 200):  # until the write-ahead log can grow no more
            answer = requests.post(
                server.base + "/api/v1/sync/push",
                json={"submissions": _batch(n, 50)},
                headers=phone,
                timeout=60,
            )
            assert answer.status_code in (200, 503), answer.text
            if answer.status_code == 503:
                refused = answer
                break
        assert refused is not None, "the full disk refused no push"
        assert int(refused.headers["Retry-After"]) > 0
        filler.unlink()
        engine = make_engine(url)
        with engine.connect() as connection:
            stored = connection.scalar(select(func.count()).select_from(Submission))
        engine.dispose()
        lines = [
            json.loads(line)
            for line in (tmp_path / "server.log").read_text().splitlines()
            if '"event": "push"' in line
        ]
        problems = [
            f"logged: {line['msg']}"
            for line in lines
            if line["status"] == 503 and {"applied", "conflict"} & set(line["statuses"])
        ]
        if (counted := stored_metric(server.base)) != stored:
            problems.append(f"wardsync_submissions_stored_total {counted} for {stored} stored")
        assert not problems, problems
    finally:
        filler.unlink(missing_ok=True)
        server.stop()
