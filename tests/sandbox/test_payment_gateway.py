"""Payment failures in the sandboxes, over real HTTP: the Magento sandbox's gateway declining an
online capture, and failed payments on Heartland sales orders."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from service.sandbox.heartland.app import create_app as create_heartland
from service.sandbox.magento.app import create_app as create_magento
from service.sandbox.server import RunningSandbox, start_in_thread

TOKEN = "payments-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def magento() -> Iterator[RunningSandbox]:
    running = start_in_thread(create_magento(seed="demo", token=TOKEN, history_orders=0))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def heartland() -> Iterator[RunningSandbox]:
    running = start_in_thread(create_heartland(seed="none", token=TOKEN))
    yield running
    running.stop()


def rest(sandbox: RunningSandbox, method: str, path: str, body: Any = None, params: Any = None) -> requests.Response:
    return requests.request(method, f"{sandbox.url}/rest/V1/{path}", json=body, params=params, headers=AUTH,
                            timeout=10)


def checkout(magento: RunningSandbox, method: str) -> dict[str, Any]:
    response = requests.post(f"{magento.url}/__sandbox/checkout", timeout=10,
                             json={"items": [{"sku": "TEE-1000", "qty": 1}], "payment_method": method})
    assert response.status_code == 200, response.text
    return dict(response.json())


def gateway(magento: RunningSandbox, **spec: Any) -> requests.Response:
    return requests.post(f"{magento.url}/__sandbox/gateway", json=spec, timeout=10)


def test_a_declined_online_capture_leaves_the_invoice_open_and_the_order_in_payment_review(
        magento: RunningSandbox) -> None:
    placed = checkout(magento, "braintree")
    oid = placed["entity_id"]
    assert gateway(magento, captures="decline", order_id=oid, code="2046", message="Declined").status_code == 200
    since = len(requests.get(f"{magento.url}/__sandbox/events", timeout=10).json()["events"])
    invoice_id = rest(magento, "POST", f"order/{oid}/invoice", {"capture": True}).json()
    order = rest(magento, "GET", f"orders/{oid}").json()
    invoice = rest(magento, "GET", f"invoices/{invoice_id}").json()
    assert invoice["state"] == 1 and invoice["transaction_id"] == f"{placed['payment']['last_trans_id']}-capture"
    assert (order["state"], order["status"]) == ("payment_review", "payment_review")
    assert order["total_paid"] == 0 and not order["payment"].get("amount_paid")
    info = {e["key"]: e["value"] for e in order["extension_attributes"]["payment_additional_info"]}
    assert info["processorResponseCode"] == "2046" and info["processorResponseText"] == "Declined"
    assert "Declined" in order["payment"]["additional_information"]
    latest = order["status_histories"][0]
    assert latest["comment"].startswith("The payment gateway declined the capture of $")
    assert latest["is_customer_notified"] == 0 and latest["is_visible_on_front"] == 0
    # In payment review the order can be neither invoiced again, cancelled nor shipped.
    assert rest(magento, "POST", f"order/{oid}/invoice", {"capture": True}).status_code == 400
    assert rest(magento, "POST", f"orders/{oid}/cancel").json() is False
    events = requests.get(f"{magento.url}/__sandbox/events", params={"since": since}, timeout=10).json()["events"]
    assert [e["event"] for e in events] == ["order.updated"]
    assert events[0]["envelope"]["data"]["state"] == "payment_review"


def test_the_decline_is_per_order_and_offline_invoices_are_paid(magento: RunningSandbox) -> None:
    declined = checkout(magento, "braintree")
    other = checkout(magento, "braintree")
    offline = checkout(magento, "checkmo")
    assert gateway(magento, captures="decline", order_id=declined["entity_id"]).status_code == 200
    assert gateway(magento, captures="decline").status_code == 200  # every order, checkmo included
    assert gateway(magento, captures="approve").status_code == 200  # back to approving all but one
    rest(magento, "POST", f"order/{other['entity_id']}/invoice", {"capture": True})
    assert rest(magento, "GET", f"orders/{other['entity_id']}").json()["state"] == "processing"
    # An offline payment never reaches the gateway, even while it declines everything.
    assert gateway(magento, captures="decline").status_code == 200
    rest(magento, "POST", f"order/{offline['entity_id']}/invoice", {"capture": True})
    paid = rest(magento, "GET", f"orders/{offline['entity_id']}").json()
    assert paid["state"] == "processing" and paid["total_paid"] == paid["grand_total"]
    rest(magento, "POST", f"order/{declined['entity_id']}/invoice", {"capture": True})
    assert rest(magento, "GET", f"orders/{declined['entity_id']}").json()["state"] == "payment_review"
    assert gateway(magento, captures="approve").status_code == 200
    assert gateway(magento, captures="maybe").status_code == 400


def test_order_payments_can_be_failed_and_stop_counting(heartland: RunningSandbox) -> None:
    api = f"{heartland.url}/api"
    session = requests.Session()
    session.headers.update(AUTH)
    customer = session.post(f"{api}/customers", json={"first_name": "Ann", "last_name": "Lee"}, timeout=10)
    customer_id = int(customer.headers["Location"].rsplit("/", 1)[1])
    location = session.get(f"{api}/locations", timeout=10).json()["results"][0]
    station = session.get(f"{api}/locations/{location['id']}/stations", timeout=10).json()["results"][0]
    item = session.post(f"{api}/items", json={"public_id": "PAY-1", "description": "Thing", "price": 20}, timeout=10)
    item_id = int(item.headers["Location"].rsplit("/", 1)[1])
    order = session.post(f"{api}/sales/orders", timeout=10, json={
        "customer_id": customer_id, "station_id": station["id"], "source_location_id": location["id"],
        "lines": [{"item_id": item_id, "qty": 1}]})
    assert order.status_code == 201, order.text
    order_id = int(order.headers["Location"].rsplit("/", 1)[1])
    type_id = session.get(f"{api}/payment_types", timeout=10).json()["results"][0]["id"]
    payments = f"{api}/sales/orders/{order_id}/payments"

    def pay(**extra: Any) -> requests.Response:
        return session.post(payments, json={"type": "ExternalPayment", "amount": 20, "payment_type_id": type_id,
                                            **extra}, timeout=10)

    good = pay()
    failed = pay(status="failed")
    assert good.status_code == failed.status_code == 201
    assert pay(status="pending").json()["details"] == {"status": ["must be one of complete, failed"]}
    good_id = int(good.headers["Location"].rsplit("/", 1)[1])
    assert session.get(f"{api}/sales/orders/{order_id}", timeout=10).json()["total_paid"] == 20
    marked = session.put(f"{payments}/{good_id}", json={"status": "failed", "custom": {"why": "declined"}}, timeout=10)
    assert marked.status_code == 200 and marked.json()["status"] == "failed"
    assert marked.json()["custom"] == {"why": "declined"} and marked.json()["failed_at"]
    again = session.put(f"{payments}/{good_id}", json={"status": "complete"}, timeout=10)
    assert again.status_code == 422 and "cannot be completed again" in again.text
    assert session.put(f"{payments}/{good_id}", json={"amount": 5}, timeout=10).status_code == 422
    listed = session.get(payments, timeout=10).json()["results"]
    assert sorted(p["status"] for p in listed) == ["failed", "failed"]
    totals = session.get(f"{api}/sales/orders/{order_id}", timeout=10).json()
    assert totals["total_paid"] == 0 and totals["balance"] == totals["total"]
