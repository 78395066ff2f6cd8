"""The pages in a real browser (headless Chromium): sign in, read a trace, retry a dead letter."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from service.app.runtime import Runtime
from service.store import items
from tests.web.browser import go_to, sign_in_browser
from tests.web.support import Seeded

pytestmark = pytest.mark.browser

SHOTS = os.environ.get("TILLBRIDGE_SCREENSHOTS")  # a directory to keep the screenshots in, for a look


def _shot(page: Any, tmp_path: Path, name: str) -> Path:
    path = Path(SHOTS or tmp_path) / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000  # a rendered page, not a blank one
    return path


def test_operator_reads_a_trace_and_retries_a_dead_letter(live_server: str, browser_page: Any, runtime: Runtime,
                                                         make_user: Callable[..., str], seeded: Seeded,
                                                         tmp_path: Path) -> None:
    page = browser_page
    sign_in_browser(page, live_server, make_user("operator", "olga"))
    assert page.locator("[data-test=dead-letters]").inner_text() == "1"
    assert page.locator("[data-test=breaker-heartland] .tile-value").inner_text() == "closed"
    _shot(page, tmp_path, "dashboard")

    go_to(page, "Items")
    page.click(f"a[href='/items/{seeded.done.id}'] >> nth=1")
    page.wait_for_url(f"{live_server}/items/{seeded.done.id}")
    assert page.locator("[data-test=step]").count() == 2
    response_block = page.locator("details", has_text="Response got: 201")
    body = response_block.locator("pre")
    assert not body.is_visible()  # collapsed until asked for
    response_block.locator("summary").click()
    assert body.is_visible()
    assert '"public_id": "S-1001"' in body.inner_text()
    _shot(page, tmp_path, "item")

    go_to(page, "Dead letters")
    page.click(f"[data-test=letter-{seeded.dead_letter_id}] >> text=edit / resolve")
    editor = page.locator("textarea#payload")
    editor.fill('{"customer_email": "ann@example.com",')
    page.click("[data-test=retry-edited]")
    error = page.locator(".json-error")
    assert error.is_visible() and "not valid JSON" in error.inner_text()
    assert page.url == f"{live_server}/dead-letters/{seeded.dead_letter_id}"  # the browser never sent it
    _shot(page, tmp_path, "dead-letter-invalid")
    assert len(runtime.queue) == 0

    editor.fill('{"entity_id": 77, "customer_email": "ann@example.com", "items": []}')
    assert not error.is_visible()
    page.click("[data-test=retry-edited]")
    page.wait_for_url(f"{live_server}/items/{seeded.dead.id}")
    assert "retried with the edited payload" in page.locator(".flash").inner_text()
    _shot(page, tmp_path, "retried")
    go_to(page, "Items")
    _shot(page, tmp_path, "items")
    page.goto(f"{live_server}/dead-letters?status=all")
    assert "retried by olga" in page.locator(f"[data-test=letter-{seeded.dead_letter_id}]").inner_text()
    _shot(page, tmp_path, "dead-letters")

    item = items.get(runtime.store, seeded.dead.id)
    assert item is not None and item.state == "received"
    assert item.payload["customer_email"] == "ann@example.com"
    assert len(runtime.queue) == 1
