"""The Magento sandbox's order state machine: invoice, ship with tracks, refund, credit memos."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from service.sandbox.magento.app import create_app
from service.sandbox.server import RunningSandbox, start_in_thread

TOKEN = "magento-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    running = start_in_thread(create_app(seed="demo", token=TOKEN, history_orders=40))
    yield running
    running.stop()


def call(sandbox: RunningSandbox, method: str, path: str, body: Any = None, params: Any = None) -> requests.Response:
    return requests.request(method, f"{sandbox.url}/rest/V1/{path}", json=body, params=params, headers=AUTH,
                            timeout=10)


def checkout(sandbox: RunningSandbox, **body: Any) -> dict[str, Any]:
    response = requests.post(f"{sandbox.url}/__sandbox/checkout", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


def order(sandbox: RunningSandbox, oid: int) -> dict[str, Any]:
    return dict(call(sandbox, "GET", f"orders/{oid}").json())


def stock_qty(sandbox: RunningSandbox, sku: str) -> float:
    return float(call(sandbox, "GET", f"stockItems/{sku}").json()["qty"])


def test_invoice_then_ship_completes_the_order(sandbox: RunningSandbox) -> None:
    placed = checkout(sandbox, items=[{"sku": "TEE-1008", "qty": 2}, {"sku": "MUG-1011", "qty": 1}])
    oid = placed["entity_id"]
    tee, mug = placed["items"]
    before = stock_qty(sandbox, "TEE-1008")
    invoice_id = call(sandbox, "POST", f"order/{oid}/invoice", {"capture": True}).json()
    assert isinstance(invoice_id, int)
    invoiced = order(sandbox, oid)
    assert (invoiced["state"], invoiced["status"]) == ("processing", "processing")
    assert invoiced["total_paid"] == invoiced["grand_total"] == invoiced["total_invoiced"]
    assert invoiced["total_due"] == 0
    invoice = call(sandbox, "GET", f"invoices/{invoice_id}").json()
    assert invoice["order_id"] == oid and invoice["grand_total"] == placed["grand_total"] and invoice["state"] == 2

    tracks = [{"track_number": "1Z0001", "title": "United Parcel Service", "carrier_code": "ups"}]
    first = call(sandbox, "POST", f"order/{oid}/ship", {"items": [{"order_item_id": tee["item_id"], "qty": 2}],
                                                        "tracks": tracks}).json()
    assert order(sandbox, oid)["state"] == "processing"
    assert stock_qty(sandbox, "TEE-1008") == before - 2
    shipment = call(sandbox, "GET", f"shipment/{first}").json()
    assert shipment["tracks"][0]["track_number"] == "1Z0001"
    assert shipment["extension_attributes"]["source_code"] == "default"
    call(sandbox, "POST", f"order/{oid}/ship", {"items": [{"order_item_id": mug["item_id"], "qty": 1}]})
    done = order(sandbox, oid)
    assert (done["state"], done["status"]) == ("complete", "complete")
    assert [i["qty_shipped"] for i in done["items"]] == [2, 1]

    again = call(sandbox, "POST", f"order/{oid}/ship", {})
    assert again.status_code == 400
    assert again.json() == {"message": "Shipment Document Validation Error(s):\n"
                                       "The order does not allow a shipment to be created."}
    assert call(sandbox, "POST", f"order/{oid}/invoice", {}).status_code == 400
    assert call(sandbox, "POST", f"orders/{oid}/cancel").json() is False


def test_ship_before_invoice_and_guards(sandbox: RunningSandbox) -> None:
    placed = checkout(sandbox, items=[{"sku": "CAP-1010", "qty": 1}])
    oid = placed["entity_id"]
    call(sandbox, "POST", f"orders/{oid}/hold")
    held = call(sandbox, "POST", f"order/{oid}/ship", {})
    assert held.status_code == 400 and "when an order has a status of holded" in held.json()["message"]
    call(sandbox, "POST", f"orders/{oid}/unhold")
    too_many = call(sandbox, "POST", f"order/{oid}/ship", {"items": [{"order_item_id": placed["items"][0]["item_id"],
                                                                      "qty": 5}]})
    assert too_many.status_code == 400 and "invalid quantity to ship" in too_many.json()["message"]
    unknown_source = call(sandbox, "POST", f"order/{oid}/ship",
                          {"arguments": {"extension_attributes": {"source_code": "nowhere"}}})
    assert unknown_source.status_code == 400
    call(sandbox, "POST", f"order/{oid}/ship", {})
    assert order(sandbox, oid)["state"] == "processing"  # shipped, not yet invoiced
    call(sandbox, "POST", f"order/{oid}/invoice", {})
    assert order(sandbox, oid)["state"] == "complete"
    assert call(sandbox, "POST", f"orders/{oid}/hold").json() == {"message": "A hold action is not available."}


def test_partial_then_full_refund_closes_the_order(sandbox: RunningSandbox) -> None:
    placed = checkout(sandbox, items=[{"sku": "BAG-1012", "qty": 2}, {"sku": "SCK-1013", "qty": 1}])
    oid = placed["entity_id"]
    bag = placed["items"][0]
    refused = call(sandbox, "POST", f"order/{oid}/refund", {})
    assert refused.status_code == 400 and refused.json()["message"].startswith("Creditmemo Document Validation")
    call(sandbox, "POST", f"order/{oid}/invoice", {})
    call(sandbox, "POST", f"order/{oid}/ship", {})
    stock_before = stock_qty(sandbox, "BAG-1012")
    memo_id = call(sandbox, "POST", f"order/{oid}/refund", {
        "items": [{"order_item_id": bag["item_id"], "qty": 1}],
        "arguments": {"shipping_amount": 0, "adjustment_negative": 1.0,
                      "extension_attributes": {"return_to_stock_items": [bag["item_id"]]}},
    }).json()
    memo = call(sandbox, "GET", f"creditmemo/{memo_id}").json()
    assert memo["order_id"] == oid and memo["items"][0]["qty"] == 1
    assert memo["grand_total"] == round(bag["price"] + bag["tax_amount"] / 2 - 1.0, 2)
    partial = order(sandbox, oid)
    assert partial["state"] == "complete" and partial["total_refunded"] == memo["grand_total"]
    assert stock_qty(sandbox, "BAG-1012") == stock_before + 1
    too_much = call(sandbox, "POST", f"order/{oid}/refund", {"arguments": {"adjustment_positive": 1000}})
    assert too_much.status_code == 400 and "The most money available to refund is" in too_much.json()["message"]
    # The first memo kept 1.00 back (adjustment_negative); the order closes only once that is refunded too.
    call(sandbox, "POST", f"order/{oid}/refund", {})
    assert order(sandbox, oid)["state"] == "complete"
    call(sandbox, "POST", f"order/{oid}/refund", {"arguments": {"adjustment_positive": 1.0}})
    closed = order(sandbox, oid)
    assert (closed["state"], closed["status"]) == ("closed", "closed")
    assert closed["total_refunded"] == closed["total_paid"]
    memos = call(sandbox, "GET", "creditmemos", params={
        "searchCriteria[filter_groups][0][filters][0][field]": "order_id",
        "searchCriteria[filter_groups][0][filters][0][value]": oid}).json()
    assert memos["total_count"] == 3
    events = requests.get(f"{sandbox.url}/__sandbox/events", timeout=10).json()["events"]
    memo_events = [e for e in events if e["event"] == "creditmemo.created"]
    assert memo_events[-3]["envelope"]["data"] == memo


def test_tracks_are_added_to_existing_shipments(sandbox: RunningSandbox) -> None:
    placed = checkout(sandbox, items=[{"sku": "JKT-1014", "qty": 1}])
    oid = placed["entity_id"]
    shipment_id = call(sandbox, "POST", f"order/{oid}/ship", {}).json()
    entity = {"order_id": oid, "parent_id": shipment_id, "track_number": "9400111", "title": "USPS",
              "carrier_code": "usps"}
    track = call(sandbox, "POST", "shipment/track", {"entity": entity}).json()
    assert track["entity_id"] > 0 and track["parent_id"] == shipment_id
    assert call(sandbox, "GET", f"shipment/{shipment_id}").json()["tracks"][-1]["track_number"] == "9400111"
    wrong_order = call(sandbox, "POST", "shipment/track", {"entity": {**entity, "order_id": 1}})
    assert wrong_order.status_code == 400
    missing = call(sandbox, "POST", "shipment/track", {"entity": {**entity, "parent_id": 999999}})
    assert missing.status_code == 404


def test_stock_checks_when_backorders_are_off() -> None:
    client = create_app(seed="demo", token=TOKEN, history_orders=0, backorders=0).test_client()
    qty = client.get("/rest/V1/stockItems/TEE-1000", headers=AUTH).get_json()["qty"]
    refused = client.post("/__sandbox/checkout", json={"items": [{"sku": "TEE-1000", "qty": qty + 1}]})
    assert refused.status_code == 400 and refused.get_json()["parameters"] == ["TEE-1000"]
    placed = client.post("/__sandbox/checkout", json={"items": [{"sku": "TEE-1000", "qty": qty}]})
    assert placed.status_code == 200
    second = client.post("/__sandbox/checkout", json={"items": [{"sku": "TEE-1000", "qty": 1}]})
    assert second.status_code == 400  # the first order's reservation holds the rest


def test_new_email_checks_out_as_guest_with_an_address() -> None:
    client = create_app(seed="demo", token=TOKEN, history_orders=0).test_client()
    placed = client.post("/__sandbox/checkout", json={"customer_email": "jane.doe@example.com",
                                                      "items": [{"sku": "MUG-1003", "qty": 1}]}).get_json()
    assert placed["customer_is_guest"] == 1 and placed["customer_firstname"] == "Jane"
    assert placed["billing_address"]["lastname"] == "Doe" and placed["billing_address"]["street"]


def test_shipping_from_another_source_deducts_that_source() -> None:
    client = create_app(seed="demo", token=TOKEN, history_orders=0, sources=["wh"]).test_client()
    batch = {"sourceItems": [{"sku": "TEE-1000", "source_code": "wh", "quantity": 10, "status": 1}]}
    assert client.post("/rest/V1/inventory/source-items", json=batch, headers=AUTH).status_code == 200
    legacy = client.get("/rest/V1/stockItems/TEE-1000", headers=AUTH).get_json()["qty"]
    oid = client.post("/__sandbox/checkout", json={"items": [{"sku": "TEE-1000", "qty": 3}]}).get_json()["entity_id"]
    body = {"arguments": {"extension_attributes": {"source_code": "wh"}}}
    assert client.post(f"/rest/V1/order/{oid}/ship", json=body, headers=AUTH).status_code == 200
    items = client.get("/rest/V1/inventory/source-items", headers=AUTH, query_string={
        "searchCriteria[filter_groups][0][filters][0][field]": "sku",
        "searchCriteria[filter_groups][0][filters][0][value]": "TEE-1000"}).get_json()["items"]
    assert {i["source_code"]: i["quantity"] for i in items} == {"default": legacy, "wh": 7.0}
    assert client.get("/rest/V1/stockItems/TEE-1000", headers=AUTH).get_json()["qty"] == legacy
