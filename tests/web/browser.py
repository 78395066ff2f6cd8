"""Browser fixtures for the web pages: the app served on a thread, and a headless Chromium page.

Chromium is Debian's (`.ci/browser-deps.sh` installs it); Playwright drives it and never downloads
a browser of its own. Tests that use ``browser_page`` are skipped, saying why, when it is missing.

    def test_something(live_server, browser_page, make_user):
        sign_in_browser(browser_page, live_server, make_user("operator"))
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.web.support import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1360, "height": 900}


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served over HTTP on 127.0.0.1 (a free port); yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="web-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium per test process: starting it costs seconds, and each test's page gets a
    browser context of its own (cookies, storage and cache are per context), so no state is shared."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: run .ci/browser-deps.sh (installs Debian's chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Any]:
    """A Playwright page in a new browser context of the process's headless Chromium: a fresh profile
    per test (no cookies, storage or cache from another test)."""
    context = chromium.new_context(viewport=VIEWPORT)
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in_browser(page: Any, base_url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def go_to(page: Any, label: str) -> None:
    """Follow a navigation link as a person does: open its menu first when it is in one."""
    link = page.locator("nav.nav a", has_text=label).first
    if not link.is_visible():
        page.locator("nav.nav details.menu", has=page.locator("a", has_text=label)).locator("summary").click()
    link.click()
