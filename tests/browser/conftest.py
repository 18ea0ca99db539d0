"""What the browser tests share: one Chromium per module, a page sized as a phone's screen
whose last look is kept as an artifact, and a server for the web pages."""

from __future__ import annotations

import pytest
from kit.live import ServerProcess
from phone_kit import ARTIFACTS, launch_browser

SECRET = "browser-test-secret-0123456789-0123456789-0123456789"


@pytest.fixture
def pages_server(db_url, tmp_path) -> str:
    """A one-worker server on the test's database, its page cookie allowed over plain HTTP
    (the tests' server has no TLS); its base URL."""
    server = ServerProcess(
        {
            "WARDSYNC_DATABASE_URL": db_url,
            "WARDSYNC_SECRET_KEY": SECRET,
            "WARDSYNC_INSTANCE_PATH": str(tmp_path / "server-instance"),
            "WARDSYNC_SESSION_COOKIE_SECURE": "0",
        },
        tmp_path / "server.log",
        workers=1,
    )
    server.start()
    yield server.base
    server.stop()


@pytest.fixture(scope="module")  # one Playwright at a time: a module's tests share it
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 412, "height": 915})  # a phone's screen
    page = context.new_page()
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    page.screenshot(path=str(ARTIFACTS / f"{name}-last.png"), full_page=True)
    context.close()
