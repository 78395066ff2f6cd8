"""Products, store scope, stock items, MSI source items and the Tillbridge gift-card route."""

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
    running = start_in_thread(create_app(seed="demo", token=TOKEN, history_orders=0))
    yield running
    running.stop()


def call(sandbox: RunningSandbox, method: str, path: str, body: Any = None, params: Any = None,
         store: str | None = None) -> requests.Response:
    prefix = f"/rest/{store}/V1" if store else "/rest/V1"
    return requests.request(method, f"{sandbox.url}{prefix}/{path}", json=body, params=params, headers=AUTH,
                            timeout=10)


def test_catalog_is_seeded_from_the_shared_seed(sandbox: RunningSandbox) -> None:
    from service.sandbox.seed import generate

    seed = generate("demo")
    result = call(sandbox, "GET", "products", params={"searchCriteria[pageSize]": 1000}).json()
    assert result["total_count"] == len(seed.products) >= 500
    assert [p["sku"] for p in result["items"]] == [p.sku for p in seed.products]
    product = call(sandbox, "GET", "products/TEE-1000").json()
    assert product["type_id"] == "simple" and product["status"] == 1 and product["visibility"] == 4
    assert product["extension_attributes"]["stock_item"]["qty"] == sum(seed.products[0].stock)
    assert call(sandbox, "GET", "products/NOPE").json() == {
        "message": "The product that was requested doesn't exist. Verify the product and try again."}


def test_product_search_on_attributes(sandbox: RunningSandbox) -> None:
    params = {"searchCriteria[filter_groups][0][filters][0][field]": "sku",
              "searchCriteria[filter_groups][0][filters][0][value]": "MUG-%",
              "searchCriteria[filter_groups][0][filters][0][condition_type]": "like",
              "searchCriteria[filter_groups][1][filters][0][field]": "price",
              "searchCriteria[filter_groups][1][filters][0][value]": "15",
              "searchCriteria[filter_groups][1][filters][0][condition_type]": "lt",
              "searchCriteria[sortOrders][0][field]": "price"}
    items = call(sandbox, "GET", "products", params=params).json()["items"]
    assert items and all(p["sku"].startswith("MUG-") and p["price"] < 15 for p in items)
    assert [p["price"] for p in items] == sorted(p["price"] for p in items)


def test_store_scope_of_product_writes(sandbox: RunningSandbox) -> None:
    original = call(sandbox, "GET", "products/HOD-1001", store="all").json()
    scoped = call(sandbox, "PUT", "products/HOD-1001", {"product": {"sku": "HOD-1001", "name": "Kapuzenpulli",
                                                                    "price": 44.0}}).json()
    assert scoped["name"] == "Kapuzenpulli" and scoped["price"] == 44.0
    global_view = call(sandbox, "GET", "products/HOD-1001", store="all").json()
    assert global_view["name"] == original["name"]  # "All Store Views" untouched
    assert global_view["price"] == 44.0  # price is a global attribute
    call(sandbox, "PUT", "products/HOD-1001", {"product": {"sku": "HOD-1001", "name": "Hoodie (global)"}}, store="all")
    assert call(sandbox, "GET", "products/HOD-1001", store="all").json()["name"] == "Hoodie (global)"
    assert call(sandbox, "GET", "products/HOD-1001", store="default").json()["name"] == "Kapuzenpulli"
    listed = call(sandbox, "GET", "products", params={
        "searchCriteria[filter_groups][0][filters][0][field]": "sku",
        "searchCriteria[filter_groups][0][filters][0][value]": "HOD-1001"}).json()
    assert listed["items"][0]["name"] == "Kapuzenpulli"
    events = requests.get(f"{sandbox.url}/__sandbox/events", timeout=10).json()["events"]
    saved = [e["envelope"] for e in events if e["event"] == "product.saved"]
    assert saved[-1]["store_code"] == "admin" and saved[-1]["data"]["name"] == "Hoodie (global)"
    assert saved[-2]["store_code"] == "default" and saved[-2]["data"]["name"] == "Kapuzenpulli"


def test_a_global_write_keeps_store_and_global_custom_attributes_together(sandbox: RunningSandbox) -> None:
    attributes = [{"attribute_code": "description", "value": "Warm."},
                  {"attribute_code": "special_price", "value": "39.00"}]
    call(sandbox, "PUT", "products/CAP-1002", {"product": {"sku": "CAP-1002", "custom_attributes": attributes}},
         store="all")
    saved = call(sandbox, "GET", "products/CAP-1002", store="all").json()
    values = {a["attribute_code"]: a["value"] for a in saved["custom_attributes"]}
    assert values["description"] == "Warm." and values["special_price"] == "39.00"


def test_put_with_an_unknown_sku_creates_the_product(sandbox: RunningSandbox) -> None:
    created = call(sandbox, "PUT", "products/NEW-9", {"product": {"sku": "NEW-9", "name": "Brand new", "price": 9.5,
                                                                  "type_id": "simple"}}).json()
    assert created["id"] > 500 and created["sku"] == "NEW-9"
    assert call(sandbox, "GET", "stockItems/NEW-9").json()["qty"] == 0
    nameless = call(sandbox, "POST", "products", {"product": {"sku": "NEW-10"}})
    assert nameless.status_code == 400 and nameless.json()["parameters"] == ["name"]


def test_legacy_stock_and_msi_stay_in_step(sandbox: RunningSandbox) -> None:
    item = call(sandbox, "GET", "stockItems/CAP-1002").json()
    assert call(sandbox, "PUT", f"products/CAP-1002/stockItems/{item['item_id']}",
                {"stockItem": {"qty": 17, "is_in_stock": True}}).json() == item["item_id"]
    source = call(sandbox, "GET", "inventory/source-items", params={
        "searchCriteria[filter_groups][0][filters][0][field]": "sku",
        "searchCriteria[filter_groups][0][filters][0][value]": "CAP-1002"}).json()
    assert source["items"] == [{"sku": "CAP-1002", "source_code": "default", "quantity": 17.0, "status": 1}]
    batch = [{"sku": "CAP-1002", "source_code": "default", "quantity": 0, "status": 0},
             {"sku": "MUG-1003", "source_code": "default", "quantity": 8, "status": 1}]
    assert call(sandbox, "POST", "inventory/source-items", {"sourceItems": batch}).json() == []
    cap = call(sandbox, "GET", "stockItems/CAP-1002").json()
    assert cap["qty"] == 0 and cap["is_in_stock"] is False
    assert call(sandbox, "GET", "products/MUG-1003").json()["extension_attributes"]["stock_item"]["qty"] == 8
    refused = call(sandbox, "POST", "inventory/source-items", {"sourceItems": [
        {"sku": "MUG-1003", "source_code": "default", "quantity": 1, "status": 1},
        {"sku": "GHOST", "source_code": "default", "quantity": 1, "status": 1}]})
    assert refused.status_code == 400 and refused.json()["message"] == "Validation Failed"
    assert call(sandbox, "GET", "stockItems/MUG-1003").json()["qty"] == 8  # all or nothing
    assert call(sandbox, "GET", "stockItems/GHOST").status_code == 404


def test_gift_card_route(sandbox: RunningSandbox) -> None:
    seeded = call(sandbox, "GET", "tillbridge/giftcards", params={"searchCriteria[pageSize]": 100}).json()
    assert seeded["total_count"] >= 30
    card = call(sandbox, "POST", "tillbridge/giftcards", {"giftCard": {"code": "HL-0001", "balance": 50}}).json()
    assert card["balance"] == 50 and card["state"] == 0
    assert call(sandbox, "POST", "tillbridge/giftcards", {"giftCard": {"code": "hl-0001"}}).status_code == 400
    adjustment = {"adjustment": {"amount": -20, "idempotency_key": "hl-sale-1", "reason": "Heartland ticket 9"}}
    assert call(sandbox, "POST", "tillbridge/giftcards/HL-0001/adjustments", adjustment).json()["balance"] == 30
    assert call(sandbox, "POST", "tillbridge/giftcards/hl-0001/adjustments", adjustment).json()["balance"] == 30
    reused = call(sandbox, "POST", "tillbridge/giftcards/HL-0001/adjustments",
                  {"adjustment": {"amount": -5, "idempotency_key": "hl-sale-1"}})
    assert reused.status_code == 400
    overdraw = call(sandbox, "POST", "tillbridge/giftcards/HL-0001/adjustments",
                    {"adjustment": {"amount": -31, "idempotency_key": "hl-sale-2"}})
    assert overdraw.status_code == 400
    emptied = call(sandbox, "POST", "tillbridge/giftcards/HL-0001/adjustments",
                   {"adjustment": {"amount": -30, "idempotency_key": "hl-sale-3"}}).json()
    assert emptied["balance"] == 0 and emptied["state"] == 1
    assert call(sandbox, "GET", "tillbridge/giftcards/NOPE").status_code == 404
