"""Payments, Magento → Heartland, end to end: both sandboxes over HTTP, the real app, real RQ workers
and the scheduler as subprocesses. Captures after the order synced, repeated events, a payment
gateway failure, refunds of payments, and card data."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from service.flows.payments import Payments, card_fields
from service.store import bindings, items
from tests.stack import Stack, build_stack

CARD_FIELDS_ALLOWED = {"magento_capture", "transaction_id", "card_type", "card_last4", "magento_refund"}


def heartland_order(stack: Stack, number: str) -> dict[str, Any]:
    rows = [r for r in stack.heartland_orders() if str((r.get("custom") or {}).get("magento_order_number")) == number]
    assert len(rows) == 1, f"Magento order #{number} is in Heartland {len(rows)} times"
    return rows[0]


def payments_of(stack: Stack, order_id: int) -> list[dict[str, Any]]:
    return list(stack.heartland_get(f"sales/orders/{order_id}/payments")["results"])


def synced(stack: Stack, *orders: dict[str, Any]) -> bool:
    dead = items.search(stack.runtime.store, state="dead")
    assert not dead, f"dead items: {[(i.label, i.reason) for i in dead]}"
    return all(bindings.find(stack.runtime.store, "order", f"magento:default:{o['entity_id']}", "heartland")
               for o in orders)


def test_a_capture_after_the_order_synced_is_one_heartland_payment(stack: Stack) -> None:
    stack.start_worker()
    stack.start_scheduler()
    card = stack.checkout([{"sku": "TEE-1000", "qty": 2}], payment_method="braintree")
    check = stack.checkout([{"sku": "MUG-1003", "qty": 1}])
    assert card["state"] == "processing" and card["payment"]["amount_authorized"] == card["grand_total"]
    stack.wait_for(lambda: synced(stack, card, check), timeout=60, what="both orders synced")
    card_row = heartland_order(stack, card["increment_id"])
    check_row = heartland_order(stack, check["increment_id"])
    # Authorize-only: nothing is taken yet, so nothing is recorded; check / money order: the deposit.
    assert payments_of(stack, card_row["id"]) == []
    assert [p["amount"] for p in payments_of(stack, check_row["id"])] == [pytest.approx(check["grand_total"])]

    invoice_id = stack.magento_post(f"order/{card['entity_id']}/invoice", {"capture": True})
    stack.magento_post(f"order/{check['entity_id']}/invoice", {})  # offline: the deposit covers it

    def captured() -> bool:
        return len(payments_of(stack, card_row["id"])) == 1

    stack.wait_for(captured, timeout=60, what="the capture in Heartland")
    invoice = stack.magento_get(f"invoices/{invoice_id}")
    [payment] = payments_of(stack, card_row["id"])
    assert payment["amount"] == pytest.approx(invoice["grand_total"]) and payment["status"] == "complete"
    assert payment["deposit"] is True and payment["payment_type_name"] == "Credit Card"
    assert payment["custom"] == {"magento_capture": f"invoice:{invoice_id}",
                                 "transaction_id": invoice["transaction_id"],
                                 "card_type": card["payment"]["cc_type"], "card_last4": card["payment"]["cc_last4"]}

    def recorded() -> list[Any]:
        return [i for i in items.search(stack.runtime.store, state="done") if "recorded captures" in i.reason]

    # The payment is in Heartland a moment before the worker records its item as done.
    stack.wait_for(lambda: bool(recorded()), timeout=30, what="the capture's item done")
    done = recorded()
    assert len(done) == 1
    names = [s.step for s in items.steps(stack.runtime.store, done[0].id)]
    assert "captures" in names

    # The same capture again: the event repeated (new event ids), and a run that lost what it had
    # recorded (as after a crash between the Heartland write and the binding) both find it in Heartland.
    data = stack.magento_get(f"orders/{card['entity_id']}")
    key = f"magento:default:{card['entity_id']}"
    binding = bindings.find(stack.runtime.store, "order", key, "heartland")
    assert binding is not None and binding.data["payments"]["captured"] == pytest.approx(invoice["grand_total"])
    before = stack.states()
    for _ in range(2):
        assert stack.send_event("order.updated", data).status_code == 202
    bindings.bind(stack.runtime.store, entity="order", key=key, system="heartland",
                  external_id=binding.external_id, data={"payments": {"mode": "capture", "captured": 0.0,
                                                                      "keys": [], "failed": []}})
    assert stack.send_event("order.updated", data).status_code == 202
    stack.wait_for(lambda: stack.settled(sum(before.values()) + 3), timeout=60, what="the repeated events")
    assert len(payments_of(stack, card_row["id"])) == 1
    assert len(payments_of(stack, check_row["id"])) == 1

    # Card data: only the type and the last 4 digits ever reached Heartland.
    for r in stack.requests_log(stack.heartland, "/payments"):
        body = r.get("body") or {}
        if isinstance(body, dict):
            assert set(body.get("custom") or {}) <= CARD_FIELDS_ALLOWED, body
            assert not {"cc_exp_month", "cc_exp_year", "cc_owner", "cc_number"} & set(body)
    assert card_fields({"cc_type": "VI", "cc_last4": "4111111111111111", "cc_exp_year": "2029",
                        "cc_owner": "Ann Smith"}) == {"card_type": "VI"}

    # A refund of the payment, while Heartland has not fulfilled the order: a negative payment, once.
    payments = Payments(stack.runtime)
    refund_id, created = payments.record_refund(card_row["id"], data, key="creditmemo:1", amount=10.0)
    again_id, again = payments.record_refund(card_row["id"], data, key="creditmemo:1", amount=10.0)
    assert created and not again and again_id == refund_id
    refund = next(p for p in payments_of(stack, card_row["id"]) if p["id"] == refund_id)
    assert refund["amount"] == -10.0 and refund["custom"]["magento_refund"] == "creditmemo:1"
    totals = stack.heartland_get(f"sales/orders/{card_row['id']}")
    assert totals["total_paid"] == pytest.approx(invoice["grand_total"] - 10.0)


def test_a_payment_gateway_failure_marks_the_payment_failed_tells_the_customer_and_goes_to_review(
        stack: Stack) -> None:
    stack.start_worker()
    stack.start_scheduler()
    order = stack.checkout([{"sku": "HOD-1001", "qty": 1}], payment_method="braintree")
    stack.wait_for(lambda: synced(stack, order), timeout=60, what="the order synced")
    row = heartland_order(stack, order["increment_id"])
    response = requests.post(f"{stack.magento.url}/__sandbox/gateway", timeout=5,
                             json={"captures": "decline", "order_id": order["entity_id"], "code": "2001",
                                   "message": "Insufficient Funds"})
    assert response.status_code == 200, response.text
    invoice_id = stack.magento_post(f"order/{order['entity_id']}/invoice", {"capture": True})

    stack.wait_for(lambda: bool(items.search(stack.runtime.store, state="review")), timeout=60,
                   what="the payment failure in review")
    [item] = items.search(stack.runtime.store, state="review")
    assert f"Magento order #{order['increment_id']}" in item.reason
    assert "declined the capture" in item.reason and "Insufficient Funds" in item.reason and "2001" in item.reason
    assert "marked failed" in item.reason and "customer was notified" in item.reason
    assert "Next: take the payment again in Magento" in item.reason

    invoice = stack.magento_get(f"invoices/{invoice_id}")
    [payment] = payments_of(stack, row["id"])
    assert payment["status"] == "failed" and payment["amount"] == pytest.approx(invoice["grand_total"])
    assert payment["custom"]["transaction_id"] == invoice["transaction_id"]
    assert stack.heartland_get(f"sales/orders/{row['id']}")["total_paid"] == 0

    magento = stack.magento_get(f"orders/{order['entity_id']}")
    assert magento["state"] == "payment_review" and magento["status"] == "payment_review"
    told = [h for h in magento["status_histories"] if "We could not take the payment" in (h.get("comment") or "")]
    assert len(told) == 1
    assert told[0]["is_customer_notified"] == 1 and told[0]["is_visible_on_front"] == 1
    assert "Insufficient Funds" in told[0]["comment"] and order["increment_id"] in told[0]["comment"]
    steps = [s.step for s in items.steps(stack.runtime.store, item.id)]
    for name in ("gateway failure", "heartland payment", "magento comment"):
        assert name in steps

    # Our comment comes back as order.updated: it waits on the review (one review per order), no
    # second review, no second write.
    def echo_ignored() -> bool:
        return any(f"is already waiting in review (item {item.id})" in i.reason
                   for i in items.search(stack.runtime.store, state="ignored"))

    stack.wait_for(echo_ignored, timeout=30, what="the echo of our comment")
    assert len(items.search(stack.runtime.store, state="review")) == 1
    assert len(payments_of(stack, row["id"])) == 1
    assert not items.search(stack.runtime.store, state="dead")


def test_a_failure_status_magento_does_not_assign_still_tells_the_customer(settings: dict[str, Any],
                                                                         tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(Path(__file__).resolve().parents[2] / "rules", rules)
    methods = yaml.safe_load((rules / "payment_methods.yaml").read_text())
    methods["gateway_failure"]["magento_status"] = "payment_failed"  # a status nobody assigned in Magento
    (rules / "payment_methods.yaml").write_text(yaml.safe_dump(methods))
    stack = build_stack({**settings, "RULES_DIR": str(rules)}, tmp_path)
    try:
        stack.start_worker()
        stack.start_scheduler()
        order = stack.checkout([{"sku": "CAP-1002", "qty": 1}], payment_method="paypal_express")
        stack.wait_for(lambda: synced(stack, order), timeout=60, what="the order synced")
        requests.post(f"{stack.magento.url}/__sandbox/gateway", json={"captures": "decline"},
                      timeout=5).raise_for_status()
        stack.magento_post(f"order/{order['entity_id']}/invoice", {"capture": True})
        stack.wait_for(lambda: bool(items.search(stack.runtime.store, state="review")), timeout=60,
                       what="the payment failure in review")
        [item] = items.search(stack.runtime.store, state="review")
        assert "without status 'payment_failed'" in item.reason and "Stores > Order Status" in item.reason
        magento = stack.magento_get(f"orders/{order['entity_id']}")
        assert magento["status"] == "payment_review"
        told = [h for h in magento["status_histories"] if "We could not take the payment" in (h.get("comment") or "")]
        assert len(told) == 1 and told[0]["is_customer_notified"] == 1 and told[0]["is_visible_on_front"] == 1
        [payment] = payments_of(stack, heartland_order(stack, order["increment_id"])["id"])
        assert payment["status"] == "failed" and payment["payment_type_name"] == "PayPal"
    finally:
        stack.stop()


def test_a_capture_after_heartland_fulfilled_the_order_is_paid_on_its_invoice_once(stack: Stack) -> None:
    stack.start_worker()
    stack.start_scheduler()
    order = stack.checkout([{"sku": "TEE-1000", "qty": 2}, {"sku": "MUG-1003", "qty": 1}],
                           payment_method="braintree")
    stack.wait_for(lambda: synced(stack, order), timeout=60, what="the order synced")
    row = heartland_order(stack, order["increment_id"])
    heartland = stack.runtime.heartland

    # Heartland ships it before Magento captures (authorize-only card): the order is complete.
    location = int(heartland.sales_order_lines(row["id"])[0]["ship_from_location_id"])
    station = int(heartland.stations(location)[0]["id"])
    fulfilled = heartland.complete_invoice(int(heartland.create_invoice(row["id"], station, location)["id"]))
    assert heartland.sales_order(row["id"])["status"] == "complete"

    invoice_id = stack.magento_post(f"order/{order['entity_id']}/invoice", {"capture": True})
    magento_invoice = stack.magento_get(f"invoices/{invoice_id}")

    def invoice_payments() -> list[dict[str, Any]]:
        return list(stack.heartland_get(f"sales/invoices/{fulfilled['id']}/payments")["results"])

    stack.wait_for(lambda: bool(invoice_payments()), timeout=60, what="the capture on the Heartland invoice")
    [payment] = invoice_payments()
    assert payment["amount"] == pytest.approx(magento_invoice["grand_total"]) and payment["status"] == "complete"
    assert payment["deposit"] is False and payment["payment_type_name"] == "Credit Card"
    assert payment["custom"] == {"magento_capture": f"invoice:{invoice_id}",
                                 "transaction_id": magento_invoice["transaction_id"],
                                 "card_type": order["payment"]["cc_type"], "card_last4": order["payment"]["cc_last4"]}
    assert payments_of(stack, row["id"]) == []
    totals = stack.heartland_get(f"sales/orders/{row['id']}")
    assert totals["total_paid"] == pytest.approx(magento_invoice["grand_total"])
    assert totals["balance"] == pytest.approx(totals["total"] - magento_invoice["grand_total"])  # Magento adds tax
    [done] = [i for i in items.search(stack.runtime.store, state="done") if "recorded captures" in i.reason]
    assert f"on Heartland invoice #{fulfilled['public_id']}" in done.reason

    # The capture's event again, and a run that lost what it recorded (a crash before the binding):
    # both read Heartland's invoices first and record nothing more.
    data = stack.magento_get(f"orders/{order['entity_id']}")
    key = f"magento:default:{order['entity_id']}"
    binding = bindings.find(stack.runtime.store, "order", key, "heartland")
    assert binding is not None
    before = stack.states()
    assert stack.send_event("order.updated", data).status_code == 202
    bindings.bind(stack.runtime.store, entity="order", key=key, system="heartland", external_id=binding.external_id,
                  external_ref=binding.external_ref,
                  data={"payments": {"mode": "capture", "captured": 0.0, "keys": [], "failed": []}})
    assert stack.send_event("order.updated", data).status_code == 202
    stack.wait_for(lambda: stack.settled(sum(before.values()) + 2), timeout=60, what="the repeated events")
    assert len(invoice_payments()) == 1 and payments_of(stack, row["id"]) == []
    assert not items.search(stack.runtime.store, state="dead")

    # A refund after that: a Return against the same invoice whose tender balances it, and the money
    # in Heartland nets to what Magento kept.
    mug = next(i for i in order["items"] if i["sku"] == "MUG-1003" and not i.get("parent_item_id"))
    memo_id = stack.magento_post(f"order/{order['entity_id']}/refund", {
        "items": [{"order_item_id": mug["item_id"], "qty": 1}], "arguments": {"shipping_amount": 0}})
    memo = stack.magento_get(f"creditmemo/{memo_id}")
    stack.wait_for(lambda: bool(heartland.returns_for(int(fulfilled["id"]))), timeout=60, what="the Heartland return")
    [returned] = heartland.returns_for(int(fulfilled["id"]))
    ticket = heartland.ticket(int(returned["id"]))
    [tender] = ticket["payments"]
    assert ticket["total"] == pytest.approx(-float(memo["grand_total"])) and ticket["balance"] == 0
    assert tender["amount"] == pytest.approx(ticket["total"]) and tender["payment_type_name"] == "Credit Card"
    kept = float(stack.magento_get(f"orders/{order['entity_id']}")["total_paid"]) - float(memo["grand_total"])
    assert sum(p["amount"] for p in invoice_payments()) + tender["amount"] == pytest.approx(kept)

    # Every event of this order so far has settled: nothing dead, the capture recorded once.
    stack.wait_for(lambda: stack.states().get("received", 0) + stack.states().get("processing", 0) == 0,
                   timeout=60, what="every item settled")
    assert not items.search(stack.runtime.store, state="dead")
    assert len(invoice_payments()) == 1


def test_a_capture_of_an_order_heartland_cancelled_unfulfilled_goes_to_review(stack: Stack) -> None:
    stack.start_worker()
    order = stack.checkout([{"sku": "CAP-1002", "qty": 1}], payment_method="paypal_express")
    stack.wait_for(lambda: synced(stack, order), timeout=60, what="the order synced")
    row = heartland_order(stack, order["increment_id"])
    stack.runtime.heartland.set_sales_order_status(row["id"], "cancelled")
    stack.magento_post(f"order/{order['entity_id']}/invoice", {"capture": True})

    stack.wait_for(lambda: bool(items.search(stack.runtime.store, state="review")), timeout=60,
                   what="the capture in review")
    [item] = items.search(stack.runtime.store, state="review")
    assert f"Heartland order #{row['public_id']} is cancelled and has no complete invoice" in item.reason
    assert "refund the payment in Magento" in item.reason
    assert payments_of(stack, row["id"]) == []
    assert not items.search(stack.runtime.store, state="dead")
