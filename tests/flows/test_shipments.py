"""Shipments, Heartland → Magento, end to end: a Magento checkout reaches Heartland through the orders
flow, the order is invoiced in the Heartland sandbox, and its webhook (or the poller) turns each
completed invoice into one Magento shipment, by real workers over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import delete

from service.flows.shipments import record_changes
from service.store import bindings, items
from service.store.tables import Binding, SyncItem
from tests.stack import Stack, build_stack

HOOK_TOKEN = "shipments-hook-token-5e21-long-enough-for-a-real-deployment"
POLLING = {"POLL_INTERVAL_SECONDS": 0.5, "POLL_OVERLAP_SECONDS": 30}


def start(settings: dict[str, Any], tmp_path: Path, *, webhook: bool, polling: bool = True) -> Stack:
    s = build_stack({**settings, **(POLLING if polling else {"POLL_INTERVAL_SECONDS": 0}),
                     "TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN": HOOK_TOKEN}, tmp_path)
    if webhook:
        s.register_heartland_webhook("sales_transaction_completed")
    s.start_worker()
    s.start_scheduler()
    return s


@pytest.fixture
def hooked(settings: dict[str, Any], tmp_path: Path) -> Iterator[Stack]:
    s = start(settings, tmp_path, webhook=True)
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def unhooked(settings: dict[str, Any], tmp_path: Path) -> Iterator[Stack]:
    """No Heartland webhook registered: every delivery is lost, the poller alone finds the invoices."""
    s = start(settings, tmp_path, webhook=False)
    try:
        yield s
    finally:
        s.stop()


def synced_order(stack: Stack, lines: list[dict[str, Any]]) -> tuple[dict[str, Any], int]:
    """A Magento checkout, synced to Heartland by the orders flow: (Magento order, Heartland order id)."""
    order = stack.checkout(lines)
    key = f"magento:default:{order['entity_id']}"
    stack.wait_for(lambda: bindings.find(stack.runtime.store, "order", key, "heartland") is not None,
                   what=f"Magento order #{order['increment_id']} in Heartland")
    bound = bindings.find(stack.runtime.store, "order", key, "heartland")
    assert bound is not None
    return order, int(bound.external_id)


def invoice(stack: Stack, order_id: int, skus: list[str] | None = None, **custom: str) -> dict[str, Any]:
    """Invoice a Heartland order (the lines of ``skus``, else all it has left) and complete it."""
    heartland = stack.runtime.heartland
    order_lines = heartland.sales_order_lines(order_id)
    location = int(order_lines[0]["ship_from_location_id"])
    station = int(heartland.stations(location)[0]["id"])
    chosen = None if skus is None else [{"order_line_id": line["id"], "qty": line["qty"]}
                                        for line in order_lines if line["item_public_id"] in skus]
    created = heartland.create_invoice(order_id, station, location, chosen, custom or None)
    return heartland.complete_invoice(int(created["id"]))


def shipped(stack: Stack, invoice_id: int) -> Binding | None:
    return bindings.find(stack.runtime.store, "shipment", f"heartland:invoice:{invoice_id}", "magento")


def wait_shipped(stack: Stack, invoice_id: int) -> Binding:
    stack.wait_for(lambda: shipped(stack, invoice_id) is not None, what=f"the shipment of invoice {invoice_id}")
    binding = shipped(stack, invoice_id)
    assert binding is not None
    return binding


def shipments(stack: Stack, magento_order_id: int) -> list[dict[str, Any]]:
    found = stack.runtime.magento.search_shipments([("order_id", magento_order_id)])
    return sorted(found.get("items") or [], key=lambda s: int(s["entity_id"]))


def invoice_items(stack: Stack, invoice_id: int) -> list[SyncItem]:
    rows = [i for i in items.search(stack.runtime.store, flow="shipments", limit=500)
            if i.entity_key == f"shipments:heartland:transaction:{invoice_id}"]
    return sorted(rows, key=lambda i: i.id)


def settled(stack: Stack, invoice_id: int, count: int) -> list[SyncItem]:
    def ready() -> bool:
        rows = invoice_items(stack, invoice_id)
        return len(rows) >= count and all(i.state not in ("received", "processing") for i in rows)

    stack.wait_for(ready, what=f"{count} settled item(s) of invoice {invoice_id}")
    return invoice_items(stack, invoice_id)


def earlier(record: dict[str, Any], seconds: int) -> str:
    """Another version stamp for a redelivered record, before the real one."""
    stamp = datetime.fromisoformat(str(record["updated_at"]).replace("Z", "+00:00"))
    return (stamp - timedelta(seconds=seconds)).isoformat()


def orders_items(stack: Stack) -> list[SyncItem]:
    return items.search(stack.runtime.store, flow="orders", limit=100)


def shipped_lines(shipment: dict[str, Any]) -> dict[str, float]:
    return {i["sku"]: float(i["qty"]) for i in shipment["items"]}


def test_partial_shipment_then_the_rest_completes_the_order(hooked: Stack) -> None:
    stack = hooked
    order, heartland_order = synced_order(stack, [{"sku": "TEE-1000", "qty": 2}, {"sku": "HOD-1001", "qty": 1}])
    magento_id = int(order["entity_id"])

    first = invoice(stack, heartland_order, ["TEE-1000"], tracking_number="1Z999AA10123456784", carrier="UPS")
    wait_shipped(stack, first["id"])
    [one] = shipments(stack, magento_id)
    assert shipped_lines(one) == {"TEE-1000": 2.0}
    assert [(t["track_number"], t["carrier_code"], t["title"]) for t in one["tracks"]] == \
        [("1Z999AA10123456784", "ups", "United Parcel Service")]
    assert one["email_sent"] == 1, "the customer was not notified"
    assert [c["comment"] for c in one["comments"]] == [f"Heartland invoice #{first['public_id']}"]
    assert stack.magento_get(f"orders/{magento_id}")["state"] == "processing"  # one line still to ship

    # The shop captures the payment in Magento; Magento completes the order once all is shipped too.
    stack.runtime.magento.invoice(magento_id)
    rest = invoice(stack, heartland_order, tracking_number="9400111899223197428490, 9400111899223197428491",
                   carrier="usps")
    wait_shipped(stack, rest["id"])
    first_again, two = shipments(stack, magento_id)
    assert first_again["entity_id"] == one["entity_id"]
    assert shipped_lines(two) == {"HOD-1001": 1.0}
    assert [(t["track_number"], t["carrier_code"]) for t in two["tracks"]] == \
        [("9400111899223197428490", "usps"), ("9400111899223197428491", "usps")]
    assert two["email_sent"] == 1
    magento = stack.magento_get(f"orders/{magento_id}")
    assert magento["state"] == "complete"
    assert {i["sku"]: i["qty_shipped"] for i in magento["items"]} == {"TEE-1000": 2, "HOD-1001": 1}
    assert stack.runtime.heartland.sales_order(heartland_order)["status"] == "complete"
    [done] = [i for i in settled(stack, rest["id"], 1) if i.state == "done"]
    assert "the order is complete" in done.reason
    # Magento's order.updated events of our shipments (and of the capture) reach the orders flow,
    # which knows the order is in Heartland already: nothing goes back.
    stack.wait_for(lambda: len(orders_items(stack)) >= 5 and all(i.state in ("done", "ignored")
                                                                   for i in orders_items(stack)),
                   what="Magento's order events settled")
    assert [i.state for i in orders_items(stack)].count("done") == 1
    assert len([r for r in stack.requests_log(stack.heartland, "/api/sales/orders") if r["method"] == "POST"
                and r["path"].rstrip("/").endswith("sales/orders")]) == 1
    assert not items.search(stack.runtime.store, state="dead")


def test_an_invoice_of_an_order_not_bound_yet_is_shipped_through_our_reference(hooked: Stack) -> None:
    """The orders flow created the Heartland order but had not bound it when Heartland fulfilled it
    (it completes that on its retry): the order's Tillbridge reference names the Magento order."""
    stack = hooked
    order, heartland_order = synced_order(stack, [{"sku": "TEE-1000", "qty": 1}])
    with stack.runtime.store.session() as session:
        session.execute(delete(Binding).where(Binding.entity == "order", Binding.external_id == str(heartland_order)))
    done = invoice(stack, heartland_order, tracking_number="9400100000000000000000", carrier="USPS")
    wait_shipped(stack, done["id"])
    [one] = shipments(stack, int(order["entity_id"]))
    assert shipped_lines(one) == {"TEE-1000": 1.0}
    assert [(t["carrier_code"], t["track_number"]) for t in one["tracks"]] == [("usps", "9400100000000000000000")]


def test_same_invoice_twice_by_webhook_and_poll_makes_one_shipment(hooked: Stack) -> None:
    stack = hooked
    order, heartland_order = synced_order(stack, [{"sku": "CAP-1002", "qty": 1}])
    magento_id = int(order["entity_id"])
    done = invoice(stack, heartland_order, tracking_number="1Z999AA10000000001", carrier="ups")
    binding = wait_shipped(stack, done["id"])
    record = stack.runtime.heartland.invoice(done["id"])

    # Heartland redelivers the same record: a duplicate at the door.
    redelivered = requests.post(stack.heartland_hook_url(), json={**record, "completed?": True}, timeout=10)
    assert redelivered.json()["status"] == "duplicate"
    # A delivery that looks new (another updated_at) reaches the flow, which knows the invoice is shipped.
    again = requests.post(stack.heartland_hook_url(), json={**record, "updated_at": earlier(record, 1)}, timeout=10)
    assert again.status_code == 202, again.text
    rows = settled(stack, done["id"], 2)
    assert [i.state for i in rows].count("done") == 1
    assert all(i.reason.startswith(f"Heartland invoice #{done['public_id']} is already shipped in Magento")
               for i in rows if i.state == "ignored"), [(i.state, i.reason) for i in rows]

    # A run that shipped but died before binding: the next one finds the shipment by our comment.
    with stack.runtime.store.session() as s:
        s.delete(s.get(Binding, binding.id))
    third = requests.post(stack.heartland_hook_url(), json={**record, "updated_at": earlier(record, 2)}, timeout=10)
    assert third.status_code == 202, third.text
    stack.wait_for(lambda: shipped(stack, done["id"]) is not None, what="the binding recovered")
    rows = settled(stack, done["id"], 3)
    assert rows[-1].state == "done" and rows[-1].result["resumed"] is True, (rows[-1].state, rows[-1].reason)

    # A second parcel's number typed in later: the poller sees the edit, the shipment gets a track.
    stack.runtime.heartland.update(f"sales/invoices/{done['id']}",
                                   {"custom": {"tracking_number": "1Z999AA10000000001 1Z999AA10000000002"}})
    stack.wait_for(lambda: len(shipments(stack, magento_id)[0]["tracks"]) == 2, what="the late track")
    [only] = shipments(stack, magento_id)
    assert [t["track_number"] for t in only["tracks"]] == ["1Z999AA10000000001", "1Z999AA10000000002"]
    assert shipped_lines(only) == {"CAP-1002": 1.0}
    late = settled(stack, done["id"], 4)[-1]
    assert (late.state, late.reason) == ("done", f"tracking 1Z999AA10000000002 added to Magento shipment "
                                                 f"{only['entity_id']}")
    assert "(poll)" in late.label
    ship_calls = [r for r in stack.requests_log(stack.magento, "/rest") if r["path"].endswith("/ship")]
    assert len(ship_calls) == 1
    assert not items.search(stack.runtime.store, state="dead")


def test_lost_webhook_is_caught_by_the_poll_and_unknown_lines_or_orders_are_not_shipped(unhooked: Stack) -> None:
    stack = unhooked
    heartland = stack.runtime.heartland
    order, heartland_order = synced_order(stack, [{"sku": "MUG-1003", "qty": 3}])
    magento_id = int(order["entity_id"])

    # A line added in Heartland only, invoiced on its own: Magento has no such item to ship.
    extra = heartland.find_item_by_public_id("BAG-1004")
    assert extra is not None
    location = int(heartland.sales_order_lines(heartland_order)[0]["ship_from_location_id"])
    heartland.add_sales_order_line(heartland_order, {"item_id": extra["id"], "qty": 1,
                                                     "ship_from_location_id": location})
    stray = invoice(stack, heartland_order, ["BAG-1004"], tracking_number="1Z999AA10000000009", carrier="UPS")
    [review] = settled(stack, stray["id"], 1)
    assert review.state == "review", review.reason
    assert "BAG-1004" in review.reason and "not on the Magento order" in review.reason
    assert "Correct the invoice in Heartland" in review.reason
    assert shipments(stack, magento_id) == []

    # The order's own line, its webhook lost, while the order is on hold in Magento: the poll finds
    # the invoice, which waits in review until the order is released and the invoice edited.
    assert stack.runtime.magento.hold(magento_id)
    done = invoice(stack, heartland_order, ["MUG-1003"], tracking_number="PKG-77")
    [held] = settled(stack, done["id"], 1)
    assert held.state == "review" and "is holded in Magento: unhold it" in held.reason, held.reason
    assert "(poll)" in held.label
    assert stack.runtime.magento.unhold(magento_id)
    heartland.update(f"sales/invoices/{done['id']}", {"custom": {"carrier": "Bike Courier Co"}})
    wait_shipped(stack, done["id"])
    [one] = shipments(stack, magento_id)
    assert shipped_lines(one) == {"MUG-1003": 3.0}
    assert [(t["track_number"], t["carrier_code"], t["title"]) for t in one["tracks"]] == \
        [("PKG-77", "custom", "Bike Courier Co")]  # a carrier rules/shipments.yaml does not know

    # A Heartland order Tillbridge did not create: its invoice is left alone, with the reason.
    customer = next(heartland.iterate("customers", per_page=1))
    foreign = heartland.create_sales_order({
        "customer_id": customer["id"], "station_id": int(heartland.stations(location)[0]["id"]),
        "source_location_id": location, "lines": [{"item_id": extra["id"], "qty": 1}]})
    heartland.set_sales_order_status(int(foreign["id"]), "open")
    walk_in = invoice(stack, int(foreign["id"]))
    [ignored] = settled(stack, walk_in["id"], 1)
    assert ignored.state == "ignored"
    assert "did not come from Magento through Tillbridge" in ignored.reason
    assert len(shipments(stack, magento_id)) == 1
    assert not items.search(stack.runtime.store, state="dead")


def test_a_polled_invoice_is_recorded_once_per_version_and_custom_values(runtime: Any) -> None:
    """Heartland stamps whole seconds: a tracking number typed in the second the invoice completed
    keeps its updated_at, and must still be news; the same invoice read again must not be."""
    completed = {"id": 7, "public_id": "40007", "type": "Invoice", "status": "complete",
                 "updated_at": "2026-11-27T10:00:05+00:00", "custom": {}}
    typed_in = {**completed, "custom": {"tracking_number": "1Z1"}}
    later = {**typed_in, "updated_at": "2026-11-27T10:09:00+00:00"}
    older = {**completed, "updated_at": "2026-11-27T09:59:00+00:00", "custom": {"tracking_number": "old"}}
    rounds = [[completed], [completed], [typed_in], [typed_in, completed], [older], [later], [later]]
    created = []
    for invoices in rounds:
        with runtime.store.session() as s:
            created.append(len(record_changes(s, invoices)))
    assert created == [1, 0, 1, 0, 0, 1, 0]
    rows = items.search(runtime.store, flow="shipments")
    assert {(i.entity_key, i.state) for i in rows} == {("shipments:heartland:transaction:7", "received")}
