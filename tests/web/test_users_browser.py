"""The users page in a real browser (headless Chromium): add a user, read the generated password
once, sign in with it in another browser context, then disable them."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.web.browser import go_to, sign_in_browser

pytestmark = pytest.mark.browser

SHOTS = os.environ.get("TILLBRIDGE_SCREENSHOTS")  # a directory to keep the screenshots in, for a look
WIDE = {"width": 1366, "height": 900}


def _shot(page: Any, tmp_path: Path, name: str) -> Path:
    path = Path(SHOTS or tmp_path) / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000  # a rendered page, not a blank one
    return path


def test_admin_adds_a_user_who_signs_in_and_is_disabled(live_server: str, browser_page: Any,
                                                        make_user: Callable[..., str], tmp_path: Path) -> None:
    page = browser_page
    page.set_viewport_size(WIDE)
    make_user("operator", "olga")
    sign_in_browser(page, live_server, make_user("admin", "ada"))

    go_to(page, "Users")
    page.wait_for_url(f"{live_server}/users")
    form = page.locator("[data-test=create-user]")
    form.locator("input[name=username]").fill("rita")
    form.locator("select[name=role]").select_option("risk")
    form.locator("button[type=submit]").click()
    password = page.locator("[data-test=revealed-password]").inner_text()
    assert len(password) >= 16
    assert page.locator("[data-test=user-rita] select[name=role]").input_value() == "risk"
    _shot(page, tmp_path, "users")

    rita = page.context.browser.new_context(viewport=WIDE)
    try:
        other = rita.new_page()
        sign_in_browser(other, live_server, "rita", password)
        assert other.locator("nav >> text=Users").count() == 0  # admins only
        assert other.locator(".who .role").inner_text() == "risk"

        page.once("dialog", lambda dialog: dialog.accept())  # "Disable rita? …"
        page.locator("[data-test=user-rita] button", has_text="Disable").click()
        page.wait_for_selector("text=rita is disabled")
        assert page.locator("[data-test=user-rita] .badge").inner_text() == "disabled"
        first_event = page.locator("[data-test=event]").first.inner_text()
        assert "ada" in first_event and "disabled" in first_event and "rita" in first_event
        _shot(page, tmp_path, "users-after-disable")

        other.reload()
        assert other.url.startswith(f"{live_server}/login")
    finally:
        rita.close()
