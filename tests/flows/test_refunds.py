"""Refunds, both ways, end to end: a Magento checkout reaches Heartland through the orders flow and is
invoiced on both sides; a Magento credit memo becomes a Heartland return against the invoice, a
Heartland return becomes a Magento offline credit memo, and neither comes back as a new change.
Sandboxes over HTTP, the real app, real RQ workers and the scheduler as subprocesses."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import delete

from service.flows.refunds import Returnable, allocate, memo_key, price_adjustment, return_key
from service.store import bindings, items
from service.store.tables import Binding, SyncItem
from tests.stack import HEARTLAND_TOKEN, Stack, build_stack

HOOK_TOKEN = "refunds-hook-token-9c4e-long-enough-for-a-real-deployment"
LINES = [{"sku": "TEE-1000", "qty": 2}, {"sku": "HOD-1001", "qty": 1}]


# -- the pure parts ------------------------------------------------------------------------------------

def test_allocate_takes_the_oldest_invoice_first_and_reports_the_shortfall() -> None:
    returnable = [Returnable(invoice_id=9, item_id=1, qty=1), Returnable(invoice_id=7, item_id=1, qty=1),
                  Returnable(invoice_id=7, item_id=2, qty=1)]
    plan, short = allocate({1: 2.0, 2: 3.0}, returnable)
    assert plan == {7: {1: 1.0, 2: 1.0}, 9: {1: 1.0}}
    assert short == {2: 2.0}


def test_price_adjustment_refunds_heartlands_amount() -> None:
    assert price_adjustment(25.0, 25.004) == (0.0, 0.0)
    assert price_adjustment(30.0, 25.0) == (5.0, 0.0)
    assert price_adjustment(20.0, 25.0) == (0.0, 5.0)


# -- the stack -------------------------------------------------------------------------------------------

def start(settings: dict[str, Any], tmp_path: Path, *, webhook: bool) -> Stack:
    s = build_stack({**settings, "POLL_INTERVAL_SECONDS": 1.0, "POLL_OVERLAP_SECONDS": 5.0,
                     "TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN": HOOK_TOKEN}, tmp_path)
    if webhook:
        s.register_heartland_webhook("sales_transaction_completed")
    s.start_worker()
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
    """No Heartland webhook registered: the scheduler's poll alone finds Heartland returns."""
    s = start(settings, tmp_path, webhook=False)
    s.start_scheduler()
    try:
        yield s
    finally:
        s.stop()


def heartland_post(stack: Stack, path: str, body: dict[str, Any]) -> int:
    response = requests.post(f"{stack.heartland.url}/api/{path}", json=body, timeout=10,
                             headers={"Authorization": f"Bearer {HEARTLAND_TOKEN}"})
    assert response.status_code == 201, response.text
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def synced_order(stack: Stack) -> tuple[dict[str, Any], int]:
    """A Magento checkout of two lines, synced to Heartland and invoiced (paid) in Magento:
    (Magento order, Heartland order id)."""
    order = stack.checkout(LINES)
    key = f"magento:default:{order['entity_id']}"
    stack.wait_for(lambda: bindings.find(stack.runtime.store, "order", key, "heartland") is not None,
                   what=f"Magento order #{order['increment_id']} in Heartland")
    bound = bindings.find(stack.runtime.store, "order", key, "heartland")
    assert bound is not None
    stack.magento_post(f"order/{order['entity_id']}/invoice", {"capture": False})
    return stack.magento_get(f"orders/{order['entity_id']}"), int(bound.external_id)


def fulfil(stack: Stack, order_id: int) -> dict[str, Any]:
    """Invoice the whole Heartland order from the location its lines ship from, and complete it."""
    heartland = stack.runtime.heartland
    location = int(heartland.sales_order_lines(order_id)[0]["ship_from_location_id"])
    station = int(heartland.stations(location)[0]["id"])
    created = heartland.create_invoice(order_id, station, location)
    return heartland.complete_invoice(int(created["id"]))


def order_item(order: dict[str, Any], sku: str) -> dict[str, Any]:
    return next(i for i in order["items"] if i["sku"] == sku and not i.get("parent_item_id"))


def refund_items(stack: Stack) -> list[SyncItem]:
    return sorted(items.search(stack.runtime.store, flow="refunds", limit=500), key=lambda i: i.id)


def settled(stack: Stack, count: int) -> list[SyncItem]:
    def ready() -> bool:
        rows = refund_items(stack)
        return len(rows) >= count and all(i.state not in ("received", "processing") for i in rows)

    stack.wait_for(ready, what=f"{count} settled refunds item(s)")
    rows = refund_items(stack)
    dead = [(i.label, i.reason) for i in rows if i.state == "dead"]
    assert not dead, dead
    return rows


def wait_binding(stack: Stack, entity: str, key: str, system: str) -> Binding:
    stack.wait_for(lambda: bindings.find(stack.runtime.store, entity, key, system) is not None,
                   what=f"the {entity} binding {key}")
    binding = bindings.find(stack.runtime.store, entity, key, system)
    assert binding is not None
    return binding


def forget(stack: Stack, entity: str, key: str) -> None:
    """Drop a binding, as if the run that wrote to the target had died just before binding."""
    with stack.runtime.store.session() as session:
        session.execute(delete(Binding).where(Binding.entity == entity, Binding.key == key))


def returns_of(stack: Stack, invoice_id: int) -> list[dict[str, Any]]:
    heartland = stack.runtime.heartland
    return [heartland.ticket(int(t["id"]), include=("lines",)) for t in heartland.returns_for(invoice_id)]


def on_hand(stack: Stack, item_id: int, location_id: int) -> float:
    rows = stack.runtime.heartland.inventory_values([item_id], [location_id])
    return float(rows[0]["qty_on_hand"]) if rows else 0.0


def creditmemos(stack: Stack, order_id: int) -> list[dict[str, Any]]:
    found = stack.runtime.magento.search_creditmemos([("order_id", order_id)])
    return sorted(found.get("items") or [], key=lambda m: int(m["entity_id"]))


def till_return(stack: Stack, invoice: dict[str, Any], sku: str, qty: float) -> int:
    """A return rung up at the till against the web order's invoice, at the price it was sold for."""
    line = next(li for li in stack.runtime.heartland.invoice_lines(int(invoice["id"])) if li["item_public_id"] == sku)
    return heartland_post(stack, "sales/tickets", {
        "type": "Return", "parent_transaction_id": invoice["id"], "station_id": invoice["station_id"],
        "customer_id": invoice["customer_id"], "status": "complete",
        "lines": [{"item_id": line["item_id"], "qty": -qty, "unit_price": line["unit_price"],
                   "adjusted_unit_price": line["adjusted_unit_price"]}]})


# -- Magento → Heartland -----------------------------------------------------------------------------

def test_partial_credit_memo_becomes_one_heartland_return_and_its_echo_is_ignored(hooked: Stack) -> None:
    stack = hooked
    order, heartland_order = synced_order(stack)
    magento_id = int(order["entity_id"])
    tee, hoodie = order_item(order, "TEE-1000"), order_item(order, "HOD-1001")

    # Refunded in Magento before Heartland handed anything over: the hoodie comes off the open
    # Heartland order (its committed stock released), the money is a negative payment on it.
    heartland = stack.runtime.heartland
    early = stack.magento_post(f"order/{magento_id}/refund", {
        "items": [{"order_item_id": hoodie["item_id"], "qty": 1}], "arguments": {"shipping_amount": 0}})
    [first] = settled(stack, 1)
    assert first.state == "done", first.reason
    assert first.reason.startswith("refunded before fulfilment: Heartland order #") and " reduced, " in first.reason
    early_memo = stack.magento_get(f"creditmemo/{early}")

    def unshipped_state() -> tuple[list[tuple[str, float]], list[float]]:
        lines = sorted((li["item_public_id"], li["qty"]) for li in heartland.sales_order_lines(heartland_order))
        refunds = [p["amount"] for p in heartland.sales_order_payments(heartland_order) if p["amount"] < 0]
        return lines, refunds

    assert unshipped_state() == ([("TEE-1000", 2)], [pytest.approx(-float(early_memo["grand_total"]))])
    assert heartland.sales_order(heartland_order)["status"] == "open"
    # Delivered again, and again after its binding was lost: the order and the refund stay as they are.
    assert stack.send_event("creditmemo.created", early_memo).status_code == 202
    replayed = settled(stack, 2)[-1]
    number = heartland.sales_order(heartland_order)["public_id"]
    assert (replayed.state, replayed.reason) == ("ignored", f"Magento credit memo #{early_memo['increment_id']} is "
                                                 f"already in Heartland as a refund on order #{number}")
    forget(stack, "creditmemo", memo_key("default", early))
    assert stack.send_event("creditmemo.created", early_memo).status_code == 202
    assert settled(stack, 3)[-1].state == "done"
    assert unshipped_state() == ([("TEE-1000", 2)], [pytest.approx(-float(early_memo["grand_total"]))])

    invoice = fulfil(stack, heartland_order)
    location, tee_id = int(invoice["source_location_id"]), int(stack.runtime.heartland.find_item_by_public_id(
        "TEE-1000")["id"])
    stock_before = on_hand(stack, tee_id, location)
    count = len(refund_items(stack))

    # One unit of one of the two lines still refundable (partial line, partial order).
    memo_id = stack.magento_post(f"order/{magento_id}/refund", {
        "items": [{"order_item_id": tee["item_id"], "qty": 1}], "arguments": {"shipping_amount": 0}})
    binding = wait_binding(stack, "creditmemo", memo_key("default", memo_id), "heartland")
    [made] = returns_of(stack, int(invoice["id"]))
    assert binding.external_id == str(made["id"]) and binding.external_ref == made["public_id"]
    assert made["type"] == "Return" and made["status"] == "complete"
    assert made["parent_transaction_id"] == invoice["id"]
    assert made["custom"]["tillbridge_ref"] == f"magento-creditmemo:default:{memo_id}"
    [line] = [li for li in made["lines"] if li["type"] == "ItemLine"]
    assert (line["item_public_id"], line["qty"]) == ("TEE-1000", -1)
    assert line["adjusted_unit_price"] == pytest.approx(float(tee["row_total"]) / float(tee["qty_ordered"]))
    assert on_hand(stack, tee_id, location) == stock_before + 1  # rules: restock at the invoice's location
    # The money paid back is the return's tender: the return balances.
    paid = stack.runtime.heartland.ticket(int(made["id"]))
    [tender] = paid["payments"]
    assert tender["amount"] == pytest.approx(paid["total"]) and paid["total"] < 0 and paid["balance"] == 0
    assert tender["deposit"] is False and "credit memo" in tender["description"]

    # Heartland's webhook of our return comes back: ignored, naming the credit memo it came from.
    memo = stack.magento_get(f"creditmemo/{memo_id}")
    stack.wait_for(lambda: any(i.payload.get("kind") == "transaction" for i in refund_items(stack)[count:]),
                   what="Heartland's webhook of our return")
    rows = settled(stack, count + 2)
    echo = next(i for i in rows[count:] if i.payload.get("kind") == "transaction")
    assert (echo.state, echo.reason) == ("ignored", f"created by Tillbridge from Magento credit memo "
                                                    f"#{memo['increment_id']}")

    # The same credit memo event delivered again (twice): one return still.
    for _ in range(2):
        assert stack.send_event("creditmemo.created", memo).status_code == 202
    rows = settled(stack, count + 4)
    again = [i for i in rows if i.payload.get("event") == "creditmemo.created" and i.id > echo.id]
    assert [i.state for i in again] == ["ignored", "ignored"]
    assert all(i.reason == f"Magento credit memo #{memo['increment_id']} is already in Heartland as return "
                           f"#{made['public_id']}" for i in again)
    assert len(returns_of(stack, int(invoice["id"]))) == 1

    # A run that created the return but died before binding it: the retry finds it by our reference.
    forget(stack, "creditmemo", memo_key("default", memo_id))
    assert stack.send_event("creditmemo.created", memo).status_code == 202
    rows = settled(stack, count + 5)
    assert (rows[-1].state, rows[-1].result.get("resumed")) == ("done", True), rows[-1].reason
    assert len(returns_of(stack, int(invoice["id"]))) == 1
    wait_binding(stack, "creditmemo", memo_key("default", memo_id), "heartland")


def test_an_order_refunded_in_full_before_fulfilment_is_cancelled_in_heartland(hooked: Stack) -> None:
    stack = hooked
    order, heartland_order = synced_order(stack)
    heartland = stack.runtime.heartland
    tee_id = int(heartland.find_item_by_public_id("TEE-1000")["id"])
    location = int(heartland.sales_order_lines(heartland_order)[0]["ship_from_location_id"])
    committed = heartland.inventory_values([tee_id], [location])[0]["qty_committed"]
    memo_id = stack.magento_post(f"order/{order['entity_id']}/refund", {
        "items": [{"order_item_id": i["item_id"], "qty": i["qty_ordered"]} for i in order["items"]
                  if not i.get("parent_item_id")]})
    [item] = settled(stack, 1)
    assert item.state == "done" and " cancelled, " in item.reason, item.reason
    assert heartland.sales_order(heartland_order)["status"] == "cancelled"
    assert heartland.inventory_values([tee_id], [location])[0]["qty_committed"] == committed - 2
    memo = stack.magento_get(f"creditmemo/{memo_id}")
    payments = heartland.sales_order_payments(heartland_order)
    assert sum(p["amount"] for p in payments) == pytest.approx(float(order["grand_total"]) - float(memo["grand_total"]))


# -- Heartland → Magento -----------------------------------------------------------------------------

def test_partial_heartland_return_becomes_an_offline_credit_memo_and_its_echo_is_ignored(hooked: Stack) -> None:
    stack = hooked
    order, heartland_order = synced_order(stack)
    magento_id = int(order["entity_id"])
    invoice = fulfil(stack, heartland_order)

    ticket_id = till_return(stack, invoice, "HOD-1001", 1)  # one of the two lines
    binding = wait_binding(stack, "return", return_key(ticket_id), "magento")
    [memo] = creditmemos(stack, magento_id)
    assert binding.external_id == str(memo["entity_id"])
    assert [(i["sku"], i["qty"]) for i in memo["items"]] == [("HOD-1001", 1)]
    hoodie = order_item(order, "HOD-1001")
    assert memo["grand_total"] == pytest.approx(float(hoodie["row_total"]) + float(hoodie.get("tax_amount") or 0))
    assert memo["shipping_amount"] == 0
    number = stack.heartland_get(f"sales/tickets/{ticket_id}")["public_id"]
    assert [c["comment"] for c in memo["comments"]] == [f"Refund of Heartland return #{number} "
                                                        f"(heartland-return:{ticket_id})"]
    after = stack.magento_get(f"orders/{magento_id}")
    assert order_item(after, "HOD-1001")["qty_refunded"] == 1
    assert order_item(after, "TEE-1000")["qty_refunded"] == 0

    # Magento's creditmemo.created of our memo comes back: ignored, naming the Heartland return.
    stack.wait_for(lambda: any(i.payload.get("event") == "creditmemo.created" for i in refund_items(stack)),
                   what="Magento's event of our credit memo")
    rows = settled(stack, 2)
    [echo] = [i for i in rows if i.payload.get("event") == "creditmemo.created"]
    assert (echo.state, echo.reason) == ("ignored", f"created by Tillbridge from Heartland return #{number}")

    # Heartland delivers the return again, changed (a custom value set after the fact): one memo still.
    record = stack.heartland_get(f"sales/tickets/{ticket_id}")
    record["updated_at"] = "2026-11-27T23:59:59+00:00"
    response = requests.post(stack.heartland_hook_url(), data=json.dumps(record), timeout=10,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 202, response.text
    rows = settled(stack, 3)
    assert (rows[-1].state, rows[-1].reason) == (
        "ignored", f"Heartland return #{number} is already in Magento as credit memo #{memo['increment_id']}")
    assert len(creditmemos(stack, magento_id)) == 1

    # A run that made the credit memo but died before binding it: the retry finds it by its comment.
    forget(stack, "return", return_key(ticket_id))
    record["updated_at"] = "2026-11-28T00:00:01+00:00"
    response = requests.post(stack.heartland_hook_url(), data=json.dumps(record), timeout=10,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 202, response.text
    rows = settled(stack, 4)
    assert (rows[-1].state, rows[-1].result.get("resumed")) == ("done", True), rows[-1].reason
    assert len(creditmemos(stack, magento_id)) == 1

    # More than the invoice sold goes to review, saying what to fix; nothing reaches Magento.
    too_many = till_return(stack, invoice, "TEE-1000", 3)
    stack.wait_for(lambda: any(i.entity_key.endswith(f":{too_many}") and i.state == "review"
                               for i in refund_items(stack)), what="the over-return in review")
    [review] = [i for i in refund_items(stack) if i.entity_key.endswith(f":{too_many}")]
    assert "returns 3 of TEE-1000 but invoice" in review.reason and "correct the return in Heartland" in review.reason
    assert len(creditmemos(stack, magento_id)) == 1

    # A till sale's return (seeded: its parent is a POS ticket) is not Magento's business.
    seeded = stack.heartland_get("sales/tickets", _filter=json.dumps({"type": "Return"}), per_page=1)["results"][0]
    seeded["updated_at"] = "2026-11-27T23:59:58+00:00"
    response = requests.post(stack.heartland_hook_url(), data=json.dumps(seeded), timeout=10,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 202, response.text
    stack.wait_for(lambda: any(i.entity_key.endswith(f":{seeded['id']}") and i.state == "ignored"
                               for i in refund_items(stack)), what="the till return ignored")
    [till] = [i for i in refund_items(stack) if i.entity_key.endswith(f":{seeded['id']}")]
    assert "not the invoice of a web order" in till.reason


# -- polling backstop ----------------------------------------------------------------------------------

def test_a_lost_heartland_return_webhook_is_caught_by_the_poll(unhooked: Stack) -> None:
    stack = unhooked
    order, heartland_order = synced_order(stack)
    invoice = fulfil(stack, heartland_order)
    ticket_id = till_return(stack, invoice, "TEE-1000", 2)  # no webhook is registered: only the poll sees it

    wait_binding(stack, "return", return_key(ticket_id), "magento")
    [memo] = creditmemos(stack, int(order["entity_id"]))
    assert [(i["sku"], i["qty"]) for i in memo["items"]] == [("TEE-1000", 2)]
    # Later polls read the return again (overlap) and the Magento poll reads our memo, which Magento's
    # own event already brought: each record has one item, one of them done.
    stack.wait_for(lambda: sum(1 for i in refund_items(stack) if i.payload.get("event") == "creditmemo.created") >= 1,
                   what="Magento's event of our credit memo")
    time.sleep(2.5)
    rows = settled(stack, 2)
    assert [(i.payload.get("kind") or i.payload.get("event"), i.state) for i in rows] == [
        ("transaction", "done"), ("creditmemo.created", "ignored")], [(i.label, i.state, i.reason) for i in rows]
    assert rows[0].label.endswith("(poll)")


def test_credit_memo_of_an_order_tillbridge_does_not_know_is_ignored(hooked: Stack) -> None:
    stack = hooked
    # A seeded Magento order, refunded: it never went to Heartland through Tillbridge.
    order = next(o for o in stack.magento_get("orders", **{"searchCriteria[pageSize]": 50})["items"]
                 if o["state"] == "processing" and float(o.get("total_paid") or 0) > float(o.get("total_refunded") or 0))
    memo_id = stack.magento_post(f"order/{order['entity_id']}/refund", {"arguments": {"shipping_amount": 0}})
    [item] = settled(stack, 1)
    assert item.state == "ignored"
    assert item.reason == (f"Magento credit memo #{stack.magento_get(f'creditmemo/{memo_id}')['increment_id']} "
                           f"refunds Magento order {order['entity_id']}, which Tillbridge never sent to Heartland: "
                           "there is no Heartland sale to return")
