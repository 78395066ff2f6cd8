"""Orders from another channel (a marketplace, a call centre: POST /v1/orders) → Heartland.

The order is the channel's; Heartland owns its fulfilment. The steps are the orders flow's
(service/flows/orders.py), minus Magento (declared in :class:`ChannelOrdersFlow`):
  bound?     a channel order with a Heartland binding is not created again (ignored)
  normalize  the API's order (already checked by its schema) → canonical Order
  lookup     the Heartland sales order by our reference ``channel:<channel>:<external id>``
             (recovers a crash between create and bind)
  customer   the orders flow's: binding, duplicate resolution, email, else created (not when the
             lookup found the sales order)
  deliver    create the sales order with its lines (orders.canonical_to_heartland)
  status     open (rules/statuses.yaml), while it is pending
  confirm    the binding (entity order, key ``channel:<channel>:<external id>``)
A run that fails after an effect (a 503 on the status) resumes after it: nothing is created twice.

A cancel (PUT /v1/orders/{id} with status cancelled) is an item of this flow too, with a route of
its own: its one step cancels the Heartland order when it is still open, and goes to review when
Heartland has fulfilled it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from marshmallow import ValidationError

from service.canonical.order import ORDER_SCHEMA, Order
from service.engine.outcome import Outcome
from service.engine.steps import Run, Step
from service.flows.registry import flow
from service.flows.routes import RoutedFlow
from service.kernel.errors import DataError
from service.store import bindings

if TYPE_CHECKING:
    from service.flows.context import Context
    from service.flows.orders import OrdersFlow

FLOW = "channel_orders"
ORDER = "an order"
CANCEL = "a cancel"


def binding_key(channel: str, external_id: str) -> str:
    return f"channel:{channel}:{external_id}"


def entity_key(channel: str, external_id: str) -> str:
    return f"{FLOW}:{binding_key(channel, external_id)}"


@flow
class ChannelOrdersFlow(RoutedFlow):
    name = FLOW
    direction = "channel → Heartland"
    given = ("payload", "channel", "external_id", "key")

    def __init__(self, runtime: Context) -> None:
        self.runtime = runtime
        self.store = runtime.store
        cancel = (
            Step("cancel", self.step_cancel, "a cancel cancels the Heartland order while it is open; one "
                 "Heartland fulfilled goes to review", reads=("channel", "external_id", "key"), effect="heartland",
                 idempotency="cancel only an open order; a cancelled one is left", decides=True),
        )
        order = (
            Step("bound?", self.step_bound, "a channel order already in Heartland is not created again",
                 reads=("channel", "external_id", "key")),
            Step("normalize", self.step_normalize, "the API's order → canonical Order",
                 reads=("payload",), writes=("order",)),
            Step("lookup", self.step_lookup, "the Heartland sales order by custom@tillbridge_ref = "
                 "channel:<channel>:<external id> (recovers a crash between create and bind)",
                 reads=("key",), writes=("sales_order",)),
            Step("customer", self.step_customer, "the orders flow's: binding, duplicate resolution, email, "
                 "else created", reads=("order", "sales_order"), writes=("customer_id", "billing_id", "shipping_id"),
                 effect="heartland", idempotency="the customer's binding, then the duplicate index, then the email",
                 binding="customer email:<email> → heartland"),
            Step("deliver", self.step_deliver, "the Heartland sales order with its lines",
                 reads=("order", "key", "sales_order", "customer_id", "billing_id", "shipping_id"),
                 writes=("heartland_id", "heartland_number", "heartland_status"), effect="heartland",
                 idempotency="looked up by custom@tillbridge_ref before it is created"),
            Step("status", self.step_status, "the Heartland order's status (rules/statuses.yaml)",
                 reads=("heartland_id", "heartland_status"), writes=("heartland_status",), effect="heartland",
                 idempotency="set only while the order is pending"),
            Step("confirm", self.step_confirm, "the binding of the channel order",
                 reads=("payload", "channel", "external_id", "key", "sales_order", "heartland_id",
                        "heartland_number"),
                 binding="order channel:<channel>:<external id> → heartland"),
        )
        self.declare({ORDER: order, CANCEL: cancel}, {ORDER: self.given, CANCEL: self.given})

    @property
    def orders(self) -> OrdersFlow:
        flow: OrdersFlow = self.runtime.flow("orders")  # type: ignore[assignment]
        return flow

    def start(self, run: Run) -> None:
        payload = run["payload"] = run.item.payload
        run["channel"], run["external_id"] = str(payload["channel"]), str(payload["external_id"])
        run["key"] = binding_key(run["channel"], run["external_id"])

    def route(self, run: Run) -> str:
        return CANCEL if run["payload"].get("action") == "cancel" else ORDER

    def step_cancel(self, run: Run) -> Outcome:
        channel, external_id = run["channel"], run["external_id"]
        existing = bindings.find(self.store, "order", run["key"], "heartland")
        if existing is None:
            return Outcome.ignored(f"{channel} order {external_id} never reached Heartland; nothing to cancel")
        run.say(f"Heartland order #{existing.external_ref}")
        return self.orders.cancel(existing, {"increment_id": f"{channel} {external_id}"}, run.trace)

    def step_bound(self, run: Run) -> Outcome | None:
        existing = bindings.find(self.store, "order", run["key"], "heartland")
        if existing is not None:
            return Outcome.ignored(f"{run['channel']} order {run['external_id']} is Heartland order "
                                   f"#{existing.external_ref} already")
        run.say("not in Heartland yet")
        return None

    def step_normalize(self, run: Run) -> None:
        order = run["order"] = self.normalize(run["payload"])
        run.say(f"{len(order.lines)} lines, total {order.grand_total:.2f} {order.currency}")

    def step_lookup(self, run: Run) -> None:
        found = run["sales_order"] = self.runtime.heartland.find_sales_order_by_custom("tillbridge_ref", run["key"])
        run.say(f"Heartland order #{found.get('public_id') or found['id']} from an earlier run" if found
                else "none yet")

    def step_customer(self, run: Run) -> None:
        if run["sales_order"] is not None:
            run["customer_id"] = run["billing_id"] = run["shipping_id"] = None
            run.say("the sales order exists: its customer stands")
            return
        customer_id, billing_id, shipping_id = self.orders.customer_for(run["order"], "default")
        run["customer_id"], run["billing_id"], run["shipping_id"] = customer_id, billing_id, shipping_id
        run.say(f"Heartland customer {customer_id}")

    def step_deliver(self, run: Run) -> None:
        sales_order = run["sales_order"]
        if sales_order is None:
            body = self.orders.sales_order_body(run["order"], run["key"], run["customer_id"], run["billing_id"],
                                                run["shipping_id"])
            sales_order = self.runtime.heartland.create_sales_order(body)
        run["heartland_id"] = sales_order["id"]
        run["heartland_number"] = str(sales_order.get("public_id") or sales_order["id"])
        run["heartland_status"] = sales_order.get("status")
        run.say(f"found Heartland order #{run['heartland_number']} from an earlier run; completing it"
                if run["sales_order"] is not None else f"created Heartland order #{run['heartland_number']}")

    def step_status(self, run: Run) -> None:
        target, current = self.orders.heartland_status(), run["heartland_status"]
        if current in ("pending", None) and current != target:
            self.runtime.heartland.set_sales_order_status(run["heartland_id"], target)
            run["heartland_status"] = target
            run.say(f"set to {target}")
        else:
            run.say(f"already {current}; left as it is")

    def step_confirm(self, run: Run) -> Outcome:
        order_id, number = run["heartland_id"], run["heartland_number"]
        run.say(f"Heartland order #{number}")
        bindings.bind(self.store, entity="order", key=run["key"], system="heartland", external_id=str(order_id),
                      external_ref=number, source_version=str(run["payload"].get("created") or ""),
                      data={"channel": run["channel"], "external_id": run["external_id"]})
        return Outcome.done(f"Heartland order #{number}", heartland_id=order_id, heartland_number=number,
                            resumed=run["sales_order"] is not None)

    def normalize(self, payload: dict[str, Any]) -> Order:
        data = dict(payload["order"])
        data.update({"source": payload["channel"], "source_id": str(payload["external_id"]),
                     "number": str(payload["external_id"]), "is_guest": True, "state": "new"})
        try:
            order: Order = ORDER_SCHEMA.load(data)
        except ValidationError as exc:
            raise DataError(f"{payload['channel']} order {payload['external_id']} is not valid: {exc.messages}",
                            hint="correct the order and POST it again under a new Idempotency-Key",
                            details=exc.messages) from None
        return order
