"""One record's timeline through the whole stack: an order placed in Magento, synced, shipped in
Heartland and paid in Magento shows its event, its poll, its payment and its shipment, found by the
Magento number or the Heartland number."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from service.connectors.heartland.client import HeartlandClient
from service.connectors.magento.client import MagentoClient
from service.operations import timeline
from service.store.tables import SyncItem
from tests.stack import HEARTLAND_TOKEN, MAGENTO_TOKEN, build_stack


def test_an_orders_timeline_shows_event_poll_payment_and_shipment(settings: dict[str, Any], tmp_path: Path) -> None:
    stack = build_stack({**settings, "POLL_INTERVAL_SECONDS": 1, "POLL_OVERLAP_SECONDS": 5}, tmp_path)
    try:
        stack.start_worker()
        stack.start_scheduler()
        stack.wait_started("worker")
        stack.wait_started("scheduler")
        stack.register_heartland_webhook("sales_transaction_completed")
        order = stack.checkout([{"sku": "TEE-1000", "qty": 1}], email="tina@example.com")
        number = str(order["increment_id"])
        heartland = HeartlandClient(f"{stack.heartland.url}/api", token=HEARTLAND_TOKEN)
        magento = MagentoClient(f"{stack.magento.url}/rest", token=MAGENTO_TOKEN)

        def synced() -> list[Any]:
            # Open: the run has set its status (Heartland invoices only open orders), not just created it.
            found = heartland.list("sales/orders", {"custom@magento_order_number": number}, per_page=1).results
            return [o for o in found if o.get("status") == "open"]

        stack.wait_for(lambda: bool(synced()), timeout=60, what="the order open in Heartland")
        sales_order = synced()[0]
        lines = heartland.sales_order_lines(int(sales_order["id"]))
        location = int(lines[0]["ship_from_location_id"])
        station = int(heartland.stations(location)[0]["id"])
        invoice = heartland.create_invoice(int(sales_order["id"]), station, location, None,
                                           {"tracking_number": "1Z999AA10123456784", "carrier": "UPS"})
        heartland.complete_invoice(int(invoice["id"]))
        magento.invoice(int(order["entity_id"]))  # Magento captures: a payment for Heartland

        def story() -> timeline.Timeline | None:
            return timeline.find(stack.runtime.store, number)

        def complete() -> bool:
            found = story()
            if found is None:
                return False
            kinds = {e.kind for e in found.entries}
            titles = " ".join(e.title for e in found.entries)
            polled = "poll" in kinds or found.no_change_polls > 0
            return {"event", "effect", "binding"} <= kinds and "shipments done" in titles \
                and "/payments" in titles and polled

        stack.wait_for(complete, timeout=60, what="the order's event, poll, payment and shipment on its timeline")
        found = story()
        assert found is not None and found.title == f"order #{number}"
        assert f"#{sales_order['public_id']}" in found.names
        assert [e for e in found.entries if e.kind == "event"][0].title == "magento order.created"
        by_heartland_number = timeline.find(stack.runtime.store, str(sales_order["public_id"]))
        assert by_heartland_number is not None and by_heartland_number.keys == found.keys
        assert "shipments done" in " ".join(e.title for e in by_heartland_number.entries)
        with stack.runtime.store.session() as s:
            quiet = s.query(SyncItem).filter(SyncItem.reason.ilike("no change%")).count()
        listed = [e for e in found.entries if e.kind == "outcome" and e.detail.lower().startswith("no change")]
        assert not listed, "polls that found no change are counted, not listed"
        assert found.no_change_polls <= quiet
        page = stack.app.test_client()
        from service.store.users import create_user
        from tests.web.support import PASSWORD, sign_in

        create_user(stack.runtime.store, "ops", PASSWORD, "operator")
        sign_in(page, "ops")
        html = page.get(f"/records?q={number}").get_data(as_text=True)
        assert f"order #{number}" in html and "shipments done" in html and "/payments" in html
    finally:
        stack.stop()
