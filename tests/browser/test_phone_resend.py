"""The phone app after a server restore: the server is put back to a backup taken before some
of a phone's forms arrived. On its next sync the app sees, in the server's receipt, fewer of
its forms than it sent, and sends the lost ones again by itself: every form stored once, the
progress whole, ``wardsync verify`` clean. On SQLite through ``wardsync backup``/``restore``,
on PostgreSQL through the README's ``pg_dump``/``pg_restore`` runbook.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest
import requests
from kit.live import WARDSYNC
from phone_kit import (
    PASSWORD,
    enrol,
    open_app,
    record,
    send_now,
    start_phone_server,
    stop_phone_server,
)
from sqlalchemy.engine import make_url

DAY_MS = 24 * 3600 * 1000


@pytest.fixture
def kit(database, tmp_path):
    kit = start_phone_server(database, tmp_path)
    yield kit
    stop_phone_server(kit)


def _wardsync(kit, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [WARDSYNC, *args],
        env={**os.environ, **kit.server.env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _libpq(url: str) -> tuple[str, list[str]]:
    parsed = make_url(url)
    return (
        f"postgresql://{parsed.username}@{parsed.host}:{parsed.port}/{parsed.database}",
        ["-h", parsed.host, "-p", str(parsed.port), "-U", parsed.username],
    )


def _backup(kit, backend: str, path) -> None:
    if backend == "sqlite":
        done = _wardsync(kit, "backup", str(path))
    else:
        done = subprocess.run(
            ["pg_dump", "-Fc", "-f", str(path), _libpq(kit.db_url)[0]],
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 0, done.stdout + done.stderr


def _restore(kit, backend: str, path) -> None:
    if backend == "sqlite":
        done = _wardsync(kit, "restore", str(path), "--yes")
    else:
        done = subprocess.run(
            ["pg_restore", "--clean", "--if-exists", "--no-owner", "-d", _libpq(kit.db_url)[0],
             str(path)],
            capture_output=True,
            text=True,
            timeout=300,
        )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def _login_again(kit) -> None:
    login = requests.post(
        kit.server.base + "/api/v1/auth/login",
        json={"username": "admin", "password": PASSWORD},
        timeout=30,
    )
    assert login.status_code == 200, login.text
    kit.admin_token = login.json()["access_token"]
    kit.extra.update(refresh=login.json()["refresh_token"], token_at=time.monotonic())


def _receipt(page) -> tuple[int, int]:
    """What the status bar shows: the server's count of this phone's forms, and the phone's."""
    accepted = page.get_attribute("#receipt", "data-accepted")
    return int(accepted), int(page.get_attribute("#receipt", "data-mine"))


def test_the_app_resends_what_a_restored_server_lost(browser, kit, database, tmp_path):
    backend = database.backend
    team = kit.team()
    context = browser.new_context(viewport={"width": 360, "height": 780}, service_workers="allow")
    context.set_default_timeout(20_000)
    page = open_app(context, team.enrol_link())
    enrol(page)

    record(page, "activation", {"citizen_id": "079100000001"}, {"status": "installed"})
    record(page, "activation", {"citizen_id": "079100000002"}, {"status": "activated"})
    send_now(page)
    assert len(team.stored()) == 2
    kit.sessions().close()
    if kit._engine is not None:
        kit._engine.dispose()  # no connection of the test's own left open for the restore

    backup = tmp_path / ("wardsync.sqlite3" if backend == "sqlite" else "wardsync.dump")
    _backup(kit, backend, backup)

    # After the backup: three more forms, sent and acknowledged.
    record(page, "activation", {"citizen_id": "079100000003"}, {"status": "activated"})
    record(page, "activation", {"citizen_id": "079100000001"}, {"status": "activated"})
    record(page, "household_help", {"hours": "2", "volunteers": "3"}, {"kind": "sanitation"},
           address="Hẻm 12, khu phố 3")  # fmt: skip
    send_now(page)
    assert len(team.stored()) == 5 and _receipt(page) == (5, 5)
    before = team.progress()
    if kit._engine is not None:
        kit._engine.dispose()

    # Disaster: the server is put back to the backup. It has lost the last three.
    kit.server.stop()
    _restore(kit, backend, backup)
    kit.server.start()
    assert len(team.stored()) == 2
    _login_again(kit)  # the test's admin refresh token is newer than the backup

    # The volunteer taps "send" as on any evening: the receipt shows the loss, and the app
    # sends the three again by itself.
    send_now(page)
    assert page.inner_text("p.message").strip() == (
        "Máy chủ bị mất 3 biểu mẫu bạn đã gửi; đã gửi lại."
    )
    stored = team.stored()
    assert len(stored) == len({s.id for s in stored}) == 5
    assert _receipt(page) == (5, 5)
    assert team.progress() == before
    verify = _wardsync(kit, "verify", "--campaign", "vneid")
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # Nothing more is lost: the next sync resends nothing.
    send_now(page)
    assert page.inner_text("p.message").strip() == "Đã gửi xong"
    # A week on, the kept content is gone from the phone, and a loss then cannot be made good.
    device = page.evaluate("async () => (await globalThis.wardsync.getValue('creds')).device_id")
    requeued = page.evaluate(
        "([device, later]) => globalThis.wardsync.requeueIfShort(0, device, Date.now() + later)",
        [device, 8 * DAY_MS],
    )
    assert requeued == {"lost": 5, "queued": 0}
    kept = page.evaluate(
        "async () => (await globalThis.wardsync.getAll('sent')).filter(s => s.resend).length"
    )
    assert kept == 0
    context.close()
