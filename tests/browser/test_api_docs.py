"""The API docs a headquarters script writer reads: Swagger UI at /api/v1/docs, served by
wardsync itself, working with nothing but the server reachable."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests
from phone_kit import ARTIFACTS, launch_browser


def test_the_docs_page_names_only_files_the_server_serves(pages_server):
    page = requests.get(pages_server + "/api/v1/docs", timeout=30)
    assert page.status_code == 200
    assert "text/html" in page.headers["Content-Type"]
    assert "http://" not in page.text and "https://" not in page.text  # no CDN, no other host
    for name in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"):
        assert f"/api/v1/docs/assets/{name}" in page.text
        asset = requests.get(f"{pages_server}/api/v1/docs/assets/{name}", timeout=30)
        assert asset.status_code == 200 and len(asset.content) > 1000, name
    # Only the UI's files: not the package's demo page, nothing outside its folder.
    for name in ("index.html", "swagger-initializer.js", "..%2f__init__.py", "nope.js"):
        missing = requests.get(f"{pages_server}/api/v1/docs/assets/{name}", timeout=30)
        assert missing.status_code == 404, name


def test_swagger_ui_renders_the_contract_with_no_other_host_reachable(pages_server):
    from playwright.sync_api import sync_playwright

    elsewhere: list[str] = []
    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        ours = urlsplit(pages_server).netloc

        def only_ours(route):
            if urlsplit(route.request.url).netloc == ours:
                route.continue_()
            else:
                elsewhere.append(route.request.url)
                route.abort()

        context.route("**/*", only_ours)
        page = context.new_page()
        page.goto(pages_server + "/api/v1/docs")
        page.get_by_text("/api/v1/sync/push").first.wait_for(timeout=30_000)
        for path in ("/api/v1/sync/pull", "/api/v1/progress", "/api/v1/exports/submissions"):
            assert page.get_by_text(path, exact=True).count() >= 1, path
        page.get_by_text("/api/v1/sync/push").first.click()  # an operation opens its details
        answers = page.locator(".opblock.is-open .responses-table").first
        answers.wait_for(timeout=30_000)
        text = answers.inner_text()
        for status in ("200", "401", "413", "422", "503"):  # the push's answers, documented
            assert status in text, status
        page.screenshot(path=_artifact("api-docs-1280.png"), full_page=False)
        context.close()
        browser.close()
    assert elsewhere == []


def _artifact(name: str) -> str:
    ARTIFACTS.mkdir(exist_ok=True)
    return str(ARTIFACTS / name)
