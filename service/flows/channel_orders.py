"""Orders from another channel (a marketplace, a call centre: POST /v1/orders) → Heartland.

The order is the channel's; Heartland owns its fulfilment. The steps are the orders flow's
(service/flows/orders.py), minus Magento:
  1. bound already?  a channel order with a Heartland binding is not created again (ignored)
  2. normalize       the API's order (already checked by its schema) → canonical Order
  3. lookup          the Heartland sales order by our reference ``channel:<channel>:<external id>``
                     (recovers a crash between create and bind)
  4. customer        the orders flow's: binding, duplicate resolution, email, else created
  5. deliver         create the sales order with its lines (orders.canonical_to_heartland); status open
  6. confirm         the binding (entity order, key ``channel:<channel>:<external id>``)

A cancel (PUT /v1/orders/{id} with status cancelled) is an item of this flow too: it cancels the
Heartland order when it is still open, and goes to review when Heartland has fulfilled it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from marshmallow import ValidationError

from service.canonical.order import Order, OrderSchema
from service.engine.outcome import Outcome
from service.engine.trace import Trace
from service.flows.registry import flow
from service.kernel.errors import DataError
from service.store import bindings
from service.store.tables import SyncItem

if TYPE_CHECKING:
    from service.flows.context import Context
    from service.flows.orders import OrdersFlow

FLOW = "channel_orders"


def binding_key(channel: str, external_id: str) -> str:
    return f"channel:{channel}:{external_id}"


def entity_key(channel: str, external_id: str) -> str:
    return f"{FLOW}:{binding_key(channel, external_id)}"


@flow
class ChannelOrdersFlow:
    name = FLOW
    direction = "channel → Heartland"

    def __init__(self, runtime: Context) -> None:
        self.runtime = runtime
        self.store = runtime.store

    @property
    def orders(self) -> OrdersFlow:
        flow: OrdersFlow = self.runtime.flow("orders")  # type: ignore[assignment]
        return flow

    def run(self, item: SyncItem, trace: Trace) -> Outcome:
        payload = item.payload
        channel, external_id = str(payload["channel"]), str(payload["external_id"])
        key = binding_key(channel, external_id)
        existing = bindings.find(self.store, "order", key, "heartland")
        if payload.get("action") == "cancel":
            if existing is None:
                return Outcome.ignored(f"{channel} order {external_id} never reached Heartland; nothing to cancel")
            return self.orders.cancel(existing, {"increment_id": f"{channel} {external_id}"}, trace)
        if existing is not None:
            return Outcome.ignored(f"{channel} order {external_id} is Heartland order #{existing.external_ref} "
                                   "already")
        with trace.step("normalize") as step:
            order = self.normalize(payload)
            step["message"] = f"{len(order.lines)} lines, total {order.grand_total:.2f} {order.currency}"
        heartland = self.runtime.heartland
        ref = key
        with trace.step("lookup", f"sales order with custom@tillbridge_ref = {ref}"):
            sales_order = heartland.find_sales_order_by_custom("tillbridge_ref", ref)
        resumed = sales_order is not None
        if sales_order is None:
            with trace.step("customer") as step:
                customer_id, billing_id, shipping_id = self.orders.customer_for(order, "default")
                step["message"] = f"Heartland customer {customer_id}"
            with trace.step("deliver", "create the Heartland sales order"):
                body = self.orders.sales_order_body(order, ref, customer_id, billing_id, shipping_id)
                sales_order = heartland.create_sales_order(body)
        order_id = sales_order["id"]
        number = str(sales_order.get("public_id") or order_id)
        status = self.orders.heartland_status()
        if sales_order.get("status") in ("pending", None) and status != sales_order.get("status"):
            with trace.step("status", f"set to {status}"):
                heartland.set_sales_order_status(order_id, status)
        with trace.step("confirm", f"Heartland order #{number}"):
            bindings.bind(self.store, entity="order", key=key, system="heartland", external_id=str(order_id),
                          external_ref=number, source_version=str(payload.get("created") or ""),
                          data={"channel": channel, "external_id": external_id})
        return Outcome.done(f"Heartland order #{number}", heartland_id=order_id, heartland_number=number,
                            resumed=resumed)

    def normalize(self, payload: dict[str, Any]) -> Order:
        data = dict(payload["order"])
        data.update({"source": payload["channel"], "source_id": str(payload["external_id"]),
                     "number": str(payload["external_id"]), "is_guest": True, "state": "new"})
        try:
            order: Order = OrderSchema().load(data)
        except ValidationError as exc:
            raise DataError(f"{payload['channel']} order {payload['external_id']} is not valid: {exc.messages}",
                            hint="correct the order and POST it again under a new Idempotency-Key",
                            details=exc.messages) from None
        return order
