"""The Heartland Retail sandbox: a Flask app that answers like ``https://{sub}.retail.heartland.us/api``.

``create_app(seed="demo")`` builds it with the shared seed data (``seed=None``: an empty account
with only locations, stations, payment types and reason codes). Everything lives in memory behind
one lock. See README.md in this folder for the contract and the choices made where the public
reference is unsure.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from datetime import date
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from service.sandbox.harness import Harness
from service.sandbox.heartland import (
    catalog,
    customers,
    customfields,
    giftcards,
    inventory,
    reports,
    sales,
    webhooks,
)
from service.sandbox.heartland import resources as r
from service.sandbox.heartland.oauth import OAuthServer
from service.sandbox.heartland.query import parse_list_query, select_fields, unknown_include
from service.sandbox.heartland.seeding import seed_state
from service.sandbox.heartland.state import ApiError, Record, State, bad_request, invalid, not_found
from service.sandbox.heartland.validation import Checker

Creator = Callable[[State, Record | None, Any], Record]
Updater = Callable[[State, Record | None, Record, Any], Record]
Deleter = Callable[[State, Record | None, Record], None]

OPTION_DEFAULTS: dict[str, Any] = {
    "tokens": (),  # more accepted Bearer tokens besides ``token``
    "auto_complete_invoices": False,  # some accounts complete invoices on create
    "empty_put_responses": False,  # answer PUT with 200 and no body, as some integrations saw
    "rate_limit_per_second": 0.0,  # start with the harness throttle on (429 + Retry-After)
    "webhook_workers": 2,
    "webhook_timeout_seconds": 5.0,
    "webhook_retry_base_seconds": 1.0,
    "webhook_retry_cap_seconds": 60.0,
    "webhook_max_attempts": 8,
    "seed_products": 500,
    "seed_customers": 200,
    "history_weeks": 0,  # weeks of daily sales per item and location to seed (history.py); 0: none
    "history_end": None,  # the history ends the day before this date (a date or YYYY-MM-DD; None: today)
    # OAuth 2.0 apps registered with the account (client id → secret), for /oauth/authorize (oauth.py)
    "oauth_clients": {"tillbridge": "tillbridge-sandbox-client-secret"},
}


class HeartlandSandbox:
    """The account behind the app; ``reset()`` swaps in a freshly seeded one."""

    def __init__(self, seed: str | None, options: dict[str, Any]) -> None:
        self.seed = seed
        self.options = options
        self.deliverer = webhooks.Deliverer(
            workers=int(options["webhook_workers"]), timeout=float(options["webhook_timeout_seconds"]),
            retry_base_seconds=float(options["webhook_retry_base_seconds"]),
            retry_cap_seconds=float(options["webhook_retry_cap_seconds"]),
            max_attempts=int(options["webhook_max_attempts"]),
        )
        self.state = self._fresh()

    def _fresh(self) -> State:
        state = State()
        seed_state(state, self.seed, products=int(self.options["seed_products"]),
                   customers=int(self.options["seed_customers"]),
                   history_weeks=int(self.options["history_weeks"]), history_end=_day(self.options["history_end"]))
        state.emit = self.deliverer.emit_for(state)
        return state

    def reset(self) -> None:
        self.deliverer.clear()
        self.state = self._fresh()


def create_app(seed: str | None = "demo", token: str = "heartland-dev-token", **options: Any) -> Flask:
    unknown = set(options) - set(OPTION_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown Heartland sandbox options: {', '.join(sorted(unknown))}")
    settings = {**OPTION_DEFAULTS, **options}
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    sandbox = HeartlandSandbox(seed, settings)
    tokens = {token, *settings["tokens"]}
    OAuthServer(dict(settings["oauth_clients"]), tokens).init_app(app)
    harness = Harness("heartland", sandbox.reset, seed=zlib.crc32((seed or "").encode()))
    harness.init_app(app)
    if settings["rate_limit_per_second"]:
        harness.set_faults({"rate_limit_per_second": settings["rate_limit_per_second"]})
    app.extensions["heartland_sandbox"] = sandbox

    @app.before_request
    def authenticate() -> Response | None:
        if not request.path.startswith("/api") or request.path == "/api/oauth/token":
            return None
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or presented.strip() not in tokens:
            return ApiError(401, "unauthorized", "Missing or invalid API token: send 'Authorization: Bearer <token>' "
                            "with a token from My Account → API Tokens").response()
        return None

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        names = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}
        message = f"No route {request.method} {request.path}" if code in (404, 405) else (exc.description or "")
        return ApiError(code, names.get(code, "error"), message).response()

    _routes(app, sandbox, settings)
    return app


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _body() -> Any:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"the request body is not valid JSON: {exc}") from exc


def _created(resource: r.Resource, record: Record, parent_id: int | None = None) -> Response:
    path = resource.path.replace("{parent}", str(parent_id)) if parent_id is not None else resource.path
    resp = Response(status=201)
    resp.headers["Location"] = f"{request.host_url.rstrip('/')}/api/{path}/{record['id']}"
    resp.headers.pop("Content-Type", None)
    return resp


def _routes(app: Flask, sandbox: HeartlandSandbox, settings: dict[str, Any]) -> None:
    empty_puts = bool(settings["empty_put_responses"])

    def state() -> State:
        return sandbox.state

    def collection(rule: str, resource: r.Resource, *, create: Creator | None = None, update: Updater | None = None,
                   delete: Deleter | None = None, parent: r.Resource | None = None, parent_key: str = "",
                   json_create: bool = False) -> None:
        endpoint = rule.strip("/").replace("/", "_").replace("<", "").replace(">", "").replace(":", "_")

        def load_parent(st: State, kwargs: dict[str, Any]) -> Record | None:
            if parent is None:
                return None
            return parent.collection(st).require(kwargs["parent_id"], parent.kind)

        def scope(parent_record: Record | None) -> dict[str, Any] | None:
            return {parent_key: parent_record["id"]} if parent_record is not None else None

        def list_or_create(**kwargs: Any) -> Any:
            st = state()
            if request.method in ("GET", "HEAD"):
                with st.lock:
                    owner = load_parent(st, kwargs)
                return jsonify(r.list_records(st, resource, request.args, scope(owner)))
            assert create is not None
            body = _body()
            with st.lock:
                owner = load_parent(st, kwargs)
                record = create(st, owner, body)
                if json_create:
                    resp = jsonify(r.render(st, resource, record))
                    resp.status_code = 201
                    resp.headers["Location"] = _created(resource, record).headers["Location"]
                    return resp
            return _created(resource, record, owner["id"] if owner else None)

        def one(ident: int, **kwargs: Any) -> Any:
            st = state()
            if request.method in ("GET", "HEAD"):
                with st.lock:
                    owner = load_parent(st, kwargs)
                return jsonify(r.get_record(st, resource, ident, request.args, scope(owner)))
            body = _body() if request.method == "PUT" else None
            with st.lock:
                owner = load_parent(st, kwargs)
                record = resource.collection(st).get(ident)
                if record is None or (owner is not None and record.get(parent_key) != owner["id"]):
                    raise not_found(resource.kind, ident)
                if request.method == "DELETE":
                    assert delete is not None
                    delete(st, owner, record)
                    return Response(status=204)
                assert update is not None
                updated = update(st, owner, record, body)
                if empty_puts:
                    return Response(status=200)
                return jsonify(r.render(st, resource, updated))

        methods = ["GET"] + (["POST"] if create else [])
        app.add_url_rule(rule, f"{endpoint}_list", list_or_create, methods=methods)
        item_methods = ["GET"] + (["PUT"] if update else []) + (["DELETE"] if delete else [])
        app.add_url_rule(f"{rule}/<int:ident>", f"{endpoint}_one", one, methods=item_methods)

    def top(fn: Callable[[State, Any], Record]) -> Creator:
        return lambda st, owner, body: fn(st, body)

    def top_update(fn: Callable[[State, Record, Any], Record]) -> Updater:
        return lambda st, owner, record, body: fn(st, record, body)

    def child(fn: Callable[[State, Record, Any], Record]) -> Creator:
        def create(st: State, owner: Record | None, body: Any) -> Record:
            assert owner is not None
            return fn(st, owner, body)
        return create

    # locations, stations
    collection("/api/locations", r.LOCATIONS, create=top(_create_location), update=top_update(_update_location))
    collection("/api/stations", r.STATIONS, create=top(_create_station), update=top_update(_update_station))
    collection("/api/locations/<int:parent_id>/stations", r.STATIONS, parent=r.LOCATIONS, parent_key="location_id",
               create=child(lambda st, loc, body: _create_station(st, {**_as_dict(body), "location_id": loc["id"]})))
    # catalog
    collection("/api/items", r.ITEMS, create=top(catalog.create_item), update=top_update(catalog.update_item))
    collection("/api/item_grids", r.ITEM_GRIDS, create=top(_refuse_grid), update=top_update(catalog.update_grid))
    collection("/api/custom_fields", r.CUSTOM_FIELDS, create=top(customfields.create_custom_field),
               update=top_update(customfields.update_custom_field))
    # customers
    collection("/api/customers", r.CUSTOMERS, create=top(customers.create_customer),
               update=top_update(customers.update_customer))
    collection("/api/customers/<int:parent_id>/addresses", r.ADDRESSES, parent=r.CUSTOMERS,
               parent_key="customer_id", create=child(customers.add_address),
               update=lambda st, owner, record, body: customers.update_address(st, _req(owner), record, body),
               delete=lambda st, owner, record: customers.remove_address(st, _req(owner), record))
    # payments and reasons
    collection("/api/payment_types", r.PAYMENT_TYPES, create=top(_create_named(lambda s: s.payment_types)),
               update=top_update(_update_named(lambda s: s.payment_types)))
    collection("/api/reason_codes/inventory_adjustment_reasons", r.ADJUSTMENT_REASONS,
               create=top(_create_named(lambda s: s.adjustment_reasons)),
               update=top_update(_update_named(lambda s: s.adjustment_reasons)))
    collection("/api/reason_codes/gift_card_adjustment_reasons", r.GIFT_CARD_REASONS,
               create=top(_create_named(lambda s: s.gift_card_reasons)),
               update=top_update(_update_named(lambda s: s.gift_card_reasons)))
    # inventory
    collection("/api/inventory/adjustment_sets", r.ADJUSTMENT_SETS, create=top(inventory.create_adjustment_set),
               update=top_update(inventory.update_adjustment_set))
    collection("/api/inventory/adjustment_sets/<int:parent_id>/lines", r.ADJUSTMENT_LINES, parent=r.ADJUSTMENT_SETS,
               parent_key="adjustment_set_id", create=child(inventory.add_adjustment_line),
               delete=lambda st, owner, record: _remove_adjustment_line(st, _req(owner), record))
    collection("/api/inventory/transactions", r.INVENTORY_TRANSACTIONS)
    # sales
    collection("/api/sales/orders", r.ORDERS, create=top(sales.create_order), update=top_update(sales.update_order))
    collection("/api/sales/orders/<int:parent_id>/lines", r.ORDER_LINES, parent=r.ORDERS, parent_key="order_id",
               create=child(sales.add_order_line),
               update=lambda st, owner, record, body: sales.update_order_line(st, _req(owner), record, body),
               delete=lambda st, owner, record: sales.remove_order_line(st, _req(owner), record))
    collection("/api/sales/orders/<int:parent_id>/payments", r.ORDER_PAYMENTS, parent=r.ORDERS,
               parent_key="order_id",
               create=child(lambda st, order, body: sales.add_payment(st, st.order_payments, "order_id", order,
                                                                      body, True)),
               update=lambda st, owner, record, body: sales.update_payment(st, st.order_payments, record, body))
    auto_complete = bool(settings["auto_complete_invoices"])
    collection("/api/sales/invoices", r.INVOICES,
               create=top(lambda st, body: sales.create_invoice(st, body, auto_complete)),
               update=top_update(sales.update_invoice))
    collection("/api/sales/invoices/<int:parent_id>/lines", r.INVOICE_LINES, parent=r.INVOICES,
               parent_key="invoice_id", create=child(sales.add_invoice_line))
    collection("/api/sales/invoices/<int:parent_id>/payments", r.INVOICE_PAYMENTS, parent=r.INVOICES,
               parent_key="invoice_id",
               create=child(lambda st, invoice, body: sales.add_payment(st, st.invoice_payments, "invoice_id",
                                                                        invoice, body, False)),
               update=lambda st, owner, record, body: sales.update_payment(st, st.invoice_payments, record, body))
    collection("/api/sales/tickets", r.TICKETS, create=top(sales.create_ticket), update=top_update(sales.update_ticket))
    collection("/api/sales/tickets/<int:parent_id>/lines", r.TICKET_LINES, parent=r.TICKETS, parent_key="ticket_id",
               create=child(sales.add_ticket_line))
    collection("/api/sales/tickets/<int:parent_id>/payments", r.TICKET_PAYMENTS, parent=r.TICKETS,
               parent_key="ticket_id",
               create=child(lambda st, ticket, body: sales.add_payment(st, st.ticket_payments, "ticket_id", ticket,
                                                                       body, False)))
    # gift cards
    collection("/api/gift_cards", r.GIFT_CARDS, create=top(giftcards.create_gift_card),
               update=top_update(giftcards.update_gift_card))
    collection("/api/gift_card_adjustments", r.GIFT_CARD_ADJUSTMENTS, create=top(giftcards.create_adjustment))
    # webhooks
    collection("/api/webhooks", r.WEBHOOKS, create=top(webhooks.create_webhook),
               update=top_update(webhooks.update_webhook),
               delete=lambda st, owner, record: st.webhooks.remove(record), json_create=True)

    @app.get("/api/inventory/values")
    def inventory_values() -> Response:
        st = state()
        query = parse_list_query(request.args, allow_all=True)
        for name in query.include:
            if name not in r.INVENTORY_VALUES_INCLUDES:
                raise unknown_include(name, r.INVENTORY_VALUES_INCLUDES)
        exclude = request.args.get("exclude_empty_locations", "").lower() in ("true", "1")
        with st.lock:
            page, total, pages = inventory.inventory_values(st, query, exclude)
            page = [r.render_inventory_value(st, row, query.include) for row in page]
        if query.only:
            page = [select_fields(row, query.only, query.include) for row in page]
        return jsonify({"results": page, "total": total, "pages": pages})

    @app.get("/api/reporting/analyzer")
    def analyzer() -> Response:
        st = state()
        with st.lock:
            return jsonify(reports.analyzer(st, request.args))

    @app.route("/api/settings/<path:key>", methods=["GET", "PUT"])
    def setting(key: str) -> Response:
        st = state()
        with st.lock:
            if request.method == "PUT":
                body = _body()
                if not isinstance(body, dict) or "value" not in body:
                    raise invalid({"value": ["can't be blank"]})
                st.settings[key] = body["value"]
            if key not in st.settings:
                raise not_found("setting", key)
            return jsonify({"value": st.settings[key]})

    @app.get("/__sandbox/webhook_deliveries")
    def webhook_deliveries() -> Response:
        since = int(request.args.get("since", 0))
        return jsonify({"deliveries": sandbox.deliverer.deliveries_since(since), "pending": sandbox.deliverer.pending()})


def _as_dict(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    return body


def _req(record: Record | None) -> Record:
    assert record is not None
    return record


def _refuse_grid(state: State, body: Any) -> Record:
    raise catalog.refuse_grid_create()


def _remove_adjustment_line(state: State, adjustment_set: Record, line: Record) -> None:
    if adjustment_set["status"] != "pending":
        raise invalid({"id": ["lines of a complete adjustment set cannot be removed"]})
    state.adjustment_lines.remove(line)


def _create_location(state: State, body: Any) -> Record:
    check = Checker(body)
    name = check.string("name", required=True)
    public_id = check.string("public_id")
    if public_id and state.locations.ids_where("public_id", public_id):
        check.add("public_id", "has already been taken")
    check.done()
    now = state.now()
    location = state.locations.add({
        "public_id": public_id or state.next_public_id("locations", state.locations, 1),
        "name": name, "active": check.boolean("active", True),
        **{k: check.string(k) for k in ("city", "state", "country", "postal_code", "time_zone")},
        "created_at": now, "updated_at": now,
    })
    for item in state.items.records.values():
        inventory.ensure_row(state, item["id"], location["id"], item.get("cost"))
    return location


def _update_location(state: State, location: Record, body: Any) -> Record:
    check = Checker(body)
    changes: dict[str, Any] = {k: check.string(k, required=k == "name") for k in
                               ("name", "city", "state", "country", "postal_code", "time_zone") if check.has(k)}
    if check.has("active"):
        changes["active"] = check.boolean("active")
    check.done()
    changes["updated_at"] = state.now()
    state.locations.update(location, changes)
    state.emit("location_updated", location)
    return location


def _create_station(state: State, body: Any) -> Record:
    check = Checker(body)
    location = check.ref("location_id", state.locations, required=True)
    name = check.string("name", required=True)
    check.done()
    assert location is not None
    now = state.now()
    return state.stations.add({
        "location_id": location["id"], "name": name, "active": check.boolean("active", True),
        "uuid": state.new_uuid(), "created_at": now, "updated_at": now,
    })


def _update_station(state: State, station: Record, body: Any) -> Record:
    check = Checker(body)
    changes: dict[str, Any] = {}
    if check.has("name"):
        changes["name"] = check.string("name", required=True)
    if check.has("active"):
        changes["active"] = check.boolean("active")
    check.done()
    changes["updated_at"] = state.now()
    return state.stations.update(station, changes)


def _create_named(coll: Callable[[State], Any]) -> Callable[[State, Any], Record]:
    def create(state: State, body: Any) -> Record:
        check = Checker(body)
        name = check.string("name", required=True)
        if name and coll(state).ids_where("name", name):
            check.add("name", "has already been taken")
        check.done()
        now = state.now()
        return coll(state).add({"name": name, "description": check.string("description"),
                                "active": check.boolean("active", True), "created_at": now, "updated_at": now})
    return create


def _update_named(coll: Callable[[State], Any]) -> Callable[[State, Record, Any], Record]:
    def update(state: State, record: Record, body: Any) -> Record:
        check = Checker(body)
        changes: dict[str, Any] = {}
        if check.has("name"):
            name = check.string("name", required=True)
            if name and (coll(state).ids_where("name", name) or set()) - {record["id"]}:
                check.add("name", "has already been taken")
            changes["name"] = name
        if check.has("description"):
            changes["description"] = check.string("description")
        if check.has("active"):
            changes["active"] = check.boolean("active")
        check.done()
        changes["updated_at"] = state.now()
        return coll(state).update(record, changes)
    return update
