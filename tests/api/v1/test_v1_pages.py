"""The reconciliation, customer and webhook pages in headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from service.reconciliation import run as reconciliation
from service.reconciliation.ledger import save
from service.reconciliation.matching import match
from service.store.api_tables import ReconciliationRun
from service.store.users import create_user
from tests.api.v1.test_v1_reconciliation import entry
from tests.stack import HEARTLAND_TOKEN, Stack, build_stack
from tests.web.browser import browser_page, go_to, live_server, sign_in_browser  # noqa: F401 - fixtures
from tests.web.support import PASSWORD


def test_the_reconciliation_page_resolves_an_exception(app: Any, runtime: Any, live_server: str,  # noqa: F811
                                                       browser_page: Any) -> None:  # noqa: F811
    magento = save(runtime.store, [entry("magento", "100000041", 5000, day="2026-12-01", shipping=500),
                                   entry("magento", "100000042", 2500, day="2026-12-01")])
    heartland = save(runtime.store, [entry("heartland", "100000041", 4500, day="2026-12-01")])
    with runtime.store.session() as s:
        run = ReconciliationRun(date_from="2026-12-01", date_to="2026-12-01", trigger="test", counts={})
        s.add(run)
        s.flush()
        run_id = run.id
    reconciliation._record(runtime, run_id, match(magento, heartland))
    create_user(runtime.store, "alex", PASSWORD, "accounting")

    page = browser_page
    sign_in_browser(page, live_server, "alex")
    page.goto(f"{live_server}/reconciliation?date_from=2026-12-01&date_to=2026-12-01")
    rows = page.locator("tr[data-test^=result-]")
    assert rows.count() == 2
    mismatch = page.locator("tr[data-test^=result-]", has_text="amount mismatch")
    assert "shipping" in mismatch.inner_text() and "-5.00 USD" in mismatch.inner_text()
    mismatch.locator("input[name=note]").fill("shipping refunded by hand in Heartland")
    mismatch.locator("button", has_text="Resolve").click()
    page.wait_for_selector("text=resolved.")
    assert page.locator("tr[data-test^=result-]").count() == 1  # only the missing order is still open
    page.goto(f"{live_server}/reconciliation?date_from=2026-12-01&date_to=2026-12-01&state=resolved")
    assert "shipping refunded by hand in Heartland" in page.locator("tr[data-test^=result-]").inner_text()


@pytest.fixture
def stack(settings: dict[str, Any], tmp_path: Path) -> Iterator[Stack]:
    s = build_stack({**settings, "POLL_INTERVAL_SECONDS": 0, "DRIFT_INTERVAL_SECONDS": 0}, tmp_path)
    try:
        yield s
    finally:
        s.stop()


def test_the_customer_page_shows_one_person_across_the_till_and_the_website(stack: Stack,
                                                                            browser_page: Any) -> None:  # noqa: F811
    heartland_headers = {"Authorization": f"Bearer {HEARTLAND_TOKEN}"}
    customer = requests.post(f"{stack.heartland.url}/api/customers", headers=heartland_headers, timeout=10,
                             json={"first_name": "Uma", "last_name": "Both", "email": "uma.both@example.com"})
    hid = int(customer.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    requests.post(f"{stack.heartland.url}/api/sales/tickets", headers=heartland_headers, timeout=10, json={
        "station_id": 100001, "customer_id": hid, "status": "complete",
        "item_lines": [{"type": "ItemLine", "item_id": 100001, "unit_price": 40.0, "qty": 1}],
        "payments": [{"type": "Payments::ExternalPayment", "payment_type_id": 100001, "amount": 40.0}]})
    stack.start_worker()
    stack.checkout([{"sku": "TEE-1000", "qty": 1}], email="uma.both@example.com", guest=True, firstname="Uma",
                   lastname="Both")
    stack.wait_for(lambda: stack.states().get("done") == 1, timeout=90, what="the web order to sync")
    create_user(stack.runtime.store, "cara", PASSWORD, "operator")

    page = browser_page
    sign_in_browser(page, stack.web.url, "cara")
    go_to(page, "Customers")
    page.fill("input[name=q]", "uma.both@example.com")
    page.click("button:has-text('Find')")
    card = page.locator(f"[data-test=customer-{hid}]")
    assert card.count() == 1
    assert page.locator("section[data-test^=customer-]").count() == 1  # one person, not one per system
    channels = card.locator("[data-test=channels]").inner_text()
    assert "store: 1" in channels and "web: 1" in channels
    assert card.locator("[data-test=orders]").inner_text() == "2"
    # The same day on the insights page: both channels charted, and this buyer bought in both.
    create_user(stack.runtime.store, "ines", PASSWORD, "accounting")
    page.click("button:has-text('Sign out')")
    sign_in_browser(page, stack.web.url, "ines")
    page.goto(f"{stack.web.url}/insights?days=7")
    page.click("button:has-text('Refresh from Heartland and Magento')")
    page.wait_for_selector("text=money movements")
    legend = page.locator("[data-test=chart-net-sales-by-channel] .legend").inner_text()
    assert "store" in legend and "web" in legend
    assert page.locator("[data-test=chart-net-sales-by-channel] polyline").count() == 2
    people = page.locator("[data-test=customers]").inner_text()
    assert f"heartland:{hid} (store+web)" in people


def test_the_docs_page_renders_every_operation_from_vendored_files(live_server: str,  # noqa: F811
                                                                   browser_page: Any) -> None:  # noqa: F811
    page = browser_page
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server) else None)
    page.goto(f"{live_server}/v1/docs")
    page.wait_for_selector(".opblock")
    document = requests.get(f"{live_server}/v1/openapi.json", timeout=10).json()
    operations = sum(1 for path in document["paths"].values() for method in path if method in
                     ("get", "post", "put", "delete"))
    assert page.locator(".opblock").count() == operations
    assert not page.locator("text=Unable to render this definition").count()
    assert outside == []  # no CDN
