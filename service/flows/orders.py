"""Orders, Magento → Heartland. Magento owns the order; Heartland owns its fulfilment.

Steps for one Magento order event:
  1. bound already?  an order with a Heartland binding is not created again (ignored, with reason)
     fetch           the order re-read from Magento (GET /V1/orders/{id}): everything after uses
                     Magento's answer, not the event body, so a forged or stale event creates no money
  2. normalize       Magento order → canonical Order through the active version of
                     orders.magento_to_canonical (the mapping page's, else rules/mappings/)
     quality         a line quantity above rules/quality.yaml orders.max_line_qty (an oversized test
                     order), a negative price or total: held for review on /reviews/quality
  3. check           field validation; the order's Magento state decides sync / wait / skip
                     (rules/statuses.yaml); the anomaly score: a flagged order is held in Magento
                     and waits in the risk team's review (rules/anomaly.yaml, service/ai/anomaly*)
  4. customer        Heartland customer by binding, then by duplicate resolution (match: link;
                     possible: queue the pair for review; rules/dedup.yaml), then by email, else
                     created with its addresses
  5. deliver         look up the Heartland sales order by our reference first (recovers a crash
                     between create and bind), else create it with its lines
                     (orders.canonical_to_heartland). The lookup is skipped on the first run of
                     the order's first item when Magento placed it within the last half day: no
                     run can have created it yet, and no item of the last day has been purged
                     (service/store/retention.py MIN_RETENTION_DAYS)
     status          open; the order's number comes with Heartland's answer
  6. payment         what Magento has taken (service/flows/payments.py, rules/payment_methods.yaml):
                     offline methods one deposit for the order, unless one exists; online-authorized
                     methods one payment per capture already made (an authorize-only order has none
                     yet)
  7. confirm         Magento order comment "Heartland order #<number>" (once), then the binding
                     (with the payments recorded)

A later event for a bound order:
  - cancelled        a Magento order cancelled after it reached Heartland cancels the Heartland
                     order (releasing its stock); one Heartland already fulfilled goes to review
  - payments         otherwise the payments flow follows it: a payment gateway failure marks the
                     Heartland payment failed, gives the Magento order a status and a comment the
                     customer is notified of, and goes to review; a new capture (an invoice) becomes
                     a Heartland payment, once; anything else is ignored with its reason
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from marshmallow import ValidationError

from service.canonical.address import Address
from service.canonical.order import ORDER_SCHEMA, Order
from service.engine.outcome import Outcome
from service.engine.steps import Run, Step, StepFlow, check_steps
from service.engine.trace import Trace
from service.flows.checks import duplicates, fraud
from service.flows.checks.quality import QualityGuard
from service.flows.payments import Payments
from service.flows.registry import flow
from service.kernel.errors import DataError, FatalError, NotFoundInTargetError
from service.kernel.numbers import whole_number
from service.rules.templates import MappingError, Template
from service.store import bindings, customer_reviews, items
from service.store import reviews as order_reviews
from service.store.retention import MIN_RETENTION_DAYS
from service.store.tables import Binding, OrderReview, SyncItem
from service.workflows.runner import run_flow

if TYPE_CHECKING:
    from service.flows.context import Context

NORMALIZE_TEMPLATE = "mappings/orders.magento_to_canonical.yaml"
HEARTLAND_TEMPLATE = "mappings/orders.canonical_to_heartland.yaml"
REF_FIELD = "tillbridge_ref"
ITEM_CACHE_SECONDS = 30.0
CLOCK_SKEW = timedelta(hours=1)  # how far ahead of ours Magento's clock may run  # how long a worker trusts the Heartland item id it read for a SKU


def order_ref(store_code: str, number: str) -> str:
    """Our reference on the Heartland sales order; deterministic, so a lookup finds what we created."""
    return f"magento:{store_code}:{number}"


def comment_text(heartland_number: str) -> str:
    return f"Heartland order #{heartland_number}"


def configured_id(name: str, raw: str) -> int | None:
    """A Heartland id set in the environment, or None when it is left empty (the first one is used)."""
    if not raw.strip():
        return None
    number = whole_number(raw.strip())
    if number is None:
        raise FatalError(f"{name} is {raw!r}, not a Heartland id",
                         hint=f"set {name} to the id (a whole number) Heartland shows, or leave it empty to use the first")
    return number


@flow
class OrdersFlow(StepFlow):
    name = "orders"
    direction = "Magento → Heartland"
    given = ("event", "store_code", "key", "waiting", "bound", "review", "first_run")
    # Where a workflow (service/workflows/) adds its steps; the flow's own steps stay as they are.
    insertion_points = {"after normalize": ("after", "normalize"), "after check": ("after", "check"),
                        "before deliver": ("before", "deliver"), "after confirm": ("after", "confirm")}

    def __init__(self, runtime: Context) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self._context: tuple[Any, Any] | None = None
        self._items: dict[str, tuple[float, dict[str, Any]]] = {}  # SKU → (read at, Heartland item)
        self.payments = Payments(runtime)
        self.quality = QualityGuard(runtime, self.name, "magento:")
        ref = f"custom@{REF_FIELD} = magento:<store>:<increment id>"
        self.steps = (
            Step("in review?", self.step_in_review, "one review per order: a later event waits on it",
                 reads=("waiting",)),
            Step("bound?", self.step_bound, "a synced order's later event: cancel, or follow its payments",
                 reads=("event", "bound"), effect="heartland", decides=True,
                 idempotency="cancel only an open order; payments by their Magento invoice or transaction"),
            Step("fetch", self.step_fetch, "the order as Magento has it (GET /V1/orders/{id})",
                 reads=("event",), writes=("raw",)),
            Step("normalize", self.step_normalize, f"Magento order → canonical Order ({NORMALIZE_TEMPLATE})",
                 reads=("raw", "store_code"), writes=("order", "mapping_version")),
            Step("quality", self.step_quality, "line quantities and amounts that cannot be right "
                 "(rules/quality.yaml orders): held for review", reads=("order",), decides=True),
            Step("check", self.step_check, "Magento state (rules/statuses.yaml) and the fraud score",
                 reads=("raw", "order", "mapping_version", "review"), effect="magento", decides=True,
                 idempotency="one fraud review per order; a held order is not held twice"),
            Step("customer", self.step_customer, "the Heartland customer: binding, duplicate resolution, "
                 "email, else created", reads=("order", "store_code"),
                 writes=("customer_id", "billing_id", "shipping_id"), effect="heartland",
                 idempotency="the customer's binding, then the duplicate index, then the email",
                 binding="customer magento:<store>:<id> → heartland"),
            Step("deliver", self.step_deliver, "the Heartland sales order with its lines",
                 reads=("order", "store_code", "customer_id", "billing_id", "shipping_id", "first_run"),
                 writes=("heartland_id", "heartland_number", "found", "heartland_status"), effect="heartland",
                 idempotency=f"looked up by {ref} before it is created (not needed on the first run of "
                             "a new order's first item)"),
            Step("payment", self.step_payment, "what Magento has taken (rules/payment_methods.yaml)",
                 reads=("order", "raw", "heartland_id", "found"), writes=("payments", "payment_note"),
                 effect="heartland", idempotency="deposits and payments already on the order are not added again"),
            Step("status", self.step_status, "the Heartland order's status (rules/statuses.yaml)",
                 reads=("heartland_id", "heartland_number", "heartland_status"),
                 writes=("heartland_number", "heartland_status"), effect="heartland",
                 idempotency="set only while the order is pending"),
            Step("confirm", self.step_confirm, 'Magento comment "Heartland order #<number>", then the binding',
                 reads=("raw", "order", "key", "heartland_id", "heartland_number", "payments", "found"),
                 effect="magento", idempotency="the comment is looked for before it is added",
                 binding="order magento:<store>:<id> → heartland"),
        )
        check_steps(self.steps, self.given)

    def run(self, item: SyncItem, trace: Trace) -> Outcome:
        """The steps, with those of the workflow version this item is pinned to at their points."""
        return run_flow(self, self.runtime, item, trace)

    # -- templates ---------------------------------------------------------------------------------
    def template(self, name: str) -> Template:
        # The active version saved on the mapping page wins over the file in rules/mappings/.
        from service.flows.templates import lookup_for, template_spec

        return Template(template_spec(self.runtime, name), lookup=lookup_for(self.runtime.rules))

    def normalize(self, raw: dict[str, Any], store_code: str) -> tuple[Order, str]:
        template = self.template(NORMALIZE_TEMPLATE)
        label = f"Magento order #{raw.get('increment_id', raw.get('entity_id', '?'))}"
        try:
            mapped = template.apply(raw, {"store_code": store_code})
        except MappingError as exc:
            raise DataError(f"{label} cannot be mapped: {exc}",
                            hint=f"fix the order in Magento or the template rules/{NORMALIZE_TEMPLATE}",
                            details=exc.field_errors) from None
        shipping = mapped.get("shipping") or {}
        if not any(shipping.get(k) for k in ("street", "city", "postcode")):
            mapped["shipping"] = None
        try:
            order: Order = ORDER_SCHEMA.load(mapped)
        except ValidationError as exc:
            fields = "; ".join(f"{k}: {v}" for k, v in _flatten(exc.messages).items())
            raise DataError(f"{label} is not valid: {fields}",
                            hint=f"fix the order in Magento or the template rules/{NORMALIZE_TEMPLATE}",
                            details=exc.messages) from None
        return order, f"{template.name}@{template.version}"

    # -- the steps ---------------------------------------------------------------------------------
    def start(self, run: Run) -> None:
        envelope = run.item.payload
        run["event"] = envelope.get("data") or {}
        run["store_code"] = str(envelope.get("store_code") or "default")
        run["key"] = f"magento:{run['store_code']}:{run['event'].get('entity_id')}"
        # What the store knows of this order, read in one transaction: another event of it waiting
        # in review, its binding, its fraud review, whether any run of it came before this one (the
        # entity lock keeps them as they are for the run).
        item = run.item
        with self.store.session() as s:
            run["waiting"] = items.other_in_review(self.store, item.entity_key, item.id, session=s)
            run["bound"] = bindings.find(self.store, "order", run["key"], "heartland", session=s)
            run["review"] = order_reviews.find(self.store, item.entity_key, session=s)
            # The item's first claim (its fence is 1, nothing resumed) and no other item of the order
            # ever claimed: no run can have created the order in Heartland before this one.
            run["first_run"] = (item.fence == 1 and not item.progress
                                and not items.other_ever_claimed(self.store, item.entity_key, item.id, session=s))

    def step_in_review(self, run: Run) -> Outcome | None:
        waiting = run["waiting"]
        if waiting is None:
            run.say("no other event of this order waits in review")
            return None
        # One review per order: a later event waits on the person deciding the first one, and
        # that item's retry reads the order as Magento has it then.
        return Outcome.ignored(f"Magento order #{run['event'].get('increment_id')} is already waiting in review "
                               f"(item {waiting.id}): retry or resolve that item")

    def step_bound(self, run: Run) -> Outcome | None:
        existing = run["bound"]
        if existing is None:
            run.say("not in Heartland yet")
            return None
        # A later event of a synced order: what it says (cancelled, captured, declined) is read
        # from Magento too, so a forged or stale body neither cancels nor moves money.
        raw = self.fetch(run["event"])
        run.say(f"Heartland order #{existing.external_ref}; Magento order #{raw.get('increment_id')}: "
                f"{raw.get('state')}")
        if raw.get("state") == "canceled":
            return self.cancel(existing, raw, run.trace)
        return self.payments.follow(existing, raw, run.trace)

    def step_fetch(self, run: Run) -> None:
        raw = run["raw"] = self.fetch(run["event"])
        run.say(f"Magento order #{raw.get('increment_id')}: {raw.get('state')}, total {raw.get('grand_total')} "
                f"{raw.get('order_currency_code') or ''}".rstrip())

    def step_normalize(self, run: Run) -> None:
        order, version = self.normalize(run["raw"], run["store_code"])
        run["order"], run["mapping_version"] = order, version
        run.say(f"{len(order.lines)} lines, total {order.grand_total:.2f} {order.currency}")

    def step_quality(self, run: Run) -> Outcome | None:
        order: Order = run["order"]
        lines = [{"sku": line.sku, "qty": line.qty, "price": line.unit_price} for line in order.lines]
        return self.quality.check_order(run, lines, order.grand_total, f"Magento order #{order.number}")

    def step_check(self, run: Run) -> Outcome | None:
        order: Order = run["order"]
        version = run["mapping_version"]
        action = self.action_for(order)
        if action != "sync" and order.state == "holded" and run["review"] is not None:
            # Held by Tillbridge's own fraud review: the review decides, not the hold.
            action = "sync"
        run.say(f"Magento state {order.state!r}: {action}")
        if action == "wait":
            return Outcome("ignored", f"Magento order #{order.number} is {order.state}; it syncs when it "
                           "leaves that state", {}, version)
        if action == "skip":
            return Outcome("ignored", f"Magento order #{order.number} is {order.state}; not sent to Heartland",
                           {}, version)
        screened = self.screen(run.item, run["raw"], run.entry, run["review"])
        if screened is not None:
            screened.mapping_version = version
        return screened

    def step_customer(self, run: Run) -> None:
        customer_id, billing_id, shipping_id = self.customer_for(run["order"], run["store_code"])
        run["customer_id"], run["billing_id"], run["shipping_id"] = customer_id, billing_id, shipping_id
        run.say(f"Heartland customer {customer_id}")

    def step_deliver(self, run: Run) -> None:
        order: Order = run["order"]
        heartland = self.runtime.heartland
        ref = order_ref(run["store_code"], order.number)
        # Half the purge floor: room for Magento's clock running ahead of ours.
        first = run["first_run"] and placed_within(order.created_at, MIN_RETENTION_DAYS / 2)
        sales_order = None if first else heartland.find_sales_order_by_custom(REF_FIELD, ref)
        run["found"] = sales_order is not None
        if sales_order is not None:
            run["heartland_id"] = sales_order["id"]
            run["heartland_number"] = str(sales_order.get("public_id") or sales_order["id"])
            run["heartland_status"] = sales_order.get("status")
            run.say(f"found Heartland order #{run['heartland_number']} from an earlier run; completing it")
            return
        body = self.sales_order_body(order, ref, run["customer_id"], run["billing_id"], run["shipping_id"])
        # Heartland answers a create with its id only; the number comes with the status step's answer.
        run["heartland_id"] = heartland.create_sales_order_id(body)
        run["heartland_number"] = None
        run["heartland_status"] = body.get("status") or "pending"
        run.say(f"created Heartland order {run['heartland_id']}"
                + (" (a new order: no earlier run to look for)" if first else ""))

    def step_payment(self, run: Run) -> None:
        # An order this run just created has no payment yet; one found from an earlier run may.
        message, payments = self.payments.at_order(run["order"], run["raw"], run["heartland_id"],
                                                   check_existing=run["found"] or run.resuming)
        run["payments"], run["payment_note"] = payments, message
        run.say(message)

    def step_status(self, run: Run) -> None:
        target = self.heartland_status()
        current = run["heartland_status"]
        heartland = self.runtime.heartland
        if current == target:
            if run["heartland_number"] is None:
                run["heartland_number"] = _number(heartland.sales_order(run["heartland_id"]))
            run.say(f"already {target}")
        elif current in ("pending", None):
            # Heartland answers the change with the order, its number included.
            run["heartland_number"] = _number(heartland.set_sales_order_status(run["heartland_id"], target))
            run["heartland_status"] = target
            run.say(f"Heartland order #{run['heartland_number']} set to {target}")
        else:
            # Found from an earlier run and already moved on in Heartland (fulfilled, cancelled):
            # Heartland owns fulfilment, so its status stands.
            run.say(f"Heartland order #{run['heartland_number']} is already {current}; left as it is")

    def step_confirm(self, run: Run) -> Outcome:
        order: Order = run["order"]
        number, order_id = run["heartland_number"], run["heartland_id"]
        run.say(comment_text(number))
        self.write_back(run["raw"], number, check_existing=run["found"] or run.resuming)
        # Recorded with the item's outcome, in one transaction (service/engine/trace.py write_at_end).
        run.trace.write_at_end(partial(bindings.bind_within, entity="order", key=run["key"], system="heartland",
                                       external_id=str(order_id), external_ref=number,
                                       source_version=order.updated_at,
                                       data={"magento_number": order.number, "payments": run["payments"]}))
        return Outcome("done", f"Heartland order #{number}",
                       {"heartland_id": order_id, "heartland_number": number, "resumed": run["found"]},
                       run["mapping_version"])

    def fetch(self, event_order: dict[str, Any]) -> dict[str, Any]:
        """The order as Magento has it now: amounts, lines and payment state come from Magento's
        answer, never from the event body, so a forged or stale event cannot put money in Heartland."""
        entity_id = event_order.get("entity_id")
        try:
            order_id = int(str(entity_id))
        except ValueError:
            raise DataError(f"the event's order has no usable entity_id ({entity_id!r})",
                            hint="the module sends the order as GET /V1/orders/{id} returns it") from None
        current = self.runtime.magento.order(order_id)
        if str(current.get("entity_id")) != str(order_id):
            raise DataError(f"Magento answered order {current.get('entity_id')!r} for order {order_id}",
                            hint="check TILLBRIDGE_MAGENTO_URL and the store code")
        return current

    def cancel(self, binding: Binding, raw: dict[str, Any], trace: Trace) -> Outcome:
        """Magento cancelled an order already in Heartland: cancel it there too (stock is released)."""
        heartland = self.runtime.heartland
        number, order_id = binding.external_ref, int(binding.external_id)
        label = f"Magento order #{raw.get('increment_id')}"
        with trace.step("cancel", f"Heartland order #{number}") as step:
            status = heartland.sales_order(order_id).get("status")
            if status == "cancelled":
                step["message"] = f"Heartland order #{number} is already cancelled"
                return Outcome.ignored(f"{label} was cancelled; Heartland order #{number} already is")
            if status not in ("pending", "open"):
                return Outcome.review(f"{label} was cancelled in Magento, but Heartland order #{number} is "
                                      f"{status}: cancel or return it in Heartland by hand",
                                      heartland_id=order_id, heartland_number=number)
            heartland.set_sales_order_status(order_id, "cancelled")
        return Outcome.done(f"Heartland order #{number} cancelled ({label} was cancelled)",
                            heartland_id=order_id, heartland_number=number)

    # -- steps ----------------------------------------------------------------------------------
    def screen(self, item: SyncItem, raw: dict[str, Any], step: dict[str, Any], review: OrderReview | None
               ) -> Outcome | None:
        """The anomaly check: None lets the order sync; an Outcome holds it for (or after) review.

        An order already reviewed is not scored again: approved ones sync, rejected ones stop, and
        open ones stay in review without a second hold.
        """
        if review is not None and review.state == "approved":
            step["message"] += f"; fraud review approved by {review.decided_by}, not scored again"
            return None
        if review is not None and review.state == "rejected":
            return Outcome.ignored(f"rejected by {review.decided_by} in the fraud review; cancelled in Magento")
        if review is not None and review.item_id != item.id:
            # Another event for an order in review (e.g. our own hold or comment coming back): the
            # review's own item syncs the order once it is approved.
            return Outcome.ignored(f"Magento order #{raw.get('increment_id')} is {review.state} in the fraud "
                                   f"review (item {review.item_id}); it syncs from there once approved")
        if review is not None:
            fraud.ensure_held(self.runtime, review)  # completes a hold a crash interrupted
            step["message"] += f"; already {review.state} in the fraud review (review {review.id})"
            return Outcome.review(fraud.review_reason(review.score, review.threshold, review.explanation),
                                  review_id=review.id)
        try:
            scorer = fraud.scorer_for(self.runtime)
            baseline = fraud.store_baseline(self.store, scorer)
            assessment = scorer.score(raw, fraud.StoreOrderHistory(self.store, raw), baseline)
        except FileNotFoundError as exc:
            raise FatalError(f"no anomaly model to score orders with: {exc}",
                             hint="train and promote one (`tillbridge models train anomaly --promote`), "
                                  "then retry") from None
        except ValueError as exc:
            raise DataError(f"Magento order #{raw.get('increment_id')} cannot be scored: {exc}",
                            hint="fix the order in Magento, or retry once the model is fixed") from None
        fraud.record_order(self.store, item.entity_key, raw, assessment)
        step["detail"]["anomaly"] = {"score": round(assessment.score, 6), "threshold": round(assessment.threshold, 6),
                                     "flagged": assessment.flagged, "explanation": assessment.explanation,
                                     "threshold_basis": assessment.basis, "guards": assessment.guards,
                                     "model_version": assessment.model_version}
        verdict = "above" if assessment.score >= assessment.threshold else "below"
        outlier = ", flagged as an outlier" if assessment.flagged and verdict == "below" else ""
        if assessment.guards:
            outlier = f", held by {len(assessment.guards)} guard(s)"
        step["message"] += (f"; anomaly score {assessment.score:.3f} {verdict} threshold "
                            f"{assessment.threshold:.3f}{outlier} ({assessment.model_version})")
        if not assessment.flagged:
            return None
        review, _ = fraud.hold_for_review(self.runtime, item_id=item.id, order_key=item.entity_key,
                                                    order=raw, assessment=assessment)
        return Outcome.review(fraud.review_reason(assessment.score, assessment.threshold,
                                                            assessment.explanation),
                              review_id=review.id, score=assessment.score, threshold=assessment.threshold)

    def action_for(self, order: Order) -> str:
        rules = self.runtime.rules.load("statuses.yaml")["orders"]
        return str(rules["magento_state"].get(order.state, rules.get("default", "sync")))

    def heartland_status(self) -> str:
        return str(self.runtime.rules.load("statuses.yaml")["orders"].get("heartland_status", "open"))

    def selling_context(self) -> tuple[Any, Any]:
        """The Heartland location and station web orders are placed at (configured, else the first)."""
        if self._context is None:
            s = self.runtime.settings
            heartland = self.runtime.heartland
            location_id = configured_id("TILLBRIDGE_HEARTLAND_LOCATION_ID", s.TILLBRIDGE_HEARTLAND_LOCATION_ID)
            if location_id is None:
                locations = heartland.locations()
                if not locations:
                    raise FatalError("Heartland has no locations",
                                     hint="create a location or set TILLBRIDGE_HEARTLAND_LOCATION_ID")
                location_id = locations[0]["id"]
            station_id = configured_id("TILLBRIDGE_HEARTLAND_STATION_ID", s.TILLBRIDGE_HEARTLAND_STATION_ID)
            if station_id is None:
                stations = heartland.stations(location_id)
                if not stations:
                    raise FatalError(f"Heartland location {location_id} has no stations",
                                     hint="create a station or set TILLBRIDGE_HEARTLAND_STATION_ID")
                station_id = stations[0]["id"]
            self._context = (int(location_id), int(station_id))
        return self._context

    def customer_for(self, order: Order, store_code: str) -> tuple[int, int | None, int | None]:
        heartland = self.runtime.heartland
        key = (f"magento:{store_code}:{order.customer_id}" if order.customer_id and not order.is_guest
               else f"email:{order.email}")
        # With the binding, a person's merge decision (what duplicate resolution asks first): one read.
        binding, merged = customer_reviews.binding_and_merge(self.store, key)
        customer_id: int | None = int(binding.external_id) if binding else None
        known_ids: dict[str, int] = dict((binding.data or {}).get("addresses", {})) if binding else {}
        link = None
        if customer_id is None:
            # Duplicate resolution first: a match is the Heartland customer this person already is.
            link = duplicates.link_order_customer(self.runtime, order, key, merged=merged)
            customer_id = link.heartland_id
        addresses_read = False
        found: dict[str, Any] | None = None
        if customer_id is None:
            # Heartland does not keep emails unique: take the oldest match (its addresses come with it).
            matches = heartland.find_customers_by_email(order.email, include=["addresses"])
            if matches:
                oldest = min(matches, key=lambda c: int(c["id"]))
                customer_id = int(oldest["id"])
                if isinstance(oldest.get("addresses"), list):
                    _know_addresses(known_ids, oldest["addresses"])
                    addresses_read = True
                    found = oldest
        is_new = customer_id is None
        if customer_id is None:
            first = order.first_name or order.billing.first_name
            last = order.last_name or order.billing.last_name
            customer_id = heartland.create_customer_id({"first_name": first or "-", "last_name": last or "-",
                                                        "email": order.email})
            addresses_read = True  # a customer just created has none
        if link is not None:
            # Indexed before anything else can fail: a retry then finds this customer, not a new one.
            link.settle(customer_id, created=is_new, record=found)
        # Address ids we resolved before are kept on the customer's binding: a returning customer
        # at a known address costs no address calls.
        wanted = [a for a in (order.billing, order.shipping) if a is not None and (a.street or a.postcode)]
        if not addresses_read and any(_address_key(a) not in known_ids for a in wanted):
            _know_addresses(known_ids, heartland.customer_addresses(customer_id))
        billing_id = self.address_id(customer_id, order.billing, known_ids)
        shipping_id = self.address_id(customer_id, order.shipping, known_ids) if order.shipping else billing_id
        unchanged = (binding is not None and int(binding.external_id) == customer_id
                     and dict((binding.data or {}).get("addresses", {})) == known_ids)
        if not unchanged:  # a returning customer at known addresses costs no write
            duplicates.bind_customer(self.runtime, key, customer_id, {"addresses": known_ids})
        return customer_id, billing_id, shipping_id

    def address_id(self, customer_id: int, address: Address, known: dict[str, int]) -> int | None:
        if not address.street and not address.postcode:
            return None
        if _address_key(address) in known:
            return known[_address_key(address)]
        body = {
            "first_name": address.first_name or "-",
            "last_name": address.last_name or "-",
            "line_1": address.street[0] if address.street else "",
            "line_2": " ".join(address.street[1:]),
            "city": address.city,
            "state": address.region_code or address.region,
            "postal_code": address.postcode,
            "country": address.country,
            "phone": address.phone,
        }
        address_id = self.runtime.heartland.add_customer_address_id(customer_id, body)
        known[_address_key(address)] = address_id
        return address_id

    def sales_order_body(self, order: Order, ref: str, customer_id: int, billing_id: int | None,
                         shipping_id: int | None) -> dict[str, Any]:
        by_sku = self.items_by_sku(sorted({line.sku for line in order.lines}))
        lines = []
        for n, line in enumerate(order.lines, start=1):
            item = by_sku.get(line.sku)
            if item is None:
                raise NotFoundInTargetError(
                    f"Magento SKU {line.sku!r} not found in Heartland (flow orders, order #{order.number}, line {n})",
                    hint="add the item in Heartland (Item # = SKU) or map the SKU in "
                         f"rules/{HEARTLAND_TEMPLATE}, then retry",
                    details={"sku": line.sku, "line": n},
                )
            lines.append({"item_id": item["id"], "qty": line.qty, "net_unit_price": line.net_unit_price})
        location_id, station_id = self.selling_context()
        context = {"customer_id": customer_id, "station_id": station_id, "location_id": location_id,
                   "billing_address_id": billing_id, "shipping_address_id": shipping_id, "ref": ref,
                   "lines": lines}
        try:
            return self.template(HEARTLAND_TEMPLATE).apply(asdict(order), context)
        except MappingError as exc:
            raise DataError(str(exc), hint=f"fix rules/{HEARTLAND_TEMPLATE}", details=exc.field_errors) from None

    def items_by_sku(self, skus: list[str]) -> dict[str, dict[str, Any]]:
        """Heartland items by Item # (= SKU), those read in the last ITEM_CACHE_SECONDS from this
        process's cache: a shop sells the same SKUs all day, and an item's id does not change. A SKU
        not found is asked again every time (it may have been added since)."""
        now = time.monotonic()
        found = {sku: item for sku in skus
                 if (cached := self._items.get(sku)) is not None and now - cached[0] < ITEM_CACHE_SECONDS
                 for item in (cached[1],)}
        missing = [sku for sku in skus if sku not in found]
        if missing:
            for sku, item in self.runtime.heartland.find_items_by_public_ids(missing).items():
                self._items[sku] = (now, {"id": item["id"], "public_id": item.get("public_id", sku)})
                found[sku] = self._items[sku][1]
        return found

    def write_back(self, raw: dict[str, Any], number: str, *, check_existing: bool) -> None:
        magento = self.runtime.magento
        entity_id = raw["entity_id"]
        text = comment_text(number)
        if check_existing:
            current = magento.order(entity_id)
            if any((h.get("comment") or "") == text for h in current.get("status_histories") or []):
                return
        magento.add_order_comment(entity_id, text)


def _number(sales_order: dict[str, Any]) -> str:
    """A Heartland sales order's number (its public id; its id when it has none)."""
    return str(sales_order.get("public_id") or sales_order["id"])


def placed_within(created_at: str, days: float) -> bool:
    """Whether an order stamped ``created_at`` (ISO 8601; UTC when it names no zone) was placed
    within the last ``days``; False when the stamp is missing or unreadable, or more than
    CLOCK_SKEW ahead of our clock."""
    try:
        placed = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return False
    if placed.tzinfo is None:
        placed = placed.replace(tzinfo=UTC)
    age = datetime.now(UTC) - placed
    return -CLOCK_SKEW <= age <= timedelta(days=days)


def _know_addresses(known: dict[str, int], rows: list[dict[str, Any]]) -> None:
    for row in rows:
        line = (row.get("line_1") or "").strip().lower()
        known.setdefault(f"{line}|{(row.get('postal_code') or '').strip().lower()}", int(row["id"]))


def _address_key(address: Address) -> str:
    line, postcode = address.key()
    return f"{line}|{postcode}"


def _flatten(messages: Any, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(messages, dict):
        for k, v in messages.items():
            out.update(_flatten(v, f"{prefix}{k}."))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix.rstrip(".")] = " ".join(messages)
    else:
        out[prefix.rstrip(".")] = str(messages)
    return out
