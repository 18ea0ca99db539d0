"""The phone app under test: a real ``wardsync serve`` per module and database, reached through
a relay that can lose or hold chosen answers (as a phone's network does), and headless
Chromium phones, 360 px wide, driven by Playwright.

Nothing here stands in for the server or the app: the relay only moves bytes (or stops moving
them), and every check reads what a volunteer would see or what the server stored.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests
from kit.live import ServerProcess
from relay import Relay
from sqlalchemy import select

from sync.accounts import users
from sync.admin import campaigns, orgunits
from sync.db import make_engine, make_session_factory
from sync.models import OrgUnit, Submission

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
APP_FILES = ROOT / "clients" / "phone"
CHROMIUM = os.environ.get("WARDSYNC_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "phone tests password"
SECRET = "phone-app-test-secret-0123456789-0123456789-0123456789"
CAMPAIGN = "vneid"
PHONE = {"width": 360, "height": 780}
WAIT_MS = 20_000


# --- the server, its data, and the people in it --------------------------------------------------


@dataclass
class Team:
    """One ward of its own per test, with its volunteer: progress there is this test's alone."""

    ward: str
    volunteer: str
    kit: PhoneServer

    def code(self) -> str:
        return self.kit.code(self.volunteer, [self.ward])

    def enrol_link(self) -> str:
        return f"{self.kit.base}/app/#enroll={self.code()}"

    def progress(self) -> dict[str, int]:
        body = self.kit.api(
            "GET", "/api/v1/progress", params={"campaign": CAMPAIGN, "org_unit": self.ward}
        ).json()
        return {k: v["value"] for k, v in body["totals"].items() if v["value"]}

    def stored(self) -> list[Submission]:
        with self.kit.sessions() as session:
            return list(
                session.scalars(
                    select(Submission)
                    .join(OrgUnit, OrgUnit.id == Submission.org_unit_id)
                    .where(OrgUnit.code == self.ward)
                    .order_by(Submission.seq)
                )
            )

    def push_as_phone(self, submissions: list[dict]) -> list[dict]:
        """A second phone of the ward, sending straight to the API (not through the app)."""
        enrolled = requests.post(
            self.kit.base + "/api/v1/devices/enroll",
            json={"code": self.code(), "name": "other phone"},
            timeout=30,
        ).json()
        answer = requests.post(
            self.kit.base + "/api/v1/sync/push",
            json={"submissions": submissions},
            headers={"Authorization": f"Bearer {enrolled['access_token']}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["results"]


@dataclass
class PhoneServer:
    server: ServerProcess
    relay: Relay
    db_url: str
    app_dir: Path
    admin_token: str = ""
    teams: int = 0
    _engine: object = None
    extra: dict = field(default_factory=dict)

    @property
    def base(self) -> str:
        return self.relay.base

    def sessions(self):
        if self._engine is None:
            self._engine = make_engine(self.db_url)
        return make_session_factory(self._engine, write=False)()

    def admin(self) -> str:
        """The admin's access token, refreshed when it may have expired (the module's server
        gives short-lived ones)."""
        if time.monotonic() - self.extra.get("token_at", 0) > 2:
            answer = requests.post(
                self.server.base + "/api/v1/auth/refresh",
                json={"refresh_token": self.extra["refresh"]},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
            self.admin_token = answer.json()["access_token"]
            self.extra.update(refresh=answer.json()["refresh_token"], token_at=time.monotonic())
        return self.admin_token

    def api(self, method: str, path: str, token: str | None = None, **kwargs):
        headers = {"Authorization": f"Bearer {token or self.admin()}"}
        return requests.request(
            method, self.server.base + path, headers=headers, timeout=30, **kwargs
        )

    def code(self, volunteer: str, wards: list[str]) -> str:
        answer = self.api(
            "POST", "/api/v1/enrollment-codes", json={"volunteer": volunteer, "org_units": wards}
        )
        assert answer.status_code == 201, answer.text
        return answer.json()["code"]

    def team(self) -> Team:
        self.teams += 1
        ward = f"W{self.teams}"
        made = self.api(
            "POST",
            "/api/v1/org-units",
            json={"code": ward, "name": f"Phường {self.teams}", "parent": "TA"},
        )
        assert made.status_code == 201, made.text
        volunteer = f"tnv-{self.teams}"
        made = self.api(
            "POST",
            "/api/v1/users",
            json={"username": volunteer, "role": "volunteer", "org_units": [ward]},
        )
        assert made.status_code == 201, made.text
        return Team(ward, volunteer, self)


def seed(db_url: str) -> None:
    engine = make_engine(db_url)
    with make_session_factory(engine)() as session:
        orgunits.create(session, "BD", "Tỉnh Bình Dương", None)
        orgunits.create(session, "TA", "Thành phố Thuận An", "BD")
        today = date.today()
        campaigns.create(
            session, CAMPAIGN, "60 ngày đêm", today - timedelta(days=10), today + timedelta(days=50)
        )
        users.create(session, "admin", "admin", (), password=PASSWORD)
        users.create(session, "lead-ta", "lead", ("TA",), password=PASSWORD)
        session.commit()
    engine.dispose()


def start_phone_server(database, tmp_path: Path, **env) -> PhoneServer:
    db_url = database.fresh_url()
    seed(db_url)
    app_dir = tmp_path / "app"
    shutil.copytree(APP_FILES, app_dir, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    server = ServerProcess(
        {
            "WARDSYNC_DATABASE_URL": db_url,
            "WARDSYNC_SECRET_KEY": SECRET,
            "WARDSYNC_INSTANCE_PATH": str(tmp_path / "instance"),
            "WARDSYNC_SESSION_COOKIE_SECURE": "0",
            "WARDSYNC_APP_DIR": str(app_dir),
            "WARDSYNC_THREADS": "8",
            **env,
        },
        tmp_path / "server.log",
        workers=2,
    )
    server.start()
    relay = Relay(server.port)
    kit = PhoneServer(server, relay, db_url, app_dir)
    login = requests.post(
        server.base + "/api/v1/auth/login",
        json={"username": "admin", "password": PASSWORD},
        timeout=30,
    )
    kit.admin_token = login.json()["access_token"]
    kit.extra.update(refresh=login.json()["refresh_token"], token_at=time.monotonic())
    return kit


def stop_phone_server(kit: PhoneServer) -> None:
    kit.relay.close()
    kit.server.stop()
    if kit._engine is not None:
        kit._engine.dispose()


# --- the browser and the phones ------------------------------------------------------------------


def launch_browser(playwright):
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        reason = f"no Chromium at {CHROMIUM} (Debian package 'chromium'; .ci/run installs it)"
        if os.environ.get("WARDSYNC_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    )


@contextlib.contextmanager
def phone(browser, **options):
    """A phone: its own storage, service workers and network, 360 px wide."""
    context = browser.new_context(viewport=PHONE, service_workers="allow", **options)
    context.set_default_timeout(WAIT_MS)
    try:
        yield context
    finally:
        context.close()


def open_app(context, url: str):
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']")
    return page


def wait_worker(page) -> None:
    """Until the service worker controls the page: from then on, the app works offline."""
    page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller !== null")


def enrol(page, code: str | None = None) -> None:
    if code is not None:
        page.fill("input[name=code]", code)
    page.click("#enrol")
    page.wait_for_selector("button.form-button")
    wait_idle(page)


def wait_idle(page) -> None:
    """Until no sync is running (the send button is back)."""
    page.wait_for_selector("#send-now:not([disabled])")


def unsent(page) -> int:
    return int(page.get_attribute("#unsent", "data-n"))


def wait_unsent(page, n: int) -> None:
    page.wait_for_function(
        "n => document.querySelector('#unsent') && "
        "document.querySelector('#unsent').dataset.n === String(n)",
        arg=n,
    )


def send_now(page) -> None:
    wait_idle(page)
    page.click("#send-now")
    wait_idle(page)


def outbox_ids(page) -> list[str]:
    return page.evaluate(
        "async () => (await globalThis.wardsync.getAll('outbox', 'order')).map(i => i.id)"
    )


def sent_ids(page) -> list[str]:
    return page.evaluate(
        "async () => (await globalThis.wardsync.getAll('sent', 'order')).map(i => i.id)"
    )


def record(
    page,
    form: str,
    fields: dict[str, str],
    choices: dict[str, str] | None = None,
    address: str | None = None,
    household: str | None = None,
    wait: bool = True,
) -> None:
    """Fill in and save one form the way a volunteer does, by tapping and typing
    (``wait``: until it is saved and the home screen is back)."""
    page.click(f"button.form-button[data-form={form}]")
    page.wait_for_selector(f"form.record[data-form={form}]")
    if household is not None:
        page.click("#pick-household")
        page.fill("input[type=search]", household)
        page.click("button.pick >> nth=0")
    for name, value in fields.items():
        page.fill(f"[name={name}]", value)
    if address is not None:
        page.fill("[name=household_address]", address)
    for name, value in (choices or {}).items():
        page.click(f"label[for={name}-{value}]")
    page.click("#save")
    if wait:
        page.wait_for_selector("section.outbox")


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"phone-{name}.png"), full_page=True)


def until(check, timeout: float = 30, what: str = "condition", page=None) -> None:
    """Wait for something the test can only see outside the page (the server's database).

    ``page``: poll through it, so that Playwright delivers its events meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if page is not None:
            page.wait_for_timeout(50)
        else:
            time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)
