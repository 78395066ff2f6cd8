"""The operator's cockpit in headless Chromium: every page at 1,366 and 800 px without sideways
scrolling, the trend charts drawn from the rolled-up store, an alert silenced from its page, and an
item waiting in review retried from its page."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from service.app.runtime import Runtime
from service.operations import alerts, timeseries
from service.store import items
from service.store.tables import SyncItem
from tests.web.browser import go_to, sign_in_browser
from tests.web.support import Seeded, add_item

pytestmark = pytest.mark.browser

SHOTS = os.environ.get("TILLBRIDGE_SCREENSHOTS")
WIDTHS = (1366, 800)
REASON = ("Magento SKU 'WEB-ONLY-1' not found in Heartland (flow orders, order #000000321, line 1) — add the item "
          "in Heartland (Item # = SKU) or map the SKU in rules/mappings/orders.canonical_to_heartland.yaml, then retry")


def busy_store(runtime: Runtime) -> int:
    """An hour of finished items, an item waiting in review, and the alerts they raise."""
    now = datetime.now(UTC)
    with runtime.store.session() as s:
        for minute in range(1, 60, 3):
            for n in range(minute % 7 + 1):
                at = now - timedelta(minutes=minute, seconds=n)
                s.add(SyncItem(flow="orders" if n % 2 else "inventory", entity_key=f"k:{minute}:{n}", payload={},
                               state="dead" if n == 5 else "done", created_at=at - timedelta(milliseconds=300 * n + 80),
                               finished_at=at, updated_at=at))
    runtime.redis.set(timeseries.MINUTE_KEY, str((now - timedelta(minutes=61)).replace(second=0).timestamp()))
    timeseries.run_due(runtime, now=now)
    waiting = add_item(runtime, label="order #000000321", entity_key="magento:default:order:321")
    items.finish(runtime.store, waiting.id, fence=items.claim(runtime.store, waiting.id, 60).fence,  # type: ignore[union-attr]
                 state="review", reason=REASON, result={}, attempts=1,
                 failure_class="not_found", steps=[])
    alerts.evaluate(runtime)
    return waiting.id


def test_every_page_fits_and_the_cockpit_works(live_server: str, browser_page: Any, runtime: Runtime,
                                               make_user: Callable[..., str], seeded: Seeded, tmp_path: Path) -> None:
    waiting_id = busy_store(runtime)
    page = browser_page
    sign_in_browser(page, live_server, make_user("admin", "ada"))
    pages = ["/", "/items", f"/items/{seeded.done.id}", f"/items/{waiting_id}", "/dead-letters",
             f"/dead-letters/{seeded.dead_letter_id}", "/alerts", "/mappings/", "/reviews/orders",
             "/reviews/customers", "/users", "/records?q=000000321", "/records?q=nothing-like-this", "/connections", "/settings", "/triage"]
    overflowing = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for path in pages:
            response = page.goto(f"{live_server}{path}")
            assert response is not None and response.status == 200, f"{path}: {response and response.status}"
            if path == "/":
                page.wait_for_selector("[data-chart=queue] .uplot")
            scroll, client = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            if scroll > client:
                overflowing.append(f"{path} at {width} px: {scroll} > {client}")
            cut = page.evaluate("[...document.querySelectorAll('.topbar *')]"
                                ".filter(e => e.getBoundingClientRect().right > innerWidth + 1).length")
            if cut:
                overflowing.append(f"{path} at {width} px: {cut} element(s) of the top bar past the right edge")
            if width >= 1366:
                rows = page.evaluate("document.querySelector('.topbar').getBoundingClientRect().height")
                if rows > 60:
                    overflowing.append(f"{path} at {width} px: the top bar wraps to {rows:.0f} px")
            name = path.strip("/").replace("/", "-").replace("?q=", "-") or "dashboard"
            page.screenshot(path=str(Path(SHOTS or tmp_path) / f"{name}-{width}.png"), full_page=True)
    assert not overflowing, "pages scroll sideways:\n" + "\n".join(overflowing)

    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server}/")
    page.wait_for_selector("[data-chart=throughput] .uplot canvas")
    assert page.locator(".chart-grid .uplot").count() == 4
    summary = page.locator("[data-summary]").inner_text()
    assert "finished" in summary and "dead" in summary and not summary.startswith("0 finished"), summary
    page.click("[data-window='24h']")
    page.wait_for_function("document.querySelector('[data-summary]').textContent.includes('per minute')")
    assert page.locator("[data-test=alerts-firing]").inner_text() != "0"
    assert page.locator("[data-test=items-in-review]").inner_text() == "1"

    go_to(page, "Alerts")
    assert page.locator("[data-test='alert-dead_letters']").count() == 1
    page.select_option("[data-test=silence-form] select[name=rule]", "dead_letters")
    page.fill("[data-test=silence-form] input[name=reason]", "known: bad import, fixing")
    page.click("[data-test=silence-form] button[type=submit]")
    assert "Silenced dead_letters" in page.locator(".flash").inner_text()
    assert "silenced until" in page.locator("[data-test='alert-dead_letters']").inner_text()

    page.goto(f"{live_server}/items/{waiting_id}")
    assert page.locator("[data-test=fix-link]").first.get_attribute("href") == "/mappings/orders.canonical_to_heartland"
    page.click("[data-test=retry]")
    assert "Sent back to the queue" in page.locator(".flash").inner_text()
    assert items.get(runtime.store, waiting_id).state == "received"  # type: ignore[union-attr]


def test_twenty_identical_dead_letters_are_retried_in_one_action(live_server: str, browser_page: Any,
                                                                 runtime: Runtime, make_user: Callable[..., str]) -> None:
    from tests.web.support import make_dead

    for n in range(20):
        make_dead(runtime, 400 + n, error=f"Magento SKU 'WEB-{n}' not found in Heartland (flow orders, order "
                                          f"#000000{400 + n}, line 1) — add the item or map the SKU, then retry")
    make_dead(runtime, 999, error="Heartland refused the order: customer email is invalid")
    page = browser_page
    sign_in_browser(page, live_server, make_user("operator", "olga"))
    page.goto(f"{live_server}/dead-letters")
    group = page.locator("[data-test=groups] tr", has=page.locator("[data-test=retry-group]"))
    assert group.count() == 1, "one group: the single different failure is not grouped"
    assert "order #0000000419" in group.inner_text(), "the records are named"
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    group.locator("[data-test=retry-group]").click()
    assert "Retried 20 dead letter(s)" in page.locator(".flash").inner_text()
    assert asked and "20" in asked[0]
    assert items.counts_by_state(runtime.store).get("received") == 20
    assert page.locator("[data-test=groups]").count() == 0 and page.locator("tr[data-test^=letter-]").count() == 1
