"""/v1 over the whole stack: both sandboxes, the web service, a real worker and the scheduler.

An order created through the API reaches Heartland once, however often the client retries; a
subscriber receives ``order.synced`` once, signed; a failing subscriber is retried, then disabled
when it answers 410.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from service.store.users import create_token, create_user
from tests.stack import HEARTLAND_TOKEN, Stack, build_stack

FAST_WEBHOOKS = {"WEBHOOKS_ALLOW_PRIVATE_URLS": True, "WEBHOOK_RETRY_SCHEDULE": "0.5,0.5",
                 "WEBHOOK_TIMEOUT_SECONDS": 3, "POLL_INTERVAL_SECONDS": 0, "DRIFT_INTERVAL_SECONDS": 0,
                 "RECONCILIATION_INTERVAL_SECONDS": 0}
ORDER = {
    "channel": "phone", "external_id": "PH-1", "email": "cara@example.com", "first_name": "Cara",
    "last_name": "Moss", "billing": {"street": ["5 High St"], "city": "Leeds", "postcode": "LS1 4AP", "country": "GB"},
    "lines": [{"sku": "TEE-1000", "quantity": 2, "unit_price": 1999}], "total": 3998,
}


class Subscriber:
    """An HTTP endpoint on a thread that records what it receives and answers the next status given."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.answers: list[int] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.received.append({"headers": dict(self.headers), "body": body})
                status = owner.answers.pop(0) if owner.answers else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [r for r in self.received if json.loads(r["body"])["type"] == event_type]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stack(settings: dict[str, Any], tmp_path: Path) -> Iterator[Stack]:
    s = build_stack({**settings, **FAST_WEBHOOKS}, tmp_path)
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def subscriber() -> Iterator[Subscriber]:
    sub = Subscriber()
    yield sub
    sub.stop()


def _token(stack: Stack) -> dict[str, str]:
    create_user(stack.runtime.store, "ivy", "a-long-password-123", "integrator")
    _, token = create_token(stack.runtime.store, "ivy", "scenario")
    return {"Authorization": f"Bearer {token}"}


def test_an_order_through_v1_reaches_heartland_once_and_its_subscriber_hears_once(
        stack: Stack, subscriber: Subscriber) -> None:
    headers = _token(stack)
    api = f"{stack.web.url}/v1"
    hook = requests.post(f"{api}/webhooks", json={"url": subscriber.url, "events": ["order.synced", "order.created"]},
                         headers=headers, timeout=10)
    assert hook.status_code == 201, hook.text
    secret = hook.json()["secret"]
    assert secret.startswith("whsec_")
    assert "secret" not in requests.get(f"{api}/webhooks/{hook.json()['id']}", headers=headers, timeout=10).json()

    stack.start_worker()
    stack.start_scheduler()
    keyed = {**headers, "Idempotency-Key": "order-PH-1"}
    first = requests.post(f"{api}/orders", json=ORDER, headers=keyed, timeout=10)
    again = requests.post(f"{api}/orders", json=ORDER, headers=keyed, timeout=10)
    assert first.status_code == 202 and again.status_code == 202, (first.text, again.text)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"

    order_url = f"{stack.web.url}{first.headers['Location']}"
    stack.wait_for(lambda: requests.get(order_url, headers=headers, timeout=10).json()["sync"]["state"] == "done",
                   timeout=60, what="the API order to reach Heartland")
    order = requests.get(order_url, headers=headers, timeout=10).json()
    assert order["heartland"]["number"]
    ours = [o for o in stack.heartland_orders()
            if (o.get("custom") or {}).get("tillbridge_ref") == "channel:phone:PH-1"]
    assert len(ours) == 1, ours

    stack.wait_for(lambda: len(subscriber.of_type("order.synced")) >= 1, timeout=30, what="order.synced")
    stack.wait_for(lambda: len(subscriber.of_type("order.created")) >= 1, timeout=30, what="order.created")
    synced = subscriber.of_type("order.synced")
    assert len(synced) == 1
    delivered = synced[0]
    verified = Webhook(secret).verify(delivered["body"], {k.lower(): v for k, v in delivered["headers"].items()})
    assert verified["data"]["id"] == "channel:phone:PH-1"
    assert verified["data"]["heartland"]["number"] == order["heartland"]["number"]
    assert len(subscriber.of_type("order.synced")) == 1  # the scheduler's later scans add nothing


def test_a_failing_subscriber_is_retried_then_disabled_on_410(stack: Stack, subscriber: Subscriber) -> None:
    headers = _token(stack)
    api = f"{stack.web.url}/v1"
    hook = requests.post(f"{api}/webhooks", json={"url": subscriber.url, "events": ["order.created"]},
                         headers=headers, timeout=10).json()
    subscriber.answers = [500, 503, 410]
    stack.start_worker()
    stack.start_scheduler()
    assert requests.post(f"{api}/orders", json=ORDER, headers=headers, timeout=10).status_code == 202
    stack.wait_for(lambda: len(subscriber.received) >= 3, timeout=60, what="three attempts")
    endpoint = f"{api}/webhooks/{hook['id']}"
    stack.wait_for(lambda: requests.get(endpoint, headers=headers, timeout=10).json()["status"] == "disabled",
                   timeout=20, what="the endpoint to be disabled")
    assert "410" in requests.get(endpoint, headers=headers, timeout=10).json()["disabled_reason"]
    log = requests.get(f"{endpoint}/deliveries", headers=headers, timeout=10).json()["data"]
    assert [(d["status"], d["attempts"], d["last_response_status"]) for d in log] == [("failed", 3, 410)]
    ids = {r["headers"]["webhook-id"] for r in subscriber.received}
    assert len(ids) == 1  # every attempt carries the same event id: the subscriber can dedup

    # Re-enabled and replayed by hand, it gets the event once more.
    assert requests.put(endpoint, json={"enabled": True}, headers=headers, timeout=10).status_code == 200
    replay = requests.post(f"{api}/webhooks/deliveries/{log[0]['id']}/replay", headers=headers, timeout=10)
    assert replay.status_code == 202, replay.text
    stack.wait_for(lambda: len(subscriber.received) == 4, timeout=30, what="the replay")
    stack.wait_for(lambda: requests.get(f"{endpoint}/deliveries", headers=headers, timeout=10)
                   .json()["data"][0]["status"] == "succeeded", timeout=20, what="the replay to succeed")


def test_price_and_stock_changes_go_to_heartland_then_magento(stack: Stack) -> None:
    headers = _token(stack)
    api = f"{stack.web.url}/v1"
    stack.start_worker()
    product = requests.get(f"{api}/products/TEE-1000", headers=headers, timeout=10).json()
    assert product["price"] == {"amount": 2599, "currency": "USD"}
    changed = requests.put(f"{api}/products/TEE-1000", json={"price": 2799}, headers=headers, timeout=10)
    assert changed.status_code == 200, changed.text
    assert stack.heartland_get("items/100001")["price"] == 27.99
    stack.wait_for(lambda: float(stack.magento_get("products/TEE-1000")["price"]) == 27.99, timeout=60,
                   what="the price to reach Magento")

    before = requests.get(f"{api}/inventory/TEE-1000", headers=headers, timeout=10).json()
    downtown = next(s for s in before["locations"] if s["location_id"] == 100001)
    keyed = {**headers, "Idempotency-Key": "adjust-1"}
    body = {"location_id": 100001, "adjust_by": 7, "note": "found in the back room"}
    first = requests.put(f"{api}/inventory/TEE-1000", json=body, headers=keyed, timeout=10)
    again = requests.put(f"{api}/inventory/TEE-1000", json=body, headers=keyed, timeout=10)
    assert first.status_code == 202 and again.headers.get("Idempotent-Replayed") == "true", (first.text, again.text)
    after = requests.get(f"{api}/inventory/TEE-1000", headers=headers, timeout=10).json()
    assert next(s for s in after["locations"] if s["location_id"] == 100001)["on_hand"] == downtown["on_hand"] + 7
    stack.wait_for(lambda: requests.get(f"{api}/inventory/TEE-1000", params={"with_magento": "true"},
                                        headers=headers, timeout=10).json()["in_step"] is True,
                   timeout=60, what="Magento's quantity to follow")


def test_a_customer_who_bought_at_the_till_and_online_is_one_customer(stack: Stack) -> None:
    headers = _token(stack)
    api = f"{stack.web.url}/v1"
    heartland_headers = {"Authorization": f"Bearer {HEARTLAND_TOKEN}"}
    customer = requests.post(f"{stack.heartland.url}/api/customers", headers=heartland_headers, timeout=10,
                             json={"first_name": "Tess", "last_name": "Till", "email": "tess.till@example.com"})
    assert customer.status_code == 201, customer.text
    hid = int(customer.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    ticket = requests.post(f"{stack.heartland.url}/api/sales/tickets", headers=heartland_headers, timeout=10, json={
        "station_id": 100001, "customer_id": hid, "status": "complete",
        "item_lines": [{"type": "ItemLine", "item_id": 100001, "unit_price": 30.0, "qty": 1}],
        "payments": [{"type": "Payments::ExternalPayment", "payment_type_id": 100001, "amount": 30.0}]})
    assert ticket.status_code == 201, ticket.text
    stack.start_worker()
    stack.checkout([{"sku": "TEE-1000", "qty": 1}], email="tess.till@example.com", guest=True, firstname="Tess",
                   lastname="Till")
    stack.wait_for(lambda: stack.states().get("done") == 1, timeout=90, what="the web order to sync")

    found = requests.get(f"{api}/customers", params={"email": "tess.till@example.com"}, headers=headers,
                         timeout=10).json()["data"]
    assert [c["id"] for c in found] == [f"heartland:{hid}"]
    person = requests.get(f"{api}/customers/heartland:{hid}", headers=headers, timeout=10).json()
    assert {c["channel"]: c["orders"] for c in person["by_channel"]} == {"store": 1, "web": 1}
    assert person["orders"] == 2 and person["lifetime_value"]["amount"] > 3000
    assert person["first_purchase"]["channel"] == "store" and person["last_purchase"]["channel"] == "web"
    assert person["magento"], "the web order's customer is bound to the Heartland customer"


def test_a_customer_created_through_v1_reaches_magento_through_the_customers_flow(stack: Stack) -> None:
    headers = _token(stack)
    api = f"{stack.web.url}/v1"
    stack.start_worker()
    made = requests.post(f"{api}/customers", json={"first_name": "Nia", "last_name": "New",
                                                   "email": "nia.new@example.com"},
                         headers={**headers, "Idempotency-Key": "nia"}, timeout=10)
    assert made.status_code == 202, made.text
    again = requests.post(f"{api}/customers", json={"first_name": "Nia", "last_name": "New",
                                                    "email": "nia.new@example.com"}, headers=headers, timeout=10)
    assert again.status_code == 409 and again.json()["error"] == "customer_exists"

    def in_magento() -> list[dict[str, Any]]:
        found = stack.magento_get("customers/search", **{
            "searchCriteria[filterGroups][0][filters][0][field]": "email",
            "searchCriteria[filterGroups][0][filters][0][value]": "nia.new@example.com"})
        return list(found.get("items") or [])

    stack.wait_for(lambda: len(in_magento()) == 1, timeout=60, what="the customer in Magento")
    changed = requests.put(f"{api}/customers/{made.json()['id']}", json={"last_name": "Newer"}, headers=headers,
                           timeout=10)
    assert changed.status_code == 202, changed.text
    stack.wait_for(lambda: in_magento()[0]["lastname"] == "Newer", timeout=60, what="the change in Magento")
    person = requests.get(f"{api}/customers/{made.json()['id']}", headers=headers, timeout=10).json()
    assert person["magento"] and person["name"] == "Nia Newer"


def test_a_capture_and_a_refund_through_v1_are_taken_in_magento_and_followed_in_heartland(stack: Stack) -> None:
    headers = _token(stack)
    api = f"{stack.web.url}/v1"
    stack.start_worker()
    placed = stack.checkout([{"sku": "TEE-1000", "qty": 1}])
    order_id = f"magento:default:{placed['entity_id']}"
    stack.wait_for(lambda: (requests.get(f"{api}/orders/{order_id}", headers=headers, timeout=10).json()
                            .get("heartland") or None) is not None, timeout=90, what="the order in Heartland")
    before = requests.get(f"{api}/payments", params={"order": order_id}, headers=headers, timeout=10).json()["data"]
    assert {p["system"] for p in before} == {"magento", "heartland"}
    early = requests.post(f"{api}/payments", json={"order": order_id, "action": "refund"}, headers=headers, timeout=30)
    assert early.status_code == 409 and early.json()["error"] == "refused_upstream"  # nothing paid yet
    captured = requests.post(f"{api}/payments", json={"order": order_id, "action": "capture"}, headers=headers,
                             timeout=30)
    assert captured.status_code == 202, captured.text
    assert any(p["system"] == "magento" and p["status"] == "succeeded" for p in captured.json()["data"])
    refunded = requests.post(f"{api}/payments", json={"order": order_id, "action": "refund"},
                             headers={**headers, "Idempotency-Key": "refund-1"}, timeout=30)
    assert refunded.status_code == 202, refunded.text
    heartland_id = int(requests.get(f"{api}/orders/{order_id}", headers=headers, timeout=10).json()["heartland"]["id"])
    stack.wait_for(lambda: stack.runtime.heartland.sales_order(heartland_id)["status"] == "cancelled", timeout=60,
                   what="the refunds flow to cancel the unfulfilled Heartland order")
    channel = requests.post(f"{api}/payments", json={"order": "channel:phone:X", "action": "refund"},
                            headers=headers, timeout=10)
    assert channel.status_code == 422


def test_fulfilment_through_v1_invoices_in_heartland_and_ships_in_magento(stack: Stack) -> None:
    headers = _token(stack)
    api = f"{stack.web.url}/v1"
    stack.start_worker()
    placed = stack.checkout([{"sku": "TEE-1000", "qty": 1}])
    order_id = f"magento:default:{placed['entity_id']}"
    stack.wait_for(lambda: (requests.get(f"{api}/orders/{order_id}", headers=headers, timeout=10).json()
                            .get("heartland") or None) is not None, timeout=90, what="the order in Heartland")
    done = requests.put(f"{api}/orders/{order_id}", json={"status": "fulfilled", "tracking_number": "1Z999AA1",
                                                           "carrier": "UPS"}, headers=headers, timeout=30)
    assert done.status_code == 202, done.text

    def shipments() -> list[dict[str, Any]]:
        return list(stack.magento_get("shipments", **{
            "searchCriteria[filterGroups][0][filters][0][field]": "order_id",
            "searchCriteria[filterGroups][0][filters][0][value]": str(placed["entity_id"])}).get("items") or [])

    stack.wait_for(lambda: len(shipments()) == 1, timeout=60, what="the Magento shipment")
    tracks = shipments()[0].get("tracks") or []
    assert [(t["track_number"], t["carrier_code"]) for t in tracks] == [("1Z999AA1", "ups")]
    again = requests.put(f"{api}/orders/{order_id}", json={"status": "fulfilled"}, headers=headers, timeout=30)
    assert again.status_code == 409 and again.json()["error"] == "not_fulfillable"
