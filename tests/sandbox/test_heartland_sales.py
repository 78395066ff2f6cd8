"""Orders, invoices, tickets, inventory and gift cards in the Heartland sandbox, over real HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from service.sandbox.heartland.app import create_app
from service.sandbox.server import RunningSandbox, start_in_thread

TOKEN = "heartland-sales-token"


class Api:
    def __init__(self, url: str) -> None:
        self.base = f"{url}/api"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {TOKEN}"

    def get(self, path: str, params: Any = None) -> Any:
        response = self.session.get(f"{self.base}/{path}", params=params, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body: Any) -> requests.Response:
        return self.session.post(f"{self.base}/{path}", json=body, timeout=10)

    def put(self, path: str, body: Any) -> requests.Response:
        return self.session.put(f"{self.base}/{path}", json=body, timeout=10)

    def created(self, path: str, body: Any) -> dict[str, Any]:
        response = self.post(path, body)
        assert response.status_code == 201, response.text
        return dict(self.session.get(response.headers["Location"], timeout=10).json())

    def stock(self, item_id: int, location_id: int) -> dict[str, Any]:
        rows = self.get("inventory/values", {"item_id": item_id, "location_id": location_id,
                                             "group[]": ["item_id", "location_id"]})["results"]
        assert len(rows) == 1
        return dict(rows[0])


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    running = start_in_thread(create_app(seed="sales", token=TOKEN, seed_customers=30))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def api(sandbox: RunningSandbox) -> Api:
    return Api(sandbox.url)


@pytest.fixture(scope="module")
def shop(api: Api) -> dict[str, Any]:
    locations = {loc["public_id"]: loc for loc in api.get("locations", {"per_page": "all", "_include[]": "stations"})[
        "results"]}
    customer = api.get("customers", {"per_page": 1})["results"][0]
    address = api.get(f"customers/{customer['id']}/addresses")["results"][0]
    items = api.get("items", {"per_page": 10})["results"]
    return {"wh": locations["WH"], "dt": locations["DT"], "customer": customer, "address": address, "items": items,
            "station": locations["WH"]["stations"][0]["id"], "pos": locations["DT"]["stations"][0]["id"]}


def _order(api: Api, shop: dict[str, Any], lines: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return api.created("sales/orders", {
        "customer_id": shop["customer"]["id"], "station_id": shop["station"],
        "source_location_id": shop["wh"]["id"], "billing_address_id": shop["address"]["id"],
        "shipping_address_id": shop["address"]["id"], "lines": lines, **extra})


def test_order_needs_station_location_and_customer(api: Api) -> None:
    response = api.post("sales/orders", {"lines": []})
    assert response.status_code == 422
    assert {"customer_id", "station_id", "source_location_id"} <= set(response.json()["details"])


def test_bad_inline_line_refuses_the_whole_order(api: Api, shop: dict[str, Any]) -> None:
    before = api.get("sales/orders", {"per_page": 1})["total"]
    response = api.post("sales/orders", {
        "customer_id": shop["customer"]["id"], "station_id": shop["station"], "source_location_id": shop["wh"]["id"],
        "lines": [{"item_id": shop["items"][0]["id"], "qty": 1}, {"item_lookup": "NO-SUCH-SKU", "qty": 1}]})
    assert response.status_code == 422
    assert response.json()["details"] == {"lines[1].item_lookup": ["does not match an existing item"]}
    assert api.get("sales/orders", {"per_page": 1})["total"] == before


def test_address_of_another_customer_is_refused(api: Api, shop: dict[str, Any]) -> None:
    other = api.get("customers", {"per_page": 1, "page": 2})["results"][0]
    foreign = api.get(f"customers/{other['id']}/addresses")["results"][0]
    response = api.post("sales/orders", {
        "customer_id": shop["customer"]["id"], "station_id": shop["station"], "source_location_id": shop["wh"]["id"],
        "shipping_address_id": foreign["id"]})
    assert response.status_code == 422 and "shipping_address_id" in response.json()["details"]


def test_order_lifecycle_moves_stock(api: Api, shop: dict[str, Any]) -> None:
    item, wh = shop["items"][0], shop["wh"]["id"]
    start = api.stock(item["id"], wh)
    order = _order(api, shop, [{"item_id": item["id"], "qty": 3, "unit_price": 10}], shipping_charge=4.5,
                   custom={"magento_order": "100000042"})
    assert order["status"] == "pending" and order["total"] == 34.5 and order["public_id"]
    assert api.stock(item["id"], wh) == start  # pending orders commit nothing
    payment = api.post(f"sales/orders/{order['id']}/payments", {"type": "ExternalPayment", "deposit": True,
                                                                "amount": 34.5, "description": "PayPal 1A2B"})
    assert payment.status_code == 201 and payment.content == b""
    opened = api.put(f"sales/orders/{order['id']}", {"status": "open"})
    assert opened.status_code == 200 and opened.json()["status"] == "open" and opened.json()["balance"] == 0
    committed = api.stock(item["id"], wh)
    assert committed["qty_committed"] == start["qty_committed"] + 3
    assert committed["qty_available"] == start["qty_available"] - 3
    assert committed["qty_on_hand"] == start["qty_on_hand"]
    invoice = api.created("sales/invoices", {"order_id": order["id"], "station_id": shop["station"],
                                             "source_location_id": wh, "lines": [
                                                 {"order_line_id": api.get(f"sales/orders/{order['id']}/lines")[
                                                     "results"][0]["id"], "qty": 2}]})
    assert invoice["status"] == "pending" and invoice["type"] == "Invoice" and invoice["total"] == 24.5
    assert api.put(f"sales/invoices/{invoice['id']}", {"status": "complete"}).json()["status"] == "complete"
    partly = api.stock(item["id"], wh)
    assert partly["qty_on_hand"] == start["qty_on_hand"] - 2
    assert partly["qty_committed"] == start["qty_committed"] + 1
    assert api.get(f"sales/orders/{order['id']}")["status"] == "open"
    rest = api.created("sales/invoices", {"order_id": order["id"], "station_id": shop["station"],
                                          "source_location_id": wh})
    api.put(f"sales/invoices/{rest['id']}", {"status": "complete"})
    done = api.stock(item["id"], wh)
    assert done["qty_on_hand"] == start["qty_on_hand"] - 3 and done["qty_committed"] == start["qty_committed"]
    final = api.get(f"sales/orders/{order['id']}", [("_include[]", "lines"), ("_include[]", "payments"),
                                                    ("_include[]", "customer"), ("_include[]", "invoices")])
    assert final["status"] == "complete" and final["completed_at"]
    assert final["lines"][0]["qty_invoiced"] == 3 and final["payments"][0]["amount"] == 34.5
    assert final["customer"]["id"] == shop["customer"]["id"] and len(final["invoices"]) == 2
    found = api.get("sales/orders", {"_filter": json.dumps({"custom@magento_order": "100000042"})})["results"]
    assert [o["id"] for o in found] == [order["id"]]


def test_status_rules(api: Api, shop: dict[str, Any]) -> None:
    empty = _order(api, shop, [])
    refused = api.put(f"sales/orders/{empty['id']}", {"status": "open"})
    assert refused.status_code == 422 and "status" in refused.json()["details"]
    order = _order(api, shop, [{"item_id": shop["items"][1]["id"], "qty": 1}])
    assert api.put(f"sales/orders/{order['id']}", {"status": "complete"}).status_code == 422
    not_open = api.post("sales/invoices", {"order_id": order["id"], "station_id": shop["station"],
                                           "source_location_id": shop["wh"]["id"]})
    assert not_open.status_code == 422 and "order_id" in not_open.json()["details"]
    start = api.stock(shop["items"][1]["id"], shop["wh"]["id"])
    api.put(f"sales/orders/{order['id']}", {"status": "open"})
    cancelled = api.put(f"sales/orders/{order['id']}", {"status": "cancelled"}).json()
    assert cancelled["status"] == "cancelled"
    assert api.stock(shop["items"][1]["id"], shop["wh"]["id"]) == start
    assert api.put(f"sales/orders/{order['id']}", {"status": "open"}).status_code == 422


def test_invoices_of_a_cancelled_order_do_not_complete(api: Api, shop: dict[str, Any]) -> None:
    item, wh = shop["items"][8], shop["wh"]["id"]
    start = api.stock(item["id"], wh)
    order = _order(api, shop, [{"item_id": item["id"], "qty": 2}], status="open")
    invoice = api.created("sales/invoices", {"order_id": order["id"], "station_id": shop["station"],
                                             "source_location_id": wh})
    api.put(f"sales/orders/{order['id']}", {"status": "cancelled"})
    refused = api.put(f"sales/invoices/{invoice['id']}", {"status": "complete"})
    assert refused.status_code == 422 and "cancelled" in refused.json()["details"]["status"][0]
    assert api.stock(item["id"], wh) == start


def test_a_fulfilled_order_takes_payments_on_its_invoice(api: Api, shop: dict[str, Any]) -> None:
    item, wh = shop["items"][9], shop["wh"]["id"]
    order = _order(api, shop, [{"item_id": item["id"], "qty": 1, "unit_price": 30}], status="open")
    invoice = api.created("sales/invoices", {"order_id": order["id"], "station_id": shop["station"],
                                             "source_location_id": wh, "status": "complete"})
    assert api.get(f"sales/orders/{order['id']}")["status"] == "complete"
    payment = {"type": "ExternalPayment", "amount": 30, "description": "Captured after shipping",
               "custom": {"magento_capture": "invoice:7"}}
    refused = api.post(f"sales/orders/{order['id']}/payments", payment)
    assert refused.status_code == 422
    assert refused.json()["details"]["order_id"] == [
        f"the order is complete; it takes no more payments; record it on the invoice that fulfilled it "
        f"(sales/invoices/{invoice['id']}/payments)"]
    taken = api.created(f"sales/invoices/{invoice['id']}/payments", payment)
    assert (taken["invoice_id"], taken["amount"], taken["deposit"], taken["status"]) == (invoice["id"], 30, False,
                                                                                          "complete")
    read = api.get(f"sales/invoices/{invoice['id']}", {"_include[]": "payments"})
    assert read["total_paid"] == 30 and [p["id"] for p in read["payments"]] == [taken["id"]]
    totals = api.get(f"sales/orders/{order['id']}")
    assert totals["total_paid"] == 30 and totals["balance"] == 0
    # A failed one stops counting, on the invoice and its order alike.
    failed = api.put(f"sales/invoices/{invoice['id']}/payments/{taken['id']}", {"status": "failed"})
    assert failed.status_code == 200 and failed.json()["status"] == "failed"
    assert api.get(f"sales/invoices/{invoice['id']}")["total_paid"] == 0
    assert api.get(f"sales/orders/{order['id']}")["balance"] == 30
    # A cancelled invoice takes none.
    other = _order(api, shop, [{"item_id": item["id"], "qty": 1}], status="open")
    pending = api.created("sales/invoices", {"order_id": other["id"], "station_id": shop["station"],
                                             "source_location_id": wh})
    api.put(f"sales/invoices/{pending['id']}", {"status": "cancelled"})
    refused = api.post(f"sales/invoices/{pending['id']}/payments", payment)
    assert refused.status_code == 422 and refused.json()["details"] == {
        "invoice_id": ["the invoice is cancelled; it takes no payments"]}


def test_lines_of_an_open_order_recommit(api: Api, shop: dict[str, Any]) -> None:
    item, wh, dt = shop["items"][2], shop["wh"]["id"], shop["dt"]["id"]
    order = _order(api, shop, [{"item_id": item["id"], "qty": 2}], status="open")
    assert order["status"] == "open"
    line = api.get(f"sales/orders/{order['id']}/lines")["results"][0]
    before_wh, before_dt = api.stock(item["id"], wh), api.stock(item["id"], dt)
    moved = api.put(f"sales/orders/{order['id']}/lines/{line['id']}", {"ship_from_location_id": dt, "qty": 5})
    assert moved.status_code == 200 and moved.json()["ship_from_location_id"] == dt
    assert api.stock(item["id"], wh)["qty_committed"] == before_wh["qty_committed"] - 2
    assert api.stock(item["id"], dt)["qty_committed"] == before_dt["qty_committed"] + 5
    wrong_place = api.post("sales/invoices", {"order_id": order["id"], "station_id": shop["station"],
                                              "source_location_id": wh})
    assert wrong_place.status_code == 422 and "source_location_id" in wrong_place.json()["details"]
    extra = api.created(f"sales/orders/{order['id']}/lines", {"item_lookup": item["public_id"], "qty": 1})
    assert extra["ship_from_location_id"] == wh
    assert api.stock(item["id"], wh)["qty_committed"] == before_wh["qty_committed"] - 1


def test_inventory_values_group_and_exclude_empty(api: Api, shop: dict[str, Any]) -> None:
    item = shop["items"][3]
    per_location = api.get("inventory/values", {"item_id": item["id"], "group[]": "location_id"})["results"]
    assert len(per_location) == 3 and {r["location_id"] for r in per_location} == {
        shop["wh"]["id"], shop["dt"]["id"], per_location[1]["location_id"]}
    total = api.get("inventory/values", {"_filter": json.dumps({"item_id": item["id"]})})["results"]
    assert len(total) == 1 and "item_id" not in total[0] and "location_id" not in total[0]
    assert total[0]["qty_on_hand"] == sum(r["qty_on_hand"] for r in per_location)
    by_item = api.get("inventory/values", [("group[]", "item_id"), ("per_page", 500),
                                           ("_filter", json.dumps({"location_id": shop["wh"]["id"]}))])
    assert by_item["total"] >= 500
    with_item = api.get("inventory/values", [("group[]", "item_id"), ("group[]", "location_id"),
                                             ("item_id", item["id"]), ("_include[]", "item"),
                                             ("_include[]", "location")])["results"][0]
    assert with_item["item"]["id"] == item["id"] and with_item["location"]["id"] == with_item["location_id"]
    assert with_item["qty"] == with_item["qty_on_hand"]
    non_empty = api.get("inventory/values", [("group[]", "item_id"), ("group[]", "location_id"), ("per_page", 5000),
                                             ("exclude_empty_locations", "true")])["results"]
    assert all(r["qty_on_hand"] or r["qty_committed"] for r in non_empty)
    bad = api.session.get(f"{api.base}/inventory/values", params={"group[]": "color"}, timeout=10)
    assert bad.status_code == 422


def test_adjustment_sets_apply_deltas_on_completion(api: Api, shop: dict[str, Any]) -> None:
    reason = api.get("reason_codes/inventory_adjustment_reasons", {"per_page": "all"})["results"][0]
    item, dt = shop["items"][4], shop["dt"]["id"]
    start = api.stock(item["id"], dt)["qty_on_hand"]
    adjustment = api.created("inventory/adjustment_sets", {"location_id": dt, "adjustment_reason_id": reason["id"],
                                                           "custom": {"tillbridge_key": "adj-1"}})
    assert adjustment["status"] == "pending"
    api.created(f"inventory/adjustment_sets/{adjustment['id']}/lines", {"item_id": item["id"], "qty": 7})
    api.created(f"inventory/adjustment_sets/{adjustment['id']}/lines", {"item_lookup": item["public_id"], "qty": -2})
    assert api.stock(item["id"], dt)["qty_on_hand"] == start
    assert api.put(f"inventory/adjustment_sets/{adjustment['id']}", {"status": "complete"}).json()["status"] == "complete"
    assert api.stock(item["id"], dt)["qty_on_hand"] == start + 5
    late = api.post(f"inventory/adjustment_sets/{adjustment['id']}/lines", {"item_id": item["id"], "qty": 1})
    assert late.status_code == 422
    zero = api.post("inventory/adjustment_sets", {"location_id": dt, "adjustment_reason_id": reason["id"],
                                                  "lines": [{"item_id": item["id"], "qty": 0}]})
    assert zero.status_code == 422 and "lines[0].qty" in zero.json()["details"]
    ledger = api.get("inventory/transactions", {"item_id": item["id"], "source_id": adjustment["id"]})
    assert sorted(t["qty"] for t in ledger["results"]) == [-2, 7]


def test_tickets_and_returns(api: Api, shop: dict[str, Any]) -> None:
    item, dt = shop["items"][5], shop["dt"]["id"]
    start = api.stock(item["id"], dt)["qty_on_hand"]
    ticket = api.created("sales/tickets", {
        "station_id": shop["pos"], "customer_id": shop["customer"]["id"],
        "item_lines": [{"item_id": item["id"], "qty": 2, "unit_price": 15}],
        "tax_lines": [{"type": "TaxLine", "description": "Tax", "value": 2.48}],
        "payments": [{"type": "Payments::ExternalPayment", "amount": 32.48}]})
    assert ticket["type"] == "Ticket" and ticket["status"] == "incomplete" and ticket["source_location_id"] == dt
    assert ticket["total"] == 32.48 and "subtotal" not in ticket
    included = api.get(f"sales/tickets/{ticket['id']}", [("_include[]", "subtotal"), ("_include[]", "tax_total"),
                                                         ("_include[]", "lines")])
    assert included["subtotal"] == 30 and included["tax_total"] == 2.48 and len(included["lines"]) == 2
    api.put(f"sales/tickets/{ticket['id']}", {"status": "complete"})
    assert api.stock(item["id"], dt)["qty_on_hand"] == start - 2
    orphan = api.post("sales/tickets", {"type": "Return", "station_id": shop["pos"],
                                        "item_lines": [{"item_id": item["id"], "qty": -1}]})
    assert orphan.status_code == 422 and "parent_transaction_id" in orphan.json()["details"]
    positive = api.post("sales/tickets", {"type": "Return", "station_id": shop["pos"],
                                          "parent_transaction_id": ticket["id"],
                                          "item_lines": [{"item_id": item["id"], "qty": 1}]})
    assert positive.status_code == 422 and "item_lines[0].qty" in positive.json()["details"]
    ret = api.created("sales/tickets", {"type": "Return", "station_id": shop["pos"], "status": "complete",
                                        "parent_transaction_id": ticket["id"], "customer_id": shop["customer"]["id"],
                                        "item_lines": [{"item_id": item["id"], "qty": -1, "unit_price": 15}]})
    assert ret["status"] == "complete" and ret["total"] == -15 and ret["parent_transaction_id"] == ticket["id"]
    assert api.stock(item["id"], dt)["qty_on_hand"] == start - 1
    returns = api.get("sales/tickets", {"_filter": json.dumps({"type": "Return",
                                                               "parent_transaction_id": ticket["id"]})})
    assert [r["id"] for r in returns["results"]] == [ret["id"]]


def test_transactions_share_one_id_sequence(api: Api, shop: dict[str, Any]) -> None:
    order = _order(api, shop, [{"item_id": shop["items"][6]["id"], "qty": 1}])
    ticket = api.created("sales/tickets", {"station_id": shop["pos"], "item_lines": [
        {"item_id": shop["items"][6]["id"], "qty": 1}]})
    assert ticket["id"] > order["id"]
    assert api.session.get(f"{api.base}/sales/tickets/{order['id']}", timeout=10).status_code == 404


def test_gift_cards(api: Api, shop: dict[str, Any]) -> None:
    reason = api.get("reason_codes/gift_card_adjustment_reasons", {"per_page": "all"})["results"][0]
    card = api.created("gift_cards", {"number": "tb 1234 5678", "customer_id": shop["customer"]["id"]})
    assert card["number"] == "tb12345678" and card["balance"] == 0
    duplicate = api.post("gift_cards", {"number": "tb12345678"})
    assert duplicate.status_code == 422 and duplicate.json()["details"] == {"number": ["has already been taken"]}
    assert api.put(f"gift_cards/{card['id']}", {"balance": 99}).status_code == 422
    up = api.created("gift_card_adjustments", {"gift_card_number": "tb 1234 5678", "amount": 40,
                                               "reason_id": reason["id"]})
    assert up["balance_after"] == 40 and up["gift_card_id"] == card["id"]
    over = api.post("gift_card_adjustments", {"gift_card_id": card["id"], "amount": -41, "reason_id": reason["id"]})
    assert over.status_code == 422 and "amount" in over.json()["details"]
    no_reason = api.post("gift_card_adjustments", {"gift_card_id": card["id"], "amount": 5})
    assert no_reason.status_code == 422 and "reason_id" in no_reason.json()["details"]
    assert api.get(f"gift_cards/{card['id']}")["balance"] == 40


def test_concurrent_orders_get_distinct_numbers_and_exact_commitments(api: Api, shop: dict[str, Any]) -> None:
    item, wh = shop["items"][7], shop["wh"]["id"]
    start = api.stock(item["id"], wh)
    made: list[dict[str, Any]] = []
    errors: list[str] = []
    guard = threading.Lock()

    def worker() -> None:
        local = Api(api.base[: -len("/api")])
        for _ in range(10):
            response = local.post("sales/orders", {
                "customer_id": shop["customer"]["id"], "station_id": shop["station"], "source_location_id": wh,
                "status": "open", "lines": [{"item_id": item["id"], "qty": 1}]})
            if response.status_code != 201:
                with guard:
                    errors.append(response.text)
                continue
            order = local.session.get(response.headers["Location"], timeout=10).json()
            with guard:
                made.append(order)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(made) == 60
    assert len({o["id"] for o in made}) == 60 and len({o["public_id"] for o in made}) == 60
    after = api.stock(item["id"], wh)
    assert after["qty_committed"] == start["qty_committed"] + 60


def test_concurrent_stock_moves_add_up_in_values_and_ledger(api: Api, shop: dict[str, Any]) -> None:
    item, dt = shop["items"][9], shop["dt"]["id"]
    reason = api.get("reason_codes/inventory_adjustment_reasons", {"per_page": "all"})["results"][0]
    start = api.stock(item["id"], dt)
    ledger_before = sum(t["qty"] for t in api.get("inventory/transactions", {
        "item_id": item["id"], "location_id": dt, "per_page": 5000})["results"])
    failures: list[str] = []

    def adjust() -> None:
        local = Api(api.base[: -len("/api")])
        for _ in range(8):
            response = local.post("inventory/adjustment_sets", {
                "location_id": dt, "adjustment_reason_id": reason["id"], "status": "complete",
                "lines": [{"item_id": item["id"], "qty": 3}]})
            if response.status_code != 201:
                failures.append(response.text)

    def sell() -> None:
        local = Api(api.base[: -len("/api")])
        for _ in range(8):
            response = local.post("sales/tickets", {"station_id": shop["pos"], "status": "complete",
                                                    "item_lines": [{"item_id": item["id"], "qty": 1}]})
            if response.status_code != 201:
                failures.append(response.text)

    threads = [threading.Thread(target=fn) for fn in (adjust, adjust, sell, sell)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    after = api.stock(item["id"], dt)
    assert after["qty_on_hand"] == start["qty_on_hand"] + 2 * 8 * 3 - 2 * 8
    ledger_after = sum(t["qty"] for t in api.get("inventory/transactions", {
        "item_id": item["id"], "location_id": dt, "per_page": 5000})["results"])
    assert ledger_after - ledger_before == after["qty_on_hand"] - start["qty_on_hand"]
