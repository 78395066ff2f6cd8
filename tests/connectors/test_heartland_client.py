"""The Heartland client against the Heartland sandbox over real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import requests

from service.connectors.heartland.client import HeartlandClient, api_root, normalise_webhook_payload
from service.kernel.errors import (
    AuthError,
    DataError,
    NotFoundInTargetError,
    RateLimitedError,
    RetryableError,
)
from service.kernel.exchanges import Exchange
from service.sandbox.heartland.app import create_app
from service.sandbox.seed import generate
from service.sandbox.server import RunningSandbox, start_in_thread

TOKEN = "heartland-client-token"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    running = start_in_thread(create_app(seed="demo", token=TOKEN))
    yield running
    running.stop()


@pytest.fixture
def client(sandbox: RunningSandbox) -> HeartlandClient:
    return HeartlandClient(f"{sandbox.url}/api", TOKEN, timeout=10)


@pytest.fixture
def context(client: HeartlandClient) -> dict[str, int]:
    warehouse = next(loc for loc in client.locations() if loc["public_id"] == "WH")
    return {"location_id": warehouse["id"], "station_id": client.stations(warehouse["id"])[0]["id"]}


def test_base_url_gets_api_appended_once() -> None:
    assert api_root("https://acme.retail.heartland.us") == "https://acme.retail.heartland.us/api"
    assert api_root("https://acme.retail.heartland.us/api/") == "https://acme.retail.heartland.us/api"


def test_items_by_public_id(client: HeartlandClient) -> None:
    products = generate("demo").products
    item = client.find_item_by_public_id(products[3].sku)
    assert item is not None and item["description"] == products[3].name
    assert client.find_item_by_public_id("NOPE-1") is None
    skus = [p.sku for p in products[:250]] + ["NOPE-2"]
    found = client.find_items_by_public_ids(skus)
    assert set(found) == set(skus[:250])
    assert found[skus[10]]["public_id"] == skus[10]


def test_find_items_uses_one_in_query_per_chunk(client: HeartlandClient, sandbox: RunningSandbox) -> None:
    since = requests.get(f"{sandbox.url}/__sandbox/requests", timeout=10).json()["last"]
    client.find_items_by_public_ids([p.sku for p in generate("demo").products[:150]])
    log = requests.get(f"{sandbox.url}/__sandbox/requests", params={"since": since}, timeout=10).json()["requests"]
    assert len(log) == 1 and "%24in" in log[0]["query"]


def test_create_reads_the_location_then_gets_the_record(client: HeartlandClient) -> None:
    item = client.create_item({"public_id": "CLIENT-1", "description": "Client item", "price": 9.5, "cost": 3})
    assert item["id"] >= 100001 and item["public_id"] == "CLIENT-1" and item["price"] == 9.5
    updated = client.update_item(item["id"], {"price": 11})
    assert updated["price"] == 11 and updated["description"] == "Client item"
    assert client.exists(f"items/{item['id']}") and not client.exists("items/999999")


def test_failures_arrive_classified(client: HeartlandClient, sandbox: RunningSandbox) -> None:
    with pytest.raises(DataError) as data:
        client.create_customer({"first_name": "No last name"})
    assert data.value.status == 422 and "last_name" in data.value.details["details"]
    with pytest.raises(NotFoundInTargetError):
        client.sales_order(999999)
    with pytest.raises(AuthError):
        HeartlandClient(sandbox.url, "wrong-token").locations()


def test_rate_limited_reads_retry_and_writes_surface_429() -> None:
    running = start_in_thread(create_app(seed=None, token=TOKEN, rate_limit_per_second=2))
    try:
        client = HeartlandClient(running.url, TOKEN, read_retries=3)
        for _ in range(4):
            assert client.payment_types()
        with pytest.raises(RateLimitedError) as limited:
            for n in range(6):
                client.create("payment_types", {"name": f"Type {n}"})
        assert limited.value.retry_after is not None and limited.value.retry_after >= 1
    finally:
        running.stop()


def test_iterate_is_a_keyset_scan_that_survives_inserts(client: HeartlandClient, sandbox: RunningSandbox) -> None:
    seen: list[int] = []
    since = requests.get(f"{sandbox.url}/__sandbox/requests", timeout=10).json()["last"]
    for n, item in enumerate(client.iterate("items", {"custom@category": "Mug"}, per_page=20)):
        seen.append(item["id"])
        if n == 5:  # a new record mid-scan neither shifts pages nor repeats rows
            client.create_item({"description": "Mid-scan mug", "custom": {"category": "Mug"}})
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert len(seen) == client.count("items", {"custom@category": "Mug"})
    log = requests.get(f"{sandbox.url}/__sandbox/requests", params={"since": since, "path": "/api/items"},
                       timeout=10).json()["requests"]
    scans = [r for r in log if r["method"] == "GET" and r["path"] == "/api/items" and "per_page=20" in r["query"]]
    assert len(scans) >= 2 and all("sort%5B%5D=id" in r["query"] for r in scans)
    assert all("%24gt" in r["query"] for r in scans[1:])


def test_customers_and_addresses(client: HeartlandClient) -> None:
    person = generate("demo").customers[0]
    assert [c["email"] for c in client.find_customers_by_email(person.email)] == [person.email]
    customer = client.create_customer({"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"})
    address = client.add_customer_address(customer["id"], {
        "first_name": "Ada", "last_name": "Lovelace", "line_1": "12 Engine Row", "city": "Austin", "state": "TX",
        "postal_code": "78701", "country": "US", "phone": "+15125550100"})
    assert address["customer_id"] == customer["id"]
    assert [a["id"] for a in client.customer_addresses(customer["id"])] == [address["id"]]
    assert client.find_customers_by_email("ada@example.com")[0]["id"] == customer["id"]


def test_web_order_flow(client: HeartlandClient, context: dict[str, int]) -> None:
    customer = client.create_customer({"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"})
    address = client.add_customer_address(customer["id"], {"first_name": "Grace", "last_name": "Hopper",
                                                           "line_1": "1 Navy Way", "city": "Austin"})
    sku = generate("demo").products[20].sku
    item = client.find_item_by_public_id(sku)
    assert item is not None
    before = client.available_by_item([item["id"]], [context["location_id"]])[item["id"]]
    order = client.create_sales_order({
        "customer_id": customer["id"], "station_id": context["station_id"],
        "source_location_id": context["location_id"], "billing_address_id": address["id"],
        "shipping_address_id": address["id"], "shipping_charge": 5.0,
        "custom": {"magento_increment_id": "000000901"},
        "lines": [{"item_lookup": sku, "qty": 2, "adjusted_unit_price": 20.0}],
    })
    assert order["status"] == "pending" and order["total"] == 45.0
    assert client.find_sales_order_by_custom("magento_increment_id", "000000901")["id"] == order["id"]  # type: ignore[index]
    lines = client.sales_order_lines(order["id"])
    assert [(line["item_id"], line["qty"]) for line in lines] == [(item["id"], 2)]
    paypal = next(p for p in client.payment_types() if p["name"] == "PayPal")
    client.add_sales_order_payment(order["id"], {"type": "ExternalPayment", "deposit": True, "amount": 45.0,
                                                 "payment_type_id": paypal["id"]})
    assert [p["amount"] for p in client.sales_order_payments(order["id"])] == [45.0]
    opened = client.set_sales_order_status(order["id"], "open")
    assert opened["status"] == "open" and opened["balance"] == 0
    assert client.available_by_item([item["id"]], [context["location_id"]])[item["id"]] == before - 2
    invoice = client.create_invoice(order["id"], context["station_id"], context["location_id"])
    client.complete_invoice(invoice["id"])
    assert client.sales_order(order["id"])["status"] == "complete"
    rows = client.inventory_values([item["id"]], [context["location_id"]])
    assert rows[0]["qty_committed"] == 0 and rows[0]["qty_available"] == before - 2


def test_adjust_inventory_applies_once_per_key(client: HeartlandClient, context: dict[str, int]) -> None:
    reason = client.adjustment_reasons()[0]
    item = client.find_item_by_public_id(generate("demo").products[30].sku)
    assert item is not None
    location = context["location_id"]

    def on_hand() -> float:
        return float(client.inventory_values([item["id"]], [location])[0]["qty_on_hand"])

    start = on_hand()
    lines = [{"item_id": item["id"], "qty": 5, "unit_cost": 2.5}]
    first = client.adjust_inventory(location, reason["id"], lines, key="stock-run-1")
    again = client.adjust_inventory(location, reason["id"], lines, key="stock-run-1")
    assert first["id"] == again["id"] and first["status"] == "complete"
    assert on_hand() == start + 5


def test_adjust_inventory_finishes_a_set_left_pending(client: HeartlandClient, context: dict[str, int]) -> None:
    reason = client.adjustment_reasons()[0]
    items = [client.find_item_by_public_id(p.sku) for p in generate("demo").products[40:42]]
    location = context["location_id"]
    pending = client.create("inventory/adjustment_sets", {"location_id": location, "adjustment_reason_id":
                                                          reason["id"], "custom": {"tillbridge_key": "crash-1"}})
    client.create(f"inventory/adjustment_sets/{pending['id']}/lines", {"item_id": items[0]["id"], "qty": 1})  # type: ignore[index]
    done = client.adjust_inventory(location, reason["id"], [{"item_id": i["id"], "qty": 1} for i in items if i],
                                   key="crash-1")
    assert done["id"] == pending["id"] and done["status"] == "complete"
    assert len(client.adjustment_set_lines(done["id"])) == 2


def test_gift_card_adjustments_apply_once_per_key(client: HeartlandClient) -> None:
    card = client.create_gift_card({"number": "TB 0000 7777", "balance": 0})
    assert card["number"] == "TB00007777"
    reason = client.gift_card_reasons()[0]
    client.adjust_gift_card(card["id"], 50, reason["id"], key="gc-1")
    client.adjust_gift_card(card["id"], 50, reason["id"], key="gc-1")
    client.adjust_gift_card(card["id"], -20, reason["id"], key="gc-2")
    assert client.find_gift_card("TB00007777")["balance"] == 30  # type: ignore[index]
    with pytest.raises(DataError):
        client.adjust_gift_card(card["id"], -100, reason["id"])
    assert len(client.gift_card_adjustments(card["id"])) == 2


def test_writes_are_sequential_per_account(sandbox: RunningSandbox, context: dict[str, int]) -> None:
    active = 0
    peak = 0
    guard = threading.Lock()

    def watch(exchange: Exchange) -> None:
        pass

    client = HeartlandClient(sandbox.url, TOKEN, on_exchange=watch)
    original = client.send

    def counting_send(method: str, path: str, **kwargs: object) -> requests.Response:
        nonlocal active, peak
        if method in ("POST", "PUT"):
            with guard:
                active += 1
                peak = max(peak, active)
        try:
            return original(method, path, **kwargs)  # type: ignore[arg-type]
        finally:
            if method in ("POST", "PUT"):
                with guard:
                    active -= 1

    client.send = counting_send  # type: ignore[method-assign]
    threads = [threading.Thread(target=lambda n=n: client.create_customer({"first_name": f"P{n}", "last_name": "Q"}))
               for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 1


def test_exchanges_are_recorded_without_the_token(sandbox: RunningSandbox) -> None:
    seen: list[Exchange] = []
    client = HeartlandClient(sandbox.url, TOKEN, on_exchange=seen.append)
    client.locations()
    assert seen and seen[0].destination == "heartland" and seen[0].status == 200
    assert TOKEN not in repr(seen)


def test_webhooks_register_and_payloads_normalise(client: HeartlandClient) -> None:
    hook = client.register_webhook("http://127.0.0.1:9/hooks/heartland?token=x", ["item_created"])
    assert hook["id"] in [w["id"] for w in client.webhooks()]
    client.delete_webhook(hook["id"])
    assert hook["id"] not in [w["id"] for w in client.webhooks()]
    assert normalise_webhook_payload({"id": 1, "active?": True, "completed?": False}) == {
        "id": 1, "active": True, "completed": False}


def test_outages_and_dropped_connections_are_retryable(client: HeartlandClient, sandbox: RunningSandbox) -> None:
    faults = f"{sandbox.url}/__sandbox/faults"
    try:
        requests.post(faults, json={"outage_seconds": 30}, timeout=10)
        with pytest.raises(RetryableError) as outage:
            client.create_customer({"first_name": "Out", "last_name": "Age"})
        assert outage.value.status == 503
        requests.post(faults, json={"reset_rate": 1.0}, timeout=10)
        with pytest.raises(RetryableError) as dropped:
            client.create_customer({"first_name": "Re", "last_name": "Set"})
        assert dropped.value.status is None
    finally:
        requests.post(faults, json={}, timeout=10)
    assert client.locations()


def test_tickets_returns_and_invoices_read_back(client: HeartlandClient, context: dict[str, int]) -> None:
    store = next(loc for loc in client.locations() if loc["public_id"] == "DT")
    item = client.find_item_by_public_id(generate("demo").products[50].sku)
    assert item is not None
    ticket = client.create_ticket({"station_id": store["stations"][0]["id"],
                                   "item_lines": [{"item_id": item["id"], "qty": 2}]})
    done = client.complete_ticket(ticket["id"])
    assert done["status"] == "complete" and done["completed_at"]
    back = client.create_ticket({"type": "Return", "station_id": store["stations"][0]["id"], "status": "complete",
                                 "parent_transaction_id": ticket["id"],
                                 "item_lines": [{"item_id": item["id"], "qty": -1}]})
    assert [r["id"] for r in client.returns_for(ticket["id"])] == [back["id"]]
    assert [line["qty"] for line in client.ticket_lines(back["id"])] == [-1]
    assert client.ticket(ticket["id"])["lines"][0]["item_id"] == item["id"]
    recent = [t["id"] for t in client.iterate_tickets(completed_since=done["completed_at"], ticket_type="Return")]
    assert back["id"] in recent and ticket["id"] not in recent
    seeded_invoices = list(client.iterate_invoices(completed_since="2026-01-01T00:00:00Z"))
    assert len(seeded_invoices) >= 20 and all(i["status"] == "complete" for i in seeded_invoices)
    first = seeded_invoices[0]
    assert client.invoices_for_order(first["order_id"])[0]["id"] == first["id"]
    assert client.invoice_lines(first["id"])


def test_stock_changes_are_found_through_the_ledger(client: HeartlandClient, context: dict[str, int]) -> None:
    latest = client.list("inventory/transactions", sort=["id,desc"], per_page=1).results[0]["created_at"]
    assert client.stock_changed_item_ids("2099-01-01T00:00:00Z") == set()
    item = client.find_item_by_public_id(generate("demo").products[60].sku)
    assert item is not None
    reason = client.adjustment_reasons()[0]
    client.adjust_inventory(context["location_id"], reason["id"], [{"item_id": item["id"], "qty": 2}])
    assert item["id"] in client.stock_changed_item_ids(latest, [context["location_id"]])
    stores = [loc["id"] for loc in client.locations() if loc["id"] != context["location_id"]]
    assert item["id"] not in client.stock_changed_item_ids("2026-09-01T09:00:01Z", stores)


def test_updates_read_back_when_put_answers_no_body() -> None:
    running = start_in_thread(create_app(seed=None, token=TOKEN, empty_put_responses=True))
    try:
        client = HeartlandClient(running.url, TOKEN)
        raw = requests.put(f"{running.url}/api/payment_types/100001", json={"description": "x"},
                           headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert raw.status_code == 200 and raw.content == b""
        updated = client.update("payment_types/100001", {"description": "Cash in the till"})
        assert updated["id"] == 100001 and updated["description"] == "Cash in the till"
    finally:
        running.stop()


def test_creates_that_need_only_the_id_make_one_call(client: HeartlandClient, sandbox: RunningSandbox) -> None:
    since = requests.get(f"{sandbox.url}/__sandbox/requests", timeout=10).json()["last"]
    customer_id = client.create_customer_id({"first_name": "Ida", "last_name": "Once", "email": "ida@example.net"})
    address_id = client.add_customer_address_id(customer_id, {"first_name": "Ida", "last_name": "Once",
                                                              "line_1": "1 Main St", "postal_code": "12345"})
    log = requests.get(f"{sandbox.url}/__sandbox/requests", params={"since": since}, timeout=10).json()["requests"]
    assert [(r["method"], r["status"]) for r in log] == [("POST", 201), ("POST", 201)]
    [found] = client.find_customers_by_email("ida@example.net", include=["addresses"])
    assert found["id"] == customer_id
    assert [a["id"] for a in found["addresses"]] == [address_id]
