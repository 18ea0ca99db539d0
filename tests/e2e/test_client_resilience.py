"""The client library where the network and the clock misbehave: downloads cut short, a crash
between an export file and its cursor, expired access tokens. (A server asking to wait, and
every other retry path, is in test_client_faults.py, against the real server.)"""

from __future__ import annotations

import csv
import json

import pytest
import requests
from kit.live import ServerProcess, wait_for
from sqlalchemy import select
from wardsync_client import (
    AuthError,
    Connection,
    DeviceStore,
    ExportStateError,
    IncrementalExport,
    Tokens,
    connect,
    enroll,
    sync_device,
)

from sync.accounts import api_keys, devices
from sync.models import User


def _phone(session, tmp_path, base: str) -> DeviceStore:
    admin = session.scalar(select(User).where(User.username == "admin"))
    code, _ = devices.create_code(session, admin, "vol-w1", ["W1"])
    session.commit()
    session.close()
    store = DeviceStore(tmp_path / "phone.sqlite3")
    enroll(store, base, code, "phone")
    return store


def _record_helps(store: DeviceStore, n: int, note: str = "") -> list[str]:
    return [
        store.record(
            "household_help",
            "camp",
            "W1",
            {
                "household_id": f"00000000-0000-4000-8000-{i:012d}",
                "kind": "sanitation",
                "note": note or f"Hộ số {i}, hẻm 12\nnhà vệ sinh mới",
            },
        )
        for i in range(n)
    ]


def _expired(server: ServerProcess, access_token: str) -> None:
    """Wait until the server itself refuses the access token (its one-second life is over)."""
    headers = {"Authorization": f"Bearer {access_token}"}
    wait_for(
        lambda: (
            requests.get(f"{server.base}/api/v1/sync/pull", headers=headers, timeout=30).status_code
            == 401
        ),
        timeout=30,
        what="the access token to expire",
    )


def _exported_ids(directory) -> list[str]:
    return [
        row["id"]
        for path in sorted(directory.glob("*.csv"))
        for row in csv.DictReader(path.open(encoding="utf-8", newline=""))
    ]


def _export_key(session) -> str:
    _, key = api_keys.create(session, "hq", [])
    session.commit()
    session.close()
    return key


def test_an_export_cut_off_mid_download_is_fetched_again_whole(
    world, session, live_server, proxy, tmp_path
):
    store = _phone(session, tmp_path, live_server.base)
    sent = _record_helps(store, 300, note="x" * 400)
    sync_device(store, connect(store))
    key = _export_key(session)
    job = IncrementalExport(
        Connection(proxy.base, Tokens(key), base_delay=0.05),
        tmp_path / "state.json",
        campaign="camp",
        form="household_help",
    )
    proxy.cut_after = 40_000  # every answer breaks off after 40 kB
    with pytest.raises(Exception):  # noqa: B017 - whichever way requests reports a cut stream
        job.run(tmp_path / "out", attempts=2)
    assert job.cursor is None and not list((tmp_path / "out").iterdir())  # nothing half-kept
    assert proxy.cut >= 2

    proxy.cut_after = None
    result = job.run(tmp_path / "out")
    assert result.rows == 300
    assert _exported_ids(tmp_path / "out") == sent


def test_a_crash_between_the_file_and_its_cursor_neither_repeats_nor_skips(
    world, session, live_server, tmp_path
):
    store = _phone(session, tmp_path, live_server.base)
    first = _record_helps(store, 3)
    sync_device(store, connect(store))
    key = _export_key(session)
    state_file, out = tmp_path / "state.json", tmp_path / "out"

    def job() -> IncrementalExport:
        connection = Connection(live_server.base, Tokens(key))
        return IncrementalExport(connection, state_file, campaign="camp", form="household_help")

    done = job().run(out)
    assert done.rows == 3
    # The state a crash leaves after writing "pending" but before the rename: the file is
    # not in place, so the next run must fetch those rows again.
    state = json.loads(state_file.read_text())
    lost_file = out / "submissions-lost.csv"
    state_before = {**state, "after": None, "pending": {"file": str(lost_file), "cursor": "x"}}
    state_file.write_text(json.dumps(state_before))
    done.path.unlink()
    again = job().run(out)
    assert again.rows == 3 and _exported_ids(out) == first

    # The state a crash leaves after the rename but before the cursor moved: the file is in
    # place, so its cursor is adopted and the rows are not fetched twice.
    second = _record_helps(store, 2)
    sync_device(store, connect(store))
    state = json.loads(state_file.read_text())
    state["pending"] = {"file": str(again.path), "cursor": state["after"]}
    state["after"] = None
    state_file.write_text(json.dumps(state))
    newest = job().run(out)
    assert newest.rows == 2
    assert _exported_ids(out) == first + second

    with pytest.raises(ExportStateError, match="another export"):
        IncrementalExport(Connection(live_server.base, Tokens(key)), state_file, campaign="x")


def test_an_expired_access_token_is_refreshed_and_the_new_pair_kept(
    world, session, server_env, tmp_path
):
    # No grace window here: the stale copy below comes back after it (a retry within it would
    # be answered, by contract revision 2: tests/auth/test_refresh_grace.py).
    env = {**server_env, "WARDSYNC_ACCESS_TOKEN_TTL": "1", "WARDSYNC_REFRESH_GRACE_S": "0"}
    server = ServerProcess(env, tmp_path / "s.log")
    server.start()
    try:
        store = _phone(session, tmp_path, server.base)
        spent = store.get("refresh_token")
        _record_helps(store, 2)
        _expired(server, store.get("access_token"))
        report = sync_device(store, connect(store))
        assert report.sent["applied"] == 2
        assert store.get("refresh_token") != spent  # rotated, and saved at once

        # A stale copy of the phone (say, restored from a backup) presents the spent refresh
        # token: the server revokes the family, and the client says so instead of retrying.
        store.set(refresh_token=spent)
        _expired(server, store.get("access_token"))
        _record_helps(store, 1)
        with pytest.raises(AuthError):
            sync_device(store, connect(store))
        assert store.queued_count() == 1  # still kept for after the new enrolment
    finally:
        server.stop()
