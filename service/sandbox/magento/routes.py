"""The REST routes the sandbox serves, each with its ACL resource, and the sandbox-only views.

Handlers run under the state lock, change the state through service/sandbox/magento/sales.py (and
its siblings), queue events, and return what Magento returns: entities, ``true``/``false``, or an id.
"""

from __future__ import annotations

import json
import random
from functools import lru_cache
from typing import Any

from flask import Flask, Response, jsonify, request

from service.sandbox.magento import catalog, configurable, customers, giftcards, sales, search
from service.sandbox.magento.errors import MagentoError, entity_missing, invalid_type, required_field
from service.sandbox.magento.sandbox import Call, MagentoSandbox, json_response
from service.sandbox.magento.state import Encoded

SALES_VIEW = "Magento_Sales::actions_view"


def scalar_fields(sb: MagentoSandbox, definition: str) -> frozenset[str]:
    return _scalar_fields(sb.contract, definition)


@lru_cache(maxsize=64)
def _scalar_fields(contract: Any, definition: str) -> frozenset[str]:
    props = contract.definitions[definition]["properties"]
    return frozenset(name for name, spec in props.items()
                     if spec.get("type") not in ("array", "object") and "$ref" not in spec)


def search_result(sb: MagentoSandbox, call: Call, records: list[dict[str, Any]], definition: str | None,
                  *, extra_fields: set[str] | None = None, getter: Any = search.top_level) -> Encoded:
    """Search ``records``; ``definition`` names the schema type whose scalar fields are searchable
    (None: any field)."""
    criteria = search.parse(call.args.items(multi=True))
    fields = set(scalar_fields(sb, definition)) | (extra_fields or set()) if definition else None
    page, total = search.apply(records, criteria, fields=fields, getter=getter)
    return Encoded({"items": page, "search_criteria": criteria.echo(), "total_count": total})


def object_arg(call: Call, name: str) -> dict[str, Any]:
    value = call.arg(name)
    if not isinstance(value, dict):
        raise required_field(name)
    return value


def list_arg(call: Call, name: str) -> list[dict[str, Any]]:
    value = call.arg(name) or []
    if not isinstance(value, list):
        raise invalid_type(name, "array")
    return value


# -- auth -------------------------------------------------------------------------------------------


def admin_token(call: Call) -> Any:
    username, password = call.arg("username"), call.arg("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise required_field("username" if not isinstance(username, str) else "password")
    return call.sandbox.auth.issue_admin_token(username, password)


# -- orders -----------------------------------------------------------------------------------------


def list_orders(call: Call) -> Any:
    sb = call.sandbox
    criteria = search.parse(call.args.items(multi=True))
    with sb.state.lock:
        state = sb.state
        page, total = search.apply(list(state.orders.values()), criteria,
                                   fields=scalar_fields(sb, "sales-data-order-interface"))
        items = ",".join(state.encoded_order(order) for order in page)
    echo = json.dumps(criteria.echo(), separators=(",", ":"))
    return Encoded.from_text(f'{{"items":[{items}],"search_criteria":{echo},"total_count":{total}}}')


def get_order(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        return Encoded.from_text(sb.state.encoded_order(sales.get_order(sb.state, call.int_param("id"))))


def create_order(call: Call) -> Any:
    sb = call.sandbox
    entity = call.arg("entity")
    if not isinstance(entity, dict):
        raise required_field("entity")
    with sb.state.lock:
        order, created = sales.save_order_entity(sb.state, entity)
        sb.emit("order.created" if created else "order.updated", order)
        return Encoded(order)


def list_order_comments(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        order = sales.get_order(sb.state, call.int_param("id"))
        items = order.get("status_histories", [])
        return Encoded({"items": items, "search_criteria": {"filter_groups": []}, "total_count": len(items)})


def add_order_comment(call: Call) -> Any:
    sb = call.sandbox
    history = call.arg("statusHistory")
    if not isinstance(history, dict):
        raise required_field("statusHistory")
    with sb.state.lock:
        order = sales.get_order(sb.state, call.int_param("id"))
        sales.add_comment(sb.state, order, history)
        sb.emit("order.updated", order)
    return True


def hold_order(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        order = sales.get_order(sb.state, call.int_param("id"))
        sales.hold(sb.state, order)
        sb.emit("order.updated", order)
    return True


def unhold_order(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        order = sales.get_order(sb.state, call.int_param("id"))
        sales.unhold(order)
        sb.emit("order.updated", order)
    return True


def cancel_order(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        order = sales.get_order(sb.state, call.int_param("id"))
        done = sales.cancel(sb.state, order)
        if done:
            sb.emit("order.updated", order)
    return done


def order_status(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        return sales.get_order(sb.state, call.int_param("id"))["status"]


def list_store_views(call: Call) -> Any:
    """Store views as ``GET /V1/store/storeViews`` lists them; the admin scope (id 0) is ``admin``."""
    sb = call.sandbox
    with sb.state.lock:
        return [{"id": s.store_id, "code": "admin" if s.store_id == 0 else s.code, "name": s.name,
                 "website_id": 0 if s.store_id == 0 else 1, "store_group_id": 0 if s.store_id == 0 else 1,
                 "is_active": 1} for s in sorted(sb.state.stores.values(), key=lambda s: s.store_id)]


# -- invoices, shipments, credit memos --------------------------------------------------------------


def invoice_order(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        order = sales.get_order(sb.state, call.int_param("orderId"))
        decline = sb.gateway_declines.get(order["entity_id"]) or sb.gateway_declines.get(0)
        document = sales.invoice(sb.state, order, items=list_arg(call, "items"), capture=bool(call.arg("capture")),
                                 comment=call.arg("comment"), append_comment=bool(call.arg("appendComment")),
                                 decline=decline)
        sb.emit("order.updated", order)
        return document["entity_id"]


def ship_order(call: Call) -> Any:
    sb = call.sandbox
    arguments = call.arg("arguments") or {}
    source_code = (arguments.get("extension_attributes") or {}).get("source_code")
    with sb.state.lock:
        order = sales.get_order(sb.state, call.int_param("orderId"))
        document = sales.ship(sb.state, order, items=list_arg(call, "items"), tracks=list_arg(call, "tracks"),
                              comment=call.arg("comment"), append_comment=bool(call.arg("appendComment")),
                              source_code=source_code, notify=bool(call.arg("notify")))
        sb.emit("order.updated", order)
        return document["entity_id"]


def refund_order(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        order = sales.get_order(sb.state, call.int_param("orderId"))
        memo = sales.refund(sb.state, order, items=list_arg(call, "items"), arguments=call.arg("arguments") or {},
                            comment=call.arg("comment"), append_comment=bool(call.arg("appendComment")))
        sb.emit("creditmemo.created", memo)
        sb.emit("order.updated", order)
        return memo["entity_id"]


def document_views(collection: str, definition: str) -> tuple[Any, Any]:
    def list_view(call: Call) -> Any:
        sb = call.sandbox
        with sb.state.lock:
            return search_result(sb, call, list(getattr(sb.state, collection).values()), definition)

    def get_view(call: Call) -> Any:
        sb = call.sandbox
        with sb.state.lock:
            document = getattr(sb.state, collection).get(call.int_param("id"))
            if document is None:
                raise entity_missing()
            return Encoded(document)

    return list_view, get_view


def add_track(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        return Encoded(sales.add_track(sb.state, object_arg(call, "entity")))


# -- customers --------------------------------------------------------------------------------------


def search_customers(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        return search_result(sb, call, list(sb.state.customers.values()), "customer-data-customer-interface",
                             extra_fields=customers.SEARCH_EXTRA_FIELDS, getter=customers.search_value)


def get_customer(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        return Encoded(customers.get_customer(sb.state, call.int_param("customerId")))


def create_customer(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        customer = customers.create_customer(sb.state, object_arg(call, "customer"))
        sb.emit("customer.created", customer)
        return Encoded(customer)


def update_customer(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        customer = customers.update_customer(sb.state, call.int_param("customerId"), object_arg(call, "customer"))
        sb.emit("customer.updated", customer)
        return Encoded(customer)


# -- products and stock -----------------------------------------------------------------------------


def list_products(call: Call) -> Any:
    sb = call.sandbox
    store_id = call.store.store_id
    with sb.state.lock:
        state = sb.state
        records = [catalog.product_view(state, sku, store_id) if (sku, store_id) in state.store_overrides else p
                   for sku, p in state.products.items()]
        return search_result(sb, call, records, None, getter=catalog.search_value)


def get_product(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        return Encoded(catalog.product_view(sb.state, call.params["sku"], call.store.store_id))


def save_product_view(call: Call, sku: str | None) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        product, _ = catalog.save_product(sb.state, sku, object_arg(call, "product"), call.store.store_id)
        view = catalog.product_view(sb.state, product["sku"], call.store.store_id)
        sb.emit("product.saved", view, call.store.store_id)
        return Encoded(view)


def update_product(call: Call) -> Any:
    return save_product_view(call, call.params["sku"])


def create_product(call: Call) -> Any:
    return save_product_view(call, None)


def get_stock_item(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        return catalog.get_stock(sb.state, call.params["productSku"])


def update_stock_item(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        return catalog.set_stock(sb.state, call.params["productSku"], object_arg(call, "stockItem"))


def list_source_items(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        return search_result(sb, call, list(sb.state.source_items.values()), "inventory-api-data-source-item-interface")


def save_source_items(call: Call) -> Any:
    sb = call.sandbox
    items = call.arg("sourceItems")
    if not isinstance(items, list):
        raise required_field("sourceItems")
    with sb.state.lock:
        catalog.save_source_items(sb.state, items)
    return []


# -- gift cards (Tillbridge route) ------------------------------------------------------------------


def search_giftcards(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        return search_result(sb, call, list(sb.state.giftcards.values()), "tillbridge-data-gift-card-interface")


def get_giftcard(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        return Encoded(giftcards.get_card(sb.state, call.params["code"]))


def create_giftcard(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        return Encoded(giftcards.create_card(sb.state, object_arg(call, "giftCard")))


def adjust_giftcard(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        return Encoded(giftcards.adjust(sb.state, call.params["code"], object_arg(call, "adjustment")))


def giftcard_history(call: Call) -> Any:
    sb = call.sandbox

    def number(*names: str, default: int) -> int:
        raw = next((call.args[n] for n in names if call.args.get(n) not in (None, "")), None)
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError:
            raise invalid_type(raw, "int") from None

    after_id, page_size = number("afterId", "after_id", default=0), number("pageSize", "page_size", default=100)
    with sb.state.lock:
        return Encoded(giftcards.history(sb.state, call.args.get("code") or None, call.args.get("since") or None,
                                         after_id, page_size))


def register(sb: MagentoSandbox) -> None:
    add = sb.add_route
    add("POST", "/V1/integration/admin/token", admin_token, None)
    add("GET", "/V1/orders", list_orders, SALES_VIEW)
    add("POST", "/V1/orders", create_order, "Magento_Sales::create")
    add("GET", "/V1/orders/{id}", get_order, SALES_VIEW)
    add("GET", "/V1/orders/{id}/comments", list_order_comments, SALES_VIEW)
    add("POST", "/V1/orders/{id}/comments", add_order_comment, "Magento_Sales::comment")
    add("POST", "/V1/orders/{id}/hold", hold_order, "Magento_Sales::hold")
    add("POST", "/V1/orders/{id}/unhold", unhold_order, "Magento_Sales::unhold")
    add("POST", "/V1/orders/{id}/cancel", cancel_order, "Magento_Sales::cancel")
    add("GET", "/V1/orders/{id}/statuses", order_status, SALES_VIEW)
    add("GET", "/V1/store/storeViews", list_store_views, "Magento_Backend::store")
    add("POST", "/V1/order/{orderId}/invoice", invoice_order, "Magento_Sales::invoice")
    add("POST", "/V1/order/{orderId}/ship", ship_order, "Magento_Sales::ship")
    add("POST", "/V1/order/{orderId}/refund", refund_order, "Magento_Sales::creditmemo")
    for collection, definition, list_path, get_path, resource in (
        ("invoices", "sales-data-invoice-interface", "/V1/invoices", "/V1/invoices/{id}", "Magento_Sales::sales_invoice"),
        ("shipments", "sales-data-shipment-interface", "/V1/shipments", "/V1/shipment/{id}", "Magento_Sales::shipment"),
        ("creditmemos", "sales-data-creditmemo-interface", "/V1/creditmemos", "/V1/creditmemo/{id}",
         "Magento_Sales::sales_creditmemo"),
    ):
        list_view, get_view = document_views(collection, definition)
        add("GET", list_path, list_view, resource)
        add("GET", get_path, get_view, resource)
    add("POST", "/V1/shipment/track", add_track, "Magento_Sales::ship")
    add("GET", "/V1/customers/search", search_customers, "Magento_Customer::customer")
    add("POST", "/V1/customers", create_customer, None)
    add("GET", "/V1/customers/{customerId}", get_customer, "Magento_Customer::customer")
    add("PUT", "/V1/customers/{customerId}", update_customer, "Magento_Customer::manage")
    add("GET", "/V1/products", list_products, "Magento_Catalog::products")
    add("POST", "/V1/products", create_product, "Magento_Catalog::products")
    add("GET", "/V1/products/{sku}", get_product, "Magento_Catalog::products")
    add("PUT", "/V1/products/{sku}", update_product, "Magento_Catalog::products")
    add("GET", "/V1/stockItems/{productSku}", get_stock_item, "Magento_CatalogInventory::cataloginventory")
    add("PUT", "/V1/products/{productSku}/stockItems/{itemId}", update_stock_item,
        "Magento_CatalogInventory::cataloginventory")
    add("GET", "/V1/inventory/source-items", list_source_items, "Magento_InventoryApi::source")
    add("POST", "/V1/inventory/source-items", save_source_items, "Magento_InventoryApi::source")
    configurable.register(sb)
    giftcard_resource = "Tillbridge_Connector::giftcards"
    add("GET", "/V1/tillbridge/giftcards", search_giftcards, giftcard_resource)
    add("POST", "/V1/tillbridge/giftcards", create_giftcard, giftcard_resource)
    add("GET", "/V1/tillbridge/giftcards/{code}", get_giftcard, giftcard_resource)
    add("POST", "/V1/tillbridge/giftcards/{code}/adjustments", adjust_giftcard, giftcard_resource)
    add("GET", "/V1/tillbridge/giftcard-history", giftcard_history, giftcard_resource)


# -- sandbox-only views -----------------------------------------------------------------------------


def register_sandbox_views(app: Flask, sb: MagentoSandbox) -> None:
    def checkout() -> Response:
        spec = request.get_json(silent=True)
        if not isinstance(spec, dict) or not isinstance(spec.get("items"), list):
            return json_response({"message": 'checkout needs {"items": [{"sku": …, "qty": …}], '
                                  '"customer_email"?: …, "guest"?: bool, "payment_method"?: …}'}, 400)
        try:
            with sb.state.lock:
                sb.state.order_json.clear()
                email = spec.get("customer_email")
                if not email and sb.state.customers:
                    # No email: a seeded shopper (or, for a guest, that shopper's email and address).
                    email = next(iter(sb.state.customers.values()))["email"]
                order = sales.place_order(
                    sb.state,
                    items=spec["items"],
                    customer_email=email,
                    guest=bool(spec.get("guest", False)),
                    payment_method=spec.get("payment_method", "checkmo"),
                    shipping_method=spec.get("shipping_method", "flatrate_flatrate"),
                    coupon_code=spec.get("coupon_code"),
                    address=spec.get("address"),
                    firstname=spec.get("firstname"),
                    lastname=spec.get("lastname"),
                    rng=random.Random(sb.rng.random()),
                )
                sb.emit("order.created", order)
                return Response(Encoded(order).text, status=200, mimetype="application/json")
        except MagentoError as exc:
            return json_response(exc.body(), exc.status)

    def gateway() -> Response:
        spec = request.get_json(silent=True)
        if not isinstance(spec, dict) or spec.get("captures") not in ("approve", "decline"):
            return json_response({"message": 'gateway needs {"captures": "approve"|"decline", "order_id"?: …, '
                                  '"code"?: …, "message"?: …}'}, 400)
        order_id = int(spec.get("order_id") or 0)
        with sb.state.lock:
            if spec["captures"] == "approve":
                sb.gateway_declines.pop(order_id, None)
            else:
                sb.gateway_declines[order_id] = {"code": str(spec.get("code") or "2001"),
                                                 "message": str(spec.get("message") or "Insufficient Funds")}
            return jsonify({"declines": {str(k): v for k, v in sb.gateway_declines.items()}})

    def events() -> Response:
        since = int(request.args.get("since", 0))
        return jsonify({"events": sb.events.events(since), "pending": sb.events.pending()})

    app.add_url_rule("/__sandbox/checkout", "magento_checkout", checkout, methods=["POST"])
    app.add_url_rule("/__sandbox/events", "magento_events", events, methods=["GET"])
    app.add_url_rule("/__sandbox/gateway", "magento_gateway", gateway, methods=["POST"])
