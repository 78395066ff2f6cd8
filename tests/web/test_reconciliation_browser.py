"""Accounting asks for a reconciliation run on the page, sees it queued, and sees how it ended."""

from __future__ import annotations

from typing import Any

from service.reconciliation import run as reconciliation
from tests.web.browser import go_to, sign_in_browser


def test_a_run_asked_for_on_the_page_is_queued_then_shows_how_it_ended(live_server: str, browser_page: Any,
                                                                      make_user: Any, runtime: Any,
                                                                      tmp_path: Any) -> None:
    page = browser_page
    sign_in_browser(page, live_server, make_user("accounting"))
    go_to(page, "Reconciliation")
    page.click("[data-test=run]")
    assert "is queued" in page.locator(".flash-info").inner_text()
    row = page.locator("[data-test=runs] tbody tr").first
    assert "queued" in row.locator(".badge").inner_text()
    run_id = int(str(row.get_attribute("data-test")).removeprefix("run-"))
    assert runtime.queue.count == 1  # the job a worker takes

    # What the worker does with it; no system answers on this machine's default addresses.
    runtime.reconfigure(TILLBRIDGE_HEARTLAND_URL="http://127.0.0.1:9/api")
    runtime.reconfigure(TILLBRIDGE_MAGENTO_URL="http://127.0.0.1:9/rest")
    reconciliation.execute(runtime, run_id, announce=lambda *args: None)
    page.reload()
    row = page.locator(f"[data-test=run-{run_id}]")
    assert row.locator(".badge.bad").inner_text() == "failed"
    assert "a system could not be read" in row.inner_text() and "run it again" in row.inner_text()
    page.screenshot(path=str(tmp_path / "reconciliation.png"), full_page=True)
