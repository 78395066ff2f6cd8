"""Every request MagentoClient sends validates against Adobe's published REST schema, and the
sandbox's answers match the schema where it declares them (reference/magento-rest-api.md §1.4, §6).

The client's public methods are all exercised against the sandbox over HTTP; the requests the sandbox
recorded (``GET /__sandbox/requests``) are validated one by one; the answers are taken from the
client's exchange hook. The gift-card route is ours, not Adobe's: it is checked against the contract
the sandbox declares for it (service/sandbox/magento/contract.py).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from service.connectors.http import Exchange, HttpConnector
from service.connectors.magento.client import MagentoClient
from service.kernel.errors import SyncError
from service.sandbox.magento.app import create_app
from service.sandbox.magento.contract import GIFT_CARD_DEFINITIONS
from service.sandbox.server import RunningSandbox, start_in_thread
from tests.connectors.magento_schema import SchemaValidator, gift_card_paths, schema_path

pytestmark = pytest.mark.skipif(
    not schema_path().exists(),
    reason=f"Adobe's Magento REST schema is not at {schema_path()} (CI puts the shared folder next to the "
    "checkout; or set TILLBRIDGE_MAGENTO_SCHEMA_DIR)",
)

TOKEN = "conformance-token"
OAUTH = {"consumer_key": "ck", "consumer_secret": "cs", "access_token": TOKEN, "access_token_secret": "ats"}


@pytest.fixture(scope="module")
def validator() -> SchemaValidator:
    schema = json.loads(schema_path().read_text(encoding="utf-8"))
    return SchemaValidator(schema, gift_card_paths(), GIFT_CARD_DEFINITIONS)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    running = start_in_thread(create_app(seed="demo", token=TOKEN, consumer_key="ck", consumer_secret="cs",
                                         access_token_secret="ats", history_orders=60))
    yield running
    running.stop()


class Recorder:
    """Wraps a client so the test knows which methods it exercised."""

    def __init__(self, client: MagentoClient) -> None:
        self.client = client
        self.called: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        self.called.add(name)
        return getattr(self.client, name)


def client_methods() -> set[str]:
    base = {name for name, _ in inspect.getmembers(HttpConnector, inspect.isfunction)}
    own = {name for name, member in inspect.getmembers(MagentoClient, inspect.isfunction)
           if not name.startswith("_") and name not in base}
    return own - {"path", "call", "search", "iter_search"}  # plumbing, exercised through the others


def exercise(m: Any, sandbox: RunningSandbox) -> None:
    """Call every public method of the client once or more, the way the flows use them."""
    placed = requests.post(f"{sandbox.url}/__sandbox/checkout", json={
        "items": [{"sku": "TEE-1000", "qty": 2}, {"sku": "HOD-1001", "qty": 1}], "payment_method": "braintree",
    }, timeout=10).json()
    oid = placed["entity_id"]
    lines = {i["item_id"]: i["qty_ordered"] for i in placed["items"]}
    first_item = next(iter(lines))
    m.order(oid)
    assert m.store_codes()[1] == "default"
    m.search_orders([("status", ["pending", "processing"], "in"), [("grand_total", 50, "gteq"),
                     ("customer_is_guest", 1)]], sort=["-created_at"], page_size=5, current_page=1,
                    fields="items[entity_id,increment_id],total_count")
    list(m.iter_orders([("created_at", "2026-05-01 00:00:00", "gt")], page_size=20))
    m.order_by_increment_id(placed["increment_id"])
    m.add_order_comment(oid, "Heartland order #1001", status="processing", is_customer_notified=True)
    m.order_comments(oid)
    m.order_status(oid)
    m.hold(oid)
    m.unhold(oid)
    invoice_id = m.invoice(oid, {first_item: lines[first_item]}, capture=True, comment="first part")
    m.invoice(oid)
    m.get_invoice(invoice_id)
    m.search_invoices([("order_id", oid)], page_size=10)
    shipment_id = m.ship(oid, {first_item: 1}, tracks=[{"track_number": "1Z999", "title": "UPS",
                                                        "carrier_code": "ups"}], comment="first box",
                         source_code="default")
    m.add_track(shipment_id, oid, "9400100000000000000000", "usps", "USPS")
    m.shipment(shipment_id)
    m.search_shipments([("order_id", oid)])
    m.ship(oid)
    memo_id = m.refund(oid, {first_item: 1}, shipping_amount=0, adjustment_positive=1.5, adjustment_negative=0.5,
                       return_to_stock=[first_item], comment="damaged")
    m.creditmemo(memo_id)
    m.search_creditmemos([("order_id", oid)])
    list(m.iter_creditmemos(page_size=5))
    guest = requests.post(f"{sandbox.url}/__sandbox/checkout", json={"items": [{"sku": "CAP-1002", "qty": 1}]},
                          timeout=10).json()
    m.cancel(guest["entity_id"])
    m.create_order({"customer_email": "pos@example.com", "customer_firstname": "Pat", "customer_lastname": "Pos",
                    "grand_total": 9.99, "base_grand_total": 9.99, "customer_is_guest": 1,
                    "items": [{"sku": "MUG-1003", "name": "Mug", "qty_ordered": 1, "price": 9.99}],
                    "payment": {"method": "checkmo", "additional_information": [], "cc_last4": "",
                                "account_status": ""}})

    created = m.create_customer({
        "email": "conformance@example.com", "firstname": "Cora", "lastname": "Form", "website_id": 1,
        "addresses": [{"firstname": "Cora", "lastname": "Form", "street": ["1 Schema Way"], "city": "Austin",
                       "region": {"region_code": "TX", "region": "Texas", "region_id": 57}, "region_id": 57,
                       "postcode": "78701", "country_id": "US", "telephone": "+15125550101",
                       "default_billing": True, "default_shipping": True}],
    }, password="Passw0rd!x")
    m.customer(created["id"])
    m.update_customer(created["id"], {"email": created["email"], "firstname": "Cora", "lastname": "Formal"})
    m.search_customers([("email", "%@example.com", "like")], sort=[("lastname", "ASC")], page_size=5)
    list(m.iter_customers([("website_id", 1)], page_size=50))
    m.customer_by_email("conformance@example.com", website_id=1)

    m.product("TEE-1000")
    m.product("TEE-1000", store_code="all")
    m.search_products([("type_id", "simple"), ("price", 30, "lt")], sort=["price"], page_size=10)
    list(m.iter_products([("sku", "BTL-%", "like")], page_size=20))
    m.update_product("TEE-1000", {"name": "Vintage Tee", "price": 24.99,
                                  "custom_attributes": [{"attribute_code": "description", "value": "<p>Soft.</p>"}]})
    m.update_product("TEE-1000", {"price": 23.99, "status": 1}, store_code="all")
    m.create_product({"sku": "NEW-0001", "name": "New Thing", "price": 12.0, "attribute_set_id": 4,
                      "type_id": "simple", "weight": 0.5, "status": 1, "visibility": 4,
                      "extension_attributes": {"website_ids": [1], "stock_item": {"qty": 5, "is_in_stock": True}}})
    color = m.product_attribute("color")
    teal = m.add_attribute_option("color", "Teal", sort_order=9)
    assert teal in {o["value"] for o in m.attribute_options("color")}
    m.create_product({"sku": "CONF-0001", "name": "Conf Tee", "price": 20.0, "attribute_set_id": 4,
                      "type_id": "configurable", "visibility": 4, "status": 1})
    m.add_configurable_option("CONF-0001", color["attribute_id"], "Color", [teal])
    m.update_product("NEW-0001", {"visibility": 1, "custom_attributes": [{"attribute_code": "color", "value": teal}]},
                     store_code="all")
    m.link_configurable_child("CONF-0001", "NEW-0001")
    m.configurable_options("CONF-0001")
    m.configurable_children("CONF-0001")
    item = m.stock_item("TEE-1000")
    m.update_stock_item("TEE-1000", item["item_id"], {"qty": 12, "is_in_stock": True})
    m.set_stock_qty("HOD-1001", 3)
    m.save_source_items([{"sku": "TEE-1000", "source_code": "default", "quantity": 11, "status": 1},
                         {"sku": "CAP-1002", "quantity": 0}], batch_size=1)
    m.search_source_items([("sku", ["TEE-1000", "CAP-1002"], "in")])

    card = m.search_giftcards(page_size=1)["items"][0]
    m.giftcard(card["code"])
    m.create_giftcard("HL-CONF-1", 25.0)
    m.adjust_giftcard("HL-CONF-1", -5.0, "adj-conf-1", reason="Heartland sale 77")
    list(m.giftcard_history(code="HL-CONF-1"))
    list(m.giftcard_history(since="2026-01-01 00:00:00", page_size=50))
    m.issue_admin_token("admin", "admin123")


@pytest.mark.parametrize("auth", ["oauth", "bearer"])
def test_every_client_request_conforms_to_the_schema(sandbox: RunningSandbox, validator: SchemaValidator,
                                                     auth: str) -> None:
    requests.post(f"{sandbox.url}/__sandbox/reset", timeout=30)
    exchanges: list[Exchange] = []
    credentials: dict[str, Any] = OAUTH if auth == "oauth" else {"token": TOKEN}
    client = MagentoClient(f"{sandbox.url}/rest", on_exchange=exchanges.append, **credentials)
    recorder = Recorder(client)
    exercise(recorder, sandbox)

    missing = client_methods() - recorder.called
    assert not missing, f"exercise these client methods in the conformance test: {sorted(missing)}"
    logged = requests.get(f"{sandbox.url}/__sandbox/requests", params={"path": "/rest/"}, timeout=10).json()
    assert len(logged["requests"]) == len(exchanges) > 40
    problems: list[str] = []
    for entry in logged["requests"]:
        assert entry["status"] < 400, f"{entry['method']} {entry['path']} failed: {entry}"
        problems += validator.validate_request(entry["method"], entry["path"], entry["body"], entry["query"])
    assert problems == []


def test_sandbox_answers_conform_to_the_schema(sandbox: RunningSandbox, validator: SchemaValidator) -> None:
    requests.post(f"{sandbox.url}/__sandbox/reset", timeout=30)
    exchanges: list[Exchange] = []
    client = MagentoClient(f"{sandbox.url}/rest", on_exchange=exchanges.append, **OAUTH)
    exercise(client, sandbox)
    for bad in (lambda: client.order(999999), lambda: client.unhold(1),
                lambda: client.update_customer(1, {"email": "x"}), lambda: client.product("NOPE-404"),
                lambda: client.save_source_items([{"sku": "NOPE", "quantity": 1}])):
        with pytest.raises(SyncError):
            bad()
    statuses = {e.status for e in exchanges}
    assert any(s and s >= 400 for s in statuses)
    problems: list[str] = []
    for exchange in exchanges:
        path = exchange.url.split("://", 1)[1].split("/", 1)[1]
        problems += validator.validate_response(exchange.method, "/" + path, exchange.status or 0,
                                                exchange.response_body)
    assert problems == []


def test_the_validator_catches_what_magento_refuses(validator: SchemaValidator) -> None:
    comment = {"comment": "x", "is_customer_notified": 0, "is_visible_on_front": 0, "parent_id": 1}
    assert validator.validate_request("POST", "/rest/default/V1/orders/1/comments", {"statusHistory": comment}) == []
    assert validator.validate_request("POST", "/rest/V1/orders/1/comments", {"status_history": comment}) == []
    assert any("required argument 'statusHistory'" in p
               for p in validator.validate_request("POST", "/rest/V1/orders/1/comments", {}))
    assert any("unknown property 'groupid'" in p for p in validator.validate_request(
        "PUT", "/rest/V1/customers/5", {"customer": {"email": "a@b.c", "firstname": "A", "lastname": "B",
                                                     "groupid": 1}}))
    assert any("expected integer" in p for p in validator.validate_request(
        "POST", "/rest/V1/orders/1/comments", {"statusHistory": {**comment, "is_customer_notified": "yes"}}))
    assert any("not an integer" in p for p in validator.validate_request("GET", "/rest/V1/orders/abc", None))
    assert any("no such path" in p for p in validator.validate_request("GET", "/rest/V1/nowhere", None))
    assert any("no such path" in p for p in validator.validate_request("DELETE", "/rest/V1/orders/1", None))
    assert validator.validate_request("GET", "/rest/all/V1/products/TEE-1000", None) == []
    assert validator.validate_request(
        "GET", "/rest/V1/orders", None,
        "searchCriteria%5Bfilter_groups%5D%5B3%5D%5Bfilters%5D%5B1%5D%5Bcondition_type%5D=eq&fields=items") == []
    assert any("unknown query parameter" in p for p in validator.validate_request(
        "GET", "/rest/V1/orders", None, "searchCriteria[pagesise]=1"))
    assert validator.validate_response("GET", "/rest/V1/orders/1", 404,
                                       {"message": "No such entity with %fieldName = %fieldValue",
                                        "parameters": {"fieldName": "id", "fieldValue": 1}}) == []
    assert validator.validate_response("GET", "/rest/V1/orders/1", 200, {"entity_id": "1"}) != []
