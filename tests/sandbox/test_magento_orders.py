"""The Magento sandbox's orders: search, checkout, state changes, persistence, concurrency."""

from __future__ import annotations

import threading
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
    running = start_in_thread(create_app(seed="demo", token=TOKEN))
    yield running
    running.stop()


def get(sandbox: RunningSandbox, path: str, params: Any = None, store: str | None = None) -> requests.Response:
    prefix = f"/rest/{store}/V1" if store else "/rest/V1"
    return requests.get(f"{sandbox.url}{prefix}/{path}", params=params, headers=AUTH, timeout=10)


def post(sandbox: RunningSandbox, path: str, body: Any = None) -> requests.Response:
    return requests.post(f"{sandbox.url}/rest/default/V1/{path}", json=body, headers=AUTH, timeout=10)


def all_orders(sandbox: RunningSandbox) -> list[dict[str, Any]]:
    response = get(sandbox, "orders", {"searchCriteria[currentPage]": 1})
    assert response.status_code == 200
    return list(response.json()["items"])


def checkout(sandbox: RunningSandbox, **body: Any) -> dict[str, Any]:
    response = requests.post(f"{sandbox.url}/__sandbox/checkout", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_search_needs_search_criteria(sandbox: RunningSandbox) -> None:
    response = get(sandbox, "orders")
    assert response.status_code == 400
    assert response.json() == {"message": '"%fieldName" is required. Enter and try again.',
                               "parameters": {"fieldName": "searchCriteria"}}


def test_seeded_history_is_deterministic_and_varied(sandbox: RunningSandbox) -> None:
    orders = all_orders(sandbox)
    assert len(orders) >= 300
    assert {o["state"] for o in orders} >= {"new", "processing", "canceled", "holded"}
    assert orders[0]["increment_id"] == "000000001"
    again = create_app(seed="demo", token=TOKEN).test_client().get(
        "/rest/V1/orders/7", headers=AUTH).get_json()
    assert again == get(sandbox, "orders/7").json()


def test_filter_groups_or_within_and_across(sandbox: RunningSandbox) -> None:
    orders = all_orders(sandbox)
    params = {
        "searchCriteria[filter_groups][0][filters][0][field]": "state",
        "searchCriteria[filter_groups][0][filters][0][value]": "new",
        "searchCriteria[filter_groups][0][filters][1][field]": "state",
        "searchCriteria[filter_groups][0][filters][1][value]": "holded",
        "searchCriteria[filterGroups][1][filters][0][field]": "grand_total",
        "searchCriteria[filterGroups][1][filters][0][value]": "60",
        "searchCriteria[filterGroups][1][filters][0][conditionType]": "gteq",
    }
    result = get(sandbox, "orders", params).json()
    expected = {o["entity_id"] for o in orders if o["state"] in ("new", "holded") and o["grand_total"] >= 60}
    assert {o["entity_id"] for o in result["items"]} == expected
    assert result["total_count"] == len(expected) > 0
    echo = result["search_criteria"]["filter_groups"]
    assert echo[1]["filters"][0] == {"field": "grand_total", "value": "60", "condition_type": "gteq"}


@pytest.mark.parametrize(
    ("condition", "value", "predicate"),
    [
        ("neq", "new", lambda o: o["state"] != "new"),
        ("in", "canceled,holded", lambda o: o["state"] in ("canceled", "holded")),
        ("nin", "canceled,holded", lambda o: o["state"] not in ("canceled", "holded")),
        ("like", "%@MAIL.example.org", lambda o: o["customer_email"].endswith("@mail.example.org")),
        ("gt", "2026-05-01 00:00:00", lambda o: o["created_at"] > "2026-05-01 00:00:00"),
        ("lt", "20", lambda o: o["grand_total"] < 20),
        ("lteq", "000000010", lambda o: o["increment_id"] <= "000000010"),
        ("null", "", lambda o: o.get("coupon_code") is None),
        ("notnull", "", lambda o: o.get("coupon_code") is not None),
    ],
)
def test_condition_types(sandbox: RunningSandbox, condition: str, value: str, predicate: Any) -> None:
    field = {"like": "customer_email", "gt": "created_at", "lt": "grand_total", "lteq": "increment_id",
             "null": "coupon_code", "notnull": "coupon_code"}.get(condition, "state")
    params = {
        "searchCriteria[filter_groups][0][filters][0][field]": field,
        "searchCriteria[filter_groups][0][filters][0][value]": value,
        "searchCriteria[filter_groups][0][filters][0][condition_type]": condition,
    }
    result = get(sandbox, "orders", params).json()
    expected = {o["entity_id"] for o in all_orders(sandbox) if predicate(o)}
    assert {o["entity_id"] for o in result["items"]} == expected
    assert expected


def test_sort_and_pages_past_the_end(sandbox: RunningSandbox) -> None:
    base = {"searchCriteria[sortOrders][0][field]": "grand_total", "searchCriteria[sortOrders][0][direction]": "DESC",
            "searchCriteria[pageSize]": 40}
    first = get(sandbox, "orders", {**base, "searchCriteria[currentPage]": 1}).json()
    totals = [o["grand_total"] for o in first["items"]]
    assert totals == sorted(totals, reverse=True) and len(totals) == 40
    last_page = -(-first["total_count"] // 40)
    past = get(sandbox, "orders", {**base, "searchCriteria[currentPage]": last_page + 1}).json()
    assert past["items"] == [] and past["total_count"] == first["total_count"]
    assert past["search_criteria"]["current_page"] == last_page + 1


def test_unknown_filter_field_is_refused(sandbox: RunningSandbox) -> None:
    params = {"searchCriteria[filter_groups][0][filters][0][field]": "no_such_column",
              "searchCriteria[filter_groups][0][filters][0][value]": "1"}
    response = get(sandbox, "orders", params)
    assert response.status_code == 400
    assert response.json()["parameters"] == ["no_such_column"]


def test_fields_trims_the_answer(sandbox: RunningSandbox) -> None:
    params = {"searchCriteria[pageSize]": 2, "fields": "items[increment_id,items[sku]],total_count"}
    result = get(sandbox, "orders", params).json()
    assert set(result) == {"items", "total_count"}
    assert set(result["items"][0]) == {"increment_id", "items"}
    assert set(result["items"][0]["items"][0]) == {"sku"}


def test_store_prefix_and_unknown_routes(sandbox: RunningSandbox) -> None:
    assert get(sandbox, "orders/3").json() == get(sandbox, "orders/3", store="default").json()
    unknown_store = get(sandbox, "orders/3", store="nope")
    assert unknown_store.status_code == 404
    assert unknown_store.json() == {"message": "Request does not match any route."}
    assert get(sandbox, "orders/999999").status_code == 404
    assert get(sandbox, "orders/abc").status_code == 400


def test_checkout_computes_a_realistic_order(sandbox: RunningSandbox) -> None:
    order = checkout(sandbox, items=[{"sku": "TEE-1000", "qty": 2}, {"sku": "MUG-1003", "qty": 1}],
                     customer_email=None, payment_method="braintree", coupon_code="SAVE10")
    assert order["state"] == "processing" and order["payment"]["cc_last4"].isdigit()
    assert len(order["payment"]["cc_last4"]) == 4
    subtotal = round(sum(i["row_total"] for i in order["items"]), 2)
    assert order["subtotal"] == subtotal
    assert order["discount_amount"] == -round(sum(i["discount_amount"] for i in order["items"]), 2)
    assert order["grand_total"] == round(order["subtotal"] + order["discount_amount"] + order["shipping_amount"]
                                         + order["tax_amount"], 2)
    assert order["customer_is_guest"] == 0 and order["customer_id"] > 0
    shipping = order["extension_attributes"]["shipping_assignments"][0]["shipping"]
    assert shipping["method"] == "flatrate_flatrate" and shipping["address"]["address_type"] == "shipping"
    assert get(sandbox, f"orders/{order['entity_id']}").json() == order


def test_guest_checkout_and_unknown_sku(sandbox: RunningSandbox) -> None:
    address = {"firstname": "Gia", "lastname": "Guest", "street": ["1 Test St"], "city": "Austin",
               "region_code": "TX", "region_id": 57, "postcode": "78701", "country_id": "US",
               "telephone": "+15125550100"}
    order = checkout(sandbox, items=[{"sku": "CAP-1002", "qty": 1}], guest=True,
                     customer_email="gia@example.com", address=address)
    assert order["customer_is_guest"] == 1 and "customer_id" not in order
    assert order["billing_address"]["city"] == "Austin" and order["state"] == "new"
    response = requests.post(f"{sandbox.url}/__sandbox/checkout", json={"items": [{"sku": "NOPE-1"}]}, timeout=10)
    assert response.status_code == 404


def test_comment_status_must_belong_to_the_state(sandbox: RunningSandbox) -> None:
    order = checkout(sandbox, items=[{"sku": "TEE-1008", "qty": 1}], payment_method="braintree")
    oid = order["entity_id"]
    history = {"comment": "Heartland order #1001", "is_customer_notified": 0, "is_visible_on_front": 0,
               "parent_id": oid}
    assert post(sandbox, f"orders/{oid}/comments", {"statusHistory": history}).json() is True
    refused = post(sandbox, f"orders/{oid}/comments", {"statusHistory": {**history, "status": "complete"}})
    assert refused.status_code == 400
    assert refused.json()["parameters"] == ["complete"]
    assert post(sandbox, f"orders/{oid}/comments", {"statusHistory": {**history, "status": "fraud"}}).json() is True
    current = get(sandbox, f"orders/{oid}").json()
    assert current["state"] == "processing" and current["status"] == "fraud"
    assert current["status_histories"][0]["comment"] == "Heartland order #1001"
    comments = get(sandbox, f"orders/{oid}/comments").json()
    assert comments["total_count"] == len(current["status_histories"])


def test_hold_unhold_cancel_guards(sandbox: RunningSandbox) -> None:
    oid = checkout(sandbox, items=[{"sku": "SCK-1005", "qty": 1}])["entity_id"]
    assert get(sandbox, f"orders/{oid}").json()["state"] == "new"  # read before the write: no stale answer after
    assert post(sandbox, f"orders/{oid}/hold").json() is True
    held = get(sandbox, f"orders/{oid}").json()
    assert (held["state"], held["status"], held["hold_before_state"]) == ("holded", "holded", "new")
    again = post(sandbox, f"orders/{oid}/hold")
    assert again.status_code == 400 and again.json() == {"message": "A hold action is not available."}
    assert post(sandbox, f"orders/{oid}/cancel").json() is False
    assert post(sandbox, f"orders/{oid}/unhold").json() is True
    restored = get(sandbox, f"orders/{oid}").json()
    assert (restored["state"], restored["status"]) == ("new", "pending") and "hold_before_state" not in restored
    assert post(sandbox, f"orders/{oid}/unhold").json() == {"message": "You cannot remove the hold."}
    assert post(sandbox, f"orders/{oid}/cancel").json() is True
    canceled = get(sandbox, f"orders/{oid}").json()
    assert canceled["state"] == "canceled" and canceled["items"][0]["qty_canceled"] == 1
    assert post(sandbox, f"orders/{oid}/cancel").json() is False


def test_post_orders_persists_the_entity(sandbox: RunningSandbox) -> None:
    entity = {"customer_email": "pos@example.com", "grand_total": 12.5, "base_grand_total": 12.5,
              "customer_firstname": "Pat", "customer_lastname": "Pos", "customer_is_guest": 1,
              "items": [{"sku": "MUG-1003", "name": "Mug", "qty_ordered": 1, "price": 12.5, "row_total": 12.5}],
              "payment": {"method": "checkmo", "additional_information": []}}
    created = post(sandbox, "orders", {"entity": entity})
    assert created.status_code == 200
    order = created.json()
    assert order["increment_id"].isdigit() and order["state"] == "new" and order["status"] == "pending"
    assert order["items"][0]["item_id"] > 0 and order["items"][0]["order_id"] == order["entity_id"]
    assert get(sandbox, f"orders/{order['entity_id']}").json() == order
    unknown = post(sandbox, "orders", {"entity": {**entity, "customer_emial": "typo@example.com"}})
    assert unknown.status_code == 400 and unknown.json()["parameters"][0] == "CustomerEmial"
    missing = post(sandbox, "orders", {})
    assert missing.json() == {"message": '"%fieldName" is required. Enter and try again.',
                              "parameters": {"fieldName": "entity"}}


def test_unknown_properties_can_answer_like_production() -> None:
    client = create_app(seed=None, token=TOKEN, unknown_property_status=500).test_client()
    response = client.post("/rest/V1/orders", json={"entity": {"bogus": 1}}, headers=AUTH)
    assert response.status_code == 500
    assert response.get_json()["message"].startswith("Internal Error. Details are available in Magento log file.")


def test_concurrent_checkouts_get_distinct_numbers(sandbox: RunningSandbox) -> None:
    before = len(all_orders(sandbox))
    numbers: list[str] = []
    lock = threading.Lock()

    prefixes = ["TEE", "HOD", "CAP", "MUG", "BAG", "SCK", "JKT", "BTL"]

    def shop(worker: int) -> None:
        for k in range(10):
            n = 100 + worker * 10 + k
            order = checkout(sandbox, items=[{"sku": f"{prefixes[n % 8]}-{1000 + n}", "qty": 1}])
            with lock:
                numbers.append(order["increment_id"])

    threads = [threading.Thread(target=shop, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(numbers) == len(set(numbers)) == 60
    assert len(all_orders(sandbox)) == before + 60
