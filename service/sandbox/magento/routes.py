"""The REST routes the sandbox serves, each with its ACL resource, and the sandbox-only views.

Handlers run under the state lock, change the state through service/sandbox/magento/sales.py (and
its siblings), queue events, and return what Magento returns: entities, ``true``/``false``, or an id.
"""

from __future__ import annotations

import random
from typing import Any

from flask import Flask, Response, jsonify, request

from service.sandbox.magento import sales, search
from service.sandbox.magento.app import Call, MagentoSandbox, json_response
from service.sandbox.magento.errors import MagentoError, required_field
from service.sandbox.magento.state import snapshot

SALES_VIEW = "Magento_Sales::actions_view"


def scalar_fields(sb: MagentoSandbox, definition: str) -> set[str]:
    props = sb.contract.definitions[definition]["properties"]
    return {name for name, spec in props.items() if spec.get("type") not in ("array", "object") and "$ref" not in spec}


def search_result(sb: MagentoSandbox, call: Call, records: list[dict[str, Any]], definition: str,
                  default_sort: str | None = None) -> dict[str, Any]:
    criteria = search.parse(call.args.items(multi=True))
    page, total = search.apply(records, criteria, fields=scalar_fields(sb, definition), default_sort=default_sort)
    return {"items": [snapshot(r) for r in page], "search_criteria": criteria.echo(), "total_count": total}


# -- auth -------------------------------------------------------------------------------------------


def admin_token(call: Call) -> Any:
    username, password = call.arg("username"), call.arg("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise required_field("username" if not isinstance(username, str) else "password")
    return call.sandbox.auth.issue_admin_token(username, password)


# -- orders -----------------------------------------------------------------------------------------


def list_orders(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        return search_result(sb, call, list(sb.state.orders.values()), "sales-data-order-interface")


def get_order(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        return snapshot(sales.get_order(sb.state, call.int_param("id")))


def create_order(call: Call) -> Any:
    sb = call.sandbox
    entity = call.arg("entity")
    if not isinstance(entity, dict):
        raise required_field("entity")
    with sb.state.lock:
        order, created = sales.save_order_entity(sb.state, entity)
        sb.emit("order.created" if created else "order.updated", order)
        return snapshot(order)


def list_order_comments(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        order = sales.get_order(sb.state, call.int_param("id"))
        items = snapshot(order.get("status_histories", []))
    return {"items": items, "search_criteria": {"filter_groups": []}, "total_count": len(items)}


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


# -- sandbox-only views -----------------------------------------------------------------------------


def register_sandbox_views(app: Flask, sb: MagentoSandbox) -> None:
    def checkout() -> Response:
        spec = request.get_json(silent=True)
        if not isinstance(spec, dict) or not isinstance(spec.get("items"), list):
            return json_response({"message": 'checkout needs {"items": [{"sku": …, "qty": …}], '
                                  '"customer_email"?: …, "guest"?: bool, "payment_method"?: …}'}, 400)
        try:
            with sb.state.lock:
                email = spec.get("customer_email")
                if not email and not spec.get("guest") and sb.state.customers:
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
                return json_response(snapshot(order), 200)
        except MagentoError as exc:
            return json_response(exc.body(), exc.status)

    def events() -> Response:
        since = int(request.args.get("since", 0))
        return jsonify({"events": sb.events.events(since), "pending": sb.events.pending()})

    app.add_url_rule("/__sandbox/checkout", "magento_checkout", checkout, methods=["POST"])
    app.add_url_rule("/__sandbox/events", "magento_events", events, methods=["GET"])
