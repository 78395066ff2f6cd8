"""/v1/orders: every order Tillbridge knows, as one record across Magento and Heartland.

An order's id is its key in Tillbridge: ``magento:<store>:<entity_id>`` for a web order,
``channel:<channel>:<external id>`` for one created here. GET answers from the store (sync items
and bindings), never by calling either system; POST creates a channel order in Heartland through
the channel_orders flow (the orders flow's steps); PUT cancels through the flows.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate, validates_schema
from marshmallow.exceptions import ValidationError
from sqlalchemy import func, select

from service.api.intake import IncomingEvent, accept
from service.api.v1.conventions import ListArgs, list_schema, page_of, rfc3339
from service.api.v1.errors import fail
from service.api.v1.schemas import AddressSchema, MoneySchema, SyncStateSchema, SystemRefSchema
from service.canonical.money import major_units, money
from service.flows import channel_orders, context
from service.kernel.errors import SyncError
from service.store import items
from service.store.tables import Binding, SyncItem

blp = Blueprint("v1_orders", __name__, url_prefix="/v1/orders", description="Orders across both systems")

ORDER_FLOWS = ("orders", channel_orders.FLOW)
CHANNEL = r"^[a-z0-9][a-z0-9_-]{0,31}$"


class OrderLineOut(Schema):
    sku = fields.String(required=True)
    name = fields.String()
    quantity = fields.Float(required=True)
    unit_price = fields.Nested(MoneySchema, required=True)


class OrderOut(Schema):
    id = fields.String(required=True, metadata={"description": "magento:<store>:<id> or channel:<channel>:<id>"})
    object = fields.Constant("order", required=True, metadata={"type": "string", "enum": ["order"]})
    source = fields.String(required=True, metadata={"description": "magento, or the channel's name"})
    number = fields.String(required=True, metadata={"description": "the number the source gave it"})
    magento = fields.Nested(SystemRefSchema, allow_none=True, required=True)
    heartland = fields.Nested(SystemRefSchema, allow_none=True, required=True)
    email = fields.String(allow_none=True)
    status = fields.String(allow_none=True, metadata={"description": "the source's order state"})
    total = fields.Nested(MoneySchema, allow_none=True)
    lines = fields.List(fields.Nested(OrderLineOut))
    sync = fields.Nested(SyncStateSchema, required=True)
    created = fields.String(required=True, metadata={"format": "date-time"})


OrderList = list_schema(OrderOut, "OrderList")


class OrderListArgs(ListArgs):
    sync_state = fields.String(validate=validate.OneOf(["received", "processing", "done", "ignored", "review", "dead"]))
    source = fields.String(validate=validate.Regexp(CHANNEL, error="magento, or a channel's name"),
                           metadata={"description": "magento, or the channel an order came from"})


class OrderLineIn(Schema):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = fields.String(load_default="", validate=validate.Length(max=200))
    quantity = fields.Integer(required=True, validate=validate.Range(min=1, max=100000))
    unit_price = fields.Integer(required=True, validate=validate.Range(min=0, max=10**10),
                                metadata={"description": "minor units"})


class OrderIn(Schema):
    channel = fields.String(required=True, validate=validate.Regexp(CHANNEL, error="lower-case letters, digits, _ "
                                                                               "and -, at most 32"))
    external_id = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.\-]{1,64}$",
                                error="letters, digits, _ . and -, at most 64"),
                                metadata={"description": "the channel's id; one order per channel and id"})
    email = fields.Email(required=True)
    first_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    last_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    billing = fields.Nested(AddressSchema, required=True)
    shipping = fields.Nested(AddressSchema, load_default=None, allow_none=True)
    currency = fields.String(load_default="USD", validate=validate.Regexp(r"^[A-Z]{3}$"))
    lines = fields.List(fields.Nested(OrderLineIn), required=True, validate=validate.Length(min=1, max=500))
    shipping_amount = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10**10))
    discount = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10**10))
    tax = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10**10))
    total = fields.Integer(required=True, validate=validate.Range(min=0, max=10**12),
                           metadata={"description": "grand total in minor units; must equal lines + shipping + tax "
                                                    "- discount"})

    @validates_schema
    def adds_up(self, data: dict[str, Any], **_: Any) -> None:
        lines = sum(line["quantity"] * line["unit_price"] for line in data.get("lines") or [])
        expected = lines + data.get("shipping_amount", 0) + data.get("tax", 0) - data.get("discount", 0)
        if "total" in data and data["total"] != expected:
            raise ValidationError(f"is {data['total']} but lines + shipping + tax - discount = {expected}", "total")


class OrderStatusIn(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["cancelled", "fulfilled"]),
                           metadata={"description": "cancelled: cancel in Heartland (and Magento for a web order); "
                                                    "fulfilled: invoice it in Heartland, which owns fulfilment, and "
                                                    "the shipments flow ships it in Magento"})
    tracking_number = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9 ,;\-]{1,200}$"),
                                    metadata={"description": "fulfilled: one or more tracking numbers"})
    carrier = fields.String(validate=validate.Length(min=1, max=64), metadata={"description": "fulfilled: e.g. ups"})


def order_id_of(entity_key: str) -> str:
    return entity_key.split(":", 1)[1] if entity_key.split(":", 1)[0] in ORDER_FLOWS else entity_key


def _entity_keys(order_id: str) -> list[str]:
    return [f"{flow}:{order_id}" for flow in ORDER_FLOWS]


def _store() -> Any:
    return context.current().store


def order_object(item: SyncItem, first: SyncItem | None, binding: Binding | None) -> dict[str, Any]:
    oid = order_id_of(item.entity_key)
    source = oid.split(":")[0]
    payload = item.payload or {}
    if source == "magento":
        data = payload.get("data") or {}
        currency = str(data.get("order_currency_code") or data.get("base_currency_code") or "USD")
        number = str(data.get("increment_id") or oid.rsplit(":", 1)[1])
        magento = {"id": str(data.get("entity_id") or oid.rsplit(":", 1)[1]), "number": number}
        email, status = data.get("customer_email"), data.get("state")
        total = money(data["grand_total"], currency) if data.get("grand_total") is not None else None
        lines = [{"sku": str(line.get("sku")), "name": str(line.get("name") or ""),
                  "quantity": float(line.get("qty_ordered") or 0), "unit_price": money(line.get("price"), currency)}
                 for line in data.get("items") or [] if not line.get("parent_item_id")]
        channel = "magento"
    else:
        order = payload.get("order") or {}
        currency = str(order.get("currency") or "USD")
        channel, number, magento = str(payload.get("channel")), str(payload.get("external_id")), None
        email, status = order.get("email"), payload.get("status", "new")
        total = money(order.get("grand_total"), currency)
        lines = [{"sku": line["sku"], "name": line.get("name", ""), "quantity": float(line["qty"]),
                  "unit_price": money(line["unit_price"], currency)} for line in order.get("lines") or []]
    heartland = {"id": binding.external_id, "number": binding.external_ref or None} if binding else None
    return {
        "id": oid, "object": "order", "source": channel, "number": number, "magento": magento,
        "heartland": heartland, "email": email, "status": status, "total": total, "lines": lines,
        "sync": {"state": item.state, "reason": item.reason, "item_id": item.id, "attempts": item.attempts,
                 "updated": rfc3339(item.updated_at), "trace_url": f"/items/{item.id}"},
        "created": rfc3339((first or item).created_at),
    }


def _bindings_for(session: Any, keys: list[str]) -> dict[str, Binding]:
    if not keys:
        return {}
    rows = session.scalars(select(Binding).where(Binding.entity == "order", Binding.system == "heartland",
                                                 Binding.key.in_(keys)))
    return {b.key: b for b in rows}


def load_orders(entity_keys: list[str], store: Any = None) -> list[dict[str, Any]]:
    """The orders of these sync-item entity keys (in that order); ``store`` outside a request."""
    with (store or _store()).session() as s:
        bounds = s.execute(select(SyncItem.entity_key, func.min(SyncItem.id), func.max(SyncItem.id))
                           .where(SyncItem.entity_key.in_(entity_keys)).group_by(SyncItem.entity_key)).all()
        ids = {i for _, lo, hi in bounds for i in (lo, hi)}
        by_id = {i.id: i for i in s.scalars(select(SyncItem).where(SyncItem.id.in_(ids)))}
        found = _bindings_for(s, [order_id_of(k) for k, _, _ in bounds])
        order = {k: n for n, k in enumerate(entity_keys)}
        return [order_object(by_id[hi], by_id[lo], found.get(order_id_of(k)))
                for k, lo, hi in sorted(bounds, key=lambda b: order[b[0]])]


def get_order(order_id: str) -> dict[str, Any]:
    found = load_orders(_entity_keys(order_id))
    if not found:
        fail(404, f"no order {order_id!r}: ids look like magento:default:42 or channel:amazon:A-1 "
             "(GET /v1/orders lists them)")
    return found[0]


@blp.route("")
class Orders(MethodView):
    @blp.arguments(OrderListArgs, location="query")
    @blp.response(200, OrderList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List orders, newest first"""
        limit = args["limit"]
        with _store().session() as s:
            groups = (select(SyncItem.entity_key, func.min(SyncItem.id).label("first"))
                      .where(SyncItem.flow.in_(ORDER_FLOWS)).group_by(SyncItem.entity_key))
            if args.get("source"):
                prefix = "magento:" if args["source"] == "magento" else f"channel:{args['source']}:"
                groups = groups.where(SyncItem.entity_key.like(f"%:{prefix}%"))
            if args.get("starting_after"):
                cursor = s.scalar(select(func.min(SyncItem.id)).where(
                    SyncItem.entity_key.in_(_entity_keys(args["starting_after"]))))
                if cursor is None:
                    fail(400, f"starting_after: no order {args['starting_after']!r}",
                         fields={"starting_after": ["not an order id"]})
                groups = groups.having(func.min(SyncItem.id) < cursor)
            rows = s.execute(groups.order_by(func.min(SyncItem.id).desc()).limit(limit + 1)).all()
        objects = load_orders([k for k, _ in rows])
        if args.get("sync_state"):  # the state of the newest item decides; filter after loading
            objects = [o for o in objects if o["sync"]["state"] == args["sync_state"]]
        return page_of(objects, limit) | {"has_more": len(rows) > limit}

    @blp.arguments(OrderIn)
    @blp.response(202, OrderOut)
    @blp.alt_response(409, description="an order with this channel and external_id exists already")
    def post(self, body: dict[str, Any]) -> Any:
        """Create an order in Heartland from another channel

        The order is stored and queued at once (202); the channel_orders flow creates it in Heartland
        (customer, lines, our reference looked up first). Poll the order, or subscribe to
        `order.synced`. Send an Idempotency-Key: a retry then answers the first answer again.
        """
        from flask import g

        channel, external_id = body["channel"], body["external_id"]
        currency = body["currency"]
        order = {
            "email": body["email"], "first_name": body["first_name"], "last_name": body["last_name"],
            "billing": _address(body["billing"]), "shipping": _address(body["shipping"]) if body["shipping"] else None,
            "lines": [{"sku": line["sku"], "name": line["name"], "qty": line["quantity"],
                       "unit_price": float(major_units(line["unit_price"], currency)),
                       "row_total": float(major_units(line["unit_price"] * line["quantity"], currency))}
                      for line in body["lines"]],
            "currency": currency, "subtotal": float(major_units(sum(line["quantity"] * line["unit_price"]
                                                                       for line in body["lines"]), currency)),
            "shipping_amount": float(major_units(body["shipping_amount"], currency)),
            "discount": float(major_units(body["discount"], currency)),
            "tax": float(major_units(body["tax"], currency)),
            "grand_total": float(major_units(body["total"], currency)),
        }
        key = channel_orders.binding_key(channel, external_id)
        payload = {"channel": channel, "external_id": external_id, "order": order, "status": "new",
                   "created_by": g.api_caller.actor}
        runtime = context.current()
        item_id = accept(runtime, IncomingEvent(
            source="api", event_id=f"order:{key}", event_type="order.created", store_code="",
            occurred_at=None, document=payload, flow=channel_orders.FLOW, direction="channel→heartland",
            entity_key=channel_orders.entity_key(channel, external_id), label=f"{channel} order {external_id}",
            payload=payload, source_version=""))
        if item_id is None:
            fail(409, f"{channel} order {external_id} exists already as order {key}: GET /v1/orders/{key}",
                 error="order_exists")
        created = get_order(key)
        from service.api.outbound.events import emit

        emit(runtime, "order.created", created, dedup_key=f"order.created:{key}", url=f"/v1/orders/{key}")
        return created, 202, {"Location": url_for("v1_orders.Order", order_id=key)}


def _address(address: dict[str, Any]) -> dict[str, Any]:
    return {**address, "region_code": "", "company": ""}


@blp.route("/<string:order_id>")
class Order(MethodView):
    @blp.response(200, OrderOut)
    def get(self, order_id: str) -> dict[str, Any]:
        """One order, with both systems' ids and numbers and its sync state"""
        return get_order(order_id)

    @blp.arguments(OrderStatusIn)
    @blp.response(202, OrderOut)
    def put(self, body: dict[str, Any], order_id: str) -> Any:
        """Change an order's status through the flows (cancel)

        A channel order is cancelled in Heartland (if still open; fulfilled ones go to review). A
        web order is cancelled in Magento, which owns it; the orders flow then cancels it in Heartland.
        """
        order = get_order(order_id)
        runtime = context.current()
        if body["status"] == "fulfilled":
            return fulfil(runtime, order, body), 202
        if order["magento"] is not None:
            if order["status"] == "canceled":
                return order, 202
            magento_id = int(order["magento"]["id"])
            try:
                if not runtime.magento.cancel(magento_id):
                    fail(409, f"Magento refused to cancel order #{order['number']} (it may be invoiced or "
                         "shipped): refund it with a credit memo instead", error="not_cancellable")
                current = runtime.magento.order(magento_id)
            except SyncError as exc:
                fail(502, f"Magento could not be asked to cancel order #{order['number']}: {exc}; try again",
                     error="upstream_error")
            store_code = order_id.split(":")[1]
            from service.flows.order_polling import entity_key
            with runtime.store.session() as s:
                item = items.create(s, flow="orders", direction="magento→heartland",
                                    entity_key=entity_key(store_code, magento_id),
                                    label=f"order #{order['number']} (cancelled through the API)",
                                    payload={"event": "order.updated", "store_code": store_code,
                                             "occurred_at": str(current.get("updated_at") or ""), "data": current},
                                    source_version=str(current.get("updated_at") or ""))
                item_id = item.id
        else:
            channel, external_id = order_id.split(":", 2)[1:]
            payload = {"channel": channel, "external_id": external_id, "action": "cancel", "status": "cancelled",
                       "order": (_latest_payload(order_id) or {}).get("order", {})}
            with runtime.store.session() as s:
                item = items.create(s, flow=channel_orders.FLOW, direction="channel→heartland",
                                    entity_key=channel_orders.entity_key(channel, external_id),
                                    label=f"{channel} order {external_id} (cancel)", payload=payload,
                                    source_version="")
                item_id = item.id
        runtime.enqueue([item_id])
        return get_order(order_id), 202


def fulfil(runtime: Any, order: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Invoice the whole Heartland order from where its lines ship and complete it; the shipments flow
    then makes the Magento shipment (with the tracks) for a web order."""
    from service.api.v1.catalog import upstream

    if order["heartland"] is None:
        fail(409, f"order {order['id']} is not in Heartland yet ({order['sync']['state']}): it can be fulfilled once "
             "it has synced", error="not_in_heartland")
    heartland = runtime.heartland
    hid = int(order["heartland"]["id"])
    rules = runtime.rules.load("shipments.yaml")
    custom = {}
    if body.get("tracking_number"):
        custom[str(rules.get("tracking_number_field") or "tracking_number")] = body["tracking_number"]
    if body.get("carrier"):
        custom[str(rules.get("carrier_field") or "carrier")] = body["carrier"]
    with upstream("Heartland"):
        current = heartland.sales_order(hid)
        if current.get("status") != "open":
            fail(409, f"Heartland order #{order['heartland']['number']} is {current.get('status')}: only an open "
                 "order can be fulfilled", error="not_fulfillable")
        lines = heartland.sales_order_lines(hid)
        location = int(lines[0].get("ship_from_location_id") or 0) if lines else 0
        orders_flow = runtime.flow("orders")
        selling_location, station = orders_flow.selling_context()
        invoice = heartland.create_invoice(hid, station, location or selling_location, custom=custom or None)
        heartland.complete_invoice(int(invoice["id"]))
    with runtime.store.session() as s:
        item = items.create(s, flow="shipments", direction="heartland→magento",
                            entity_key=f"shipments:heartland:transaction:{invoice['id']}",
                            label=f"Heartland invoice {invoice.get('public_id') or invoice['id']} (fulfilled through "
                                  "the API)", payload={"kind": "transaction", "id": int(invoice["id"]), "record": {}})
        item_id = item.id
    runtime.enqueue([item_id])
    return get_order(order["id"])


def _latest_payload(order_id: str) -> dict[str, Any] | None:
    with _store().session() as s:
        item = s.scalar(select(SyncItem).where(SyncItem.entity_key.in_(_entity_keys(order_id)))
                        .order_by(SyncItem.id.desc()).limit(1))
        return dict(item.payload) if item is not None else None
