"""Refunds, both ways: Magento credit memo ⇄ Heartland Return ticket, linked to the original sale.

Magento owns the order and its money; Heartland owns the goods. A web order's original sale in
Heartland is the invoice that fulfilled its sales order (the orders flow binds the Magento order to
that sales order), so a return of a web order names that invoice as its ``parent_transaction_id``.
rules/refunds.yaml says where returned goods go, what happens to shipping, tax and adjustments.
One order's refunds run one at a time (a Redis lock on the Magento order), so two refunds of one
order never both pass the quantity checks.

Magento → Heartland, for a ``creditmemo.created`` event (or a poll of credit memos):
  1. fetch     the credit memo as Magento holds it, by id
  2. echo      a credit memo Tillbridge made from a Heartland return (its comment carries
               ``heartland-return:<id>``) is ignored, naming that return
  3. bound?    a credit memo already in Heartland is ignored
  4. order     the Magento order's Heartland sales order (orders flow binding); none: ignored
  5. allocate  each refunded line to the invoices that sold it, less what was returned against
               them. Goods Heartland has not invoiced at all (refunded before fulfilment) come off
               the open Heartland order, with the money as a negative payment on it, or the order
               is cancelled when nothing is left (rules: before_fulfilment); a refund partly of
               invoiced goods and partly not goes to review saying what to fix
  6. deliver   returns carrying our reference (custom ``tillbridge_ref`` =
               ``magento-creditmemo:<store>:<id>``) are looked up first (recovers a crash between
               create and bind); then one completed Return per invoice, with the lines, qtys and
               amounts, shipping and tax per the rules
  7. confirm   binding ``creditmemo`` ``magento:<store>:<id>`` → heartland

Heartland → Magento, for a completed Return (webhook hint ``{"kind": "transaction", …}`` or poll):
  1. fetch     the ticket with its lines, by id
  2. echo      a return Tillbridge made from a credit memo (``tillbridge_ref``) is ignored
  3. bound?    a return already in Magento is ignored
  4. origin    its parent must be an invoice of a sales order bound to a Magento order; a till
               sale's return or an order Tillbridge does not know is ignored, with the reason
  5. check     each SKU on the Magento order; qty no more than Magento invoiced and has not
               refunded, and no more than the invoice sold less its other returns; else review
  6. deliver   a credit memo of the order whose comment carries ``heartland-return:<id>`` is looked
               up first; else an offline credit memo (``POST /V1/order/{id}/refund``) for those
               lines, return to stock, shipping and price difference per the rules
  7. confirm   binding ``return`` ``heartland:<id>`` → magento

Polling backstop: :meth:`RefundsFlow.pollers` reads Heartland returns completed and Magento credit
memos created since each cursor, and records the items a webhook would, unless an item for the
same record at the same version exists already.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.engine.locks import shared_record_lock
from service.engine.outcome import Outcome
from service.engine.trace import Trace
from service.flows.registry import flow
from service.kernel.errors import DataError, FatalError, NotFoundInTargetError
from service.store import bindings, items
from service.store.tables import SyncItem

if TYPE_CHECKING:
    from service.engine.polling import Poller
    from service.flows.context import Context

RULES_FILE = "refunds.yaml"
REF_FIELD = "tillbridge_ref"  # the custom field the orders flow keeps its reference in, too
NUMBER_FIELD = "magento_creditmemo"
ADJUSTMENT_FIELD = "magento_adjustment"
HEARTLAND_POLL = "heartland:returns"
MAGENTO_POLL = "magento:creditmemos"
MEMO_REF_PREFIX = "magento-creditmemo:"
RETURN_REF_PREFIX = "heartland-return:"
LOCK_PREFIX = "tillbridge:lock:refund-order:"
CENT = 0.005
STORE_CODE_KEY = "_tillbridge_store_code"  # a polled credit memo's store code, resolved from its store_id
UNSHIPPED_FIELD = "tillbridge_unshipped_refunds"  # on the sales order: per credit memo, its lines' target qtys
_RETURN_IN_COMMENT = re.compile(r"Heartland return #(\S+) \(heartland-return:(\d+)\)")


def memo_ref(store_code: str, memo_id: Any) -> str:
    """Our reference on the Heartland returns made from a Magento credit memo."""
    return f"{MEMO_REF_PREFIX}{store_code}:{memo_id}"


def memo_key(store_code: str, memo_id: Any) -> str:
    return f"magento:{store_code}:{memo_id}"


def return_key(ticket_id: Any) -> str:
    return f"heartland:{ticket_id}"


def memo_comment(number: str, ticket_id: Any) -> str:
    """The comment on a credit memo made from a Heartland return: what a person reads, and our reference."""
    return f"Refund of Heartland return #{number} ({RETURN_REF_PREFIX}{ticket_id})"


def return_in_comments(memo: dict[str, Any]) -> tuple[str, int] | None:
    """(number, id) of the Heartland return a credit memo was made from, read from its comments."""
    for comment in memo.get("comments") or []:
        found = _RETURN_IN_COMMENT.search(str(comment.get("comment") or ""))
        if found:
            return found.group(1), int(found.group(2))
    return None


def money(value: float) -> float:
    return round(float(value) + 0.0, 2)


@dataclass(frozen=True)
class Returnable:
    """What one invoice sold of one Heartland item and is not returned yet."""

    invoice_id: int
    item_id: int
    qty: float


def allocate(wanted: dict[int, float], returnable: Sequence[Returnable]) -> tuple[dict[int, dict[int, float]],
                                                                                    dict[int, float]]:
    """Quantities to return per invoice and item, oldest invoice first; and per item, what no
    invoice has left to return (the shortfall)."""
    plan: dict[int, dict[int, float]] = defaultdict(dict)
    short: dict[int, float] = {}
    for item_id, qty in wanted.items():
        left = qty
        for row in sorted((r for r in returnable if r.item_id == item_id), key=lambda r: r.invoice_id):
            take = min(left, row.qty)
            if take > 0:
                plan[row.invoice_id][item_id] = plan[row.invoice_id].get(item_id, 0.0) + take
                left -= take
        if left > 1e-9:
            short[item_id] = left
    return dict(plan), short


def price_adjustment(heartland_total: float, magento_total: float) -> tuple[float, float]:
    """(adjustment_positive, adjustment_negative) that make Magento refund Heartland's amount."""
    diff = money(heartland_total - magento_total)
    if abs(diff) < CENT:
        return 0.0, 0.0
    return (diff, 0.0) if diff > 0 else (0.0, -diff)


def magento_share(item: dict[str, Any], qty: float) -> float:
    """What Magento refunds for ``qty`` of an order item before tax: its row total less discount, pro rata."""
    ordered = float(item.get("qty_ordered") or 0) or 1.0
    net = float(item.get("row_total") or 0) - abs(float(item.get("discount_amount") or 0))
    return money(net * qty / ordered)


@flow
class RefundsFlow:
    name = "refunds"
    direction = "Magento ⇄ Heartland"

    def __init__(self, runtime: Context) -> None:
        self.runtime = runtime
        self.store = runtime.store

    def rules(self, side: str) -> dict[str, Any]:
        raw = self.runtime.rules.load(RULES_FILE)
        section = raw.get(side) if isinstance(raw, dict) else None
        if not isinstance(section, dict):
            raise DataError(f"rules/{RULES_FILE} has no {side}: section",
                            hint="see the comments in the shipped rules/refunds.yaml")
        return section

    def run(self, item: SyncItem, trace: Trace) -> Outcome:
        if item.payload.get("kind") == "transaction":
            return self.from_heartland(item.payload, trace)
        return self.from_magento(item.payload, trace)

    @contextmanager
    def order_lock(self, order_key: str) -> Iterator[None]:
        with shared_record_lock(self.runtime.redis, f"{LOCK_PREFIX}{order_key}", self.runtime.settings,
                                f"another refund of Magento order {order_key} is being synced right now"):
            yield

    # -- Magento → Heartland ----------------------------------------------------------------------
    def from_magento(self, envelope: dict[str, Any], trace: Trace) -> Outcome:
        store_code = str(envelope.get("store_code") or "default")
        memo_id = (envelope.get("data") or {}).get("entity_id")
        if memo_id in (None, ""):
            raise DataError(f"Magento {envelope.get('event')} event without the credit memo's entity_id",
                            hint="send the credit memo as GET /V1/creditmemo/{id} returns it")
        magento = self.runtime.magento
        with trace.step("fetch", f"Magento credit memo {memo_id}"):
            memo = magento.creditmemo(int(memo_id))
        label = f"Magento credit memo #{memo.get('increment_id') or memo_id}"

        with trace.step("check") as step:
            skip = self.magento_echo(memo) or self.memo_synced(store_code, memo_id, label)
            step["message"] = skip or f"{label} of Magento order {memo.get('order_id')} is new"
        if skip:
            return Outcome.ignored(skip)
        order_key = f"magento:{store_code}:{memo.get('order_id')}"
        order_binding = bindings.find(self.store, "order", order_key, "heartland")
        if order_binding is None:
            return Outcome.ignored(f"{label} refunds Magento order {memo.get('order_id')}, which Tillbridge never "
                                   "sent to Heartland: there is no Heartland sale to return")
        with self.order_lock(order_key):
            skip = self.memo_synced(store_code, memo_id, label)  # another run may have just done it
            if skip:
                return Outcome.ignored(skip)
            return self.deliver_return(memo, label, store_code, order_binding.external_id,
                                       order_binding.external_ref, trace)

    def magento_echo(self, memo: dict[str, Any]) -> str:
        made_from = return_in_comments(memo)
        if made_from is not None:
            return f"created by Tillbridge from Heartland return #{made_from[0]}"
        binding = bindings.find_external(self.store, "return", "magento", str(memo.get("entity_id")))
        if binding is not None:
            return f"created by Tillbridge from Heartland return {binding.key.split(':', 1)[1]}"
        return ""

    def memo_synced(self, store_code: str, memo_id: Any, label: str) -> str:
        binding = bindings.find(self.store, "creditmemo", memo_key(store_code, memo_id), "heartland")
        if binding is None:
            return ""
        if (binding.data or {}).get("refund_payment"):
            return f"{label} is already in Heartland as a refund on {binding.external_ref}"
        return f"{label} is already in Heartland as return #{binding.external_ref}"

    def deliver_return(self, memo: dict[str, Any], label: str, store_code: str, heartland_order_id: str,
                       heartland_number: str, trace: Trace) -> Outcome:
        heartland, magento = self.runtime.heartland, self.runtime.magento
        rules = self.rules("magento_to_heartland")
        order = magento.order(int(memo["order_id"]))
        order_items = {int(i["item_id"]): i for i in order.get("items") or []}
        lines = [m for m in memo.get("items") or []
                 if float(m.get("qty") or 0) > 0
                 and not (order_items.get(int(m.get("order_item_id") or 0)) or {}).get("parent_item_id")]
        skus = sorted({str(m["sku"]) for m in lines})
        found_items = heartland.find_items_by_public_ids(skus)
        for sku in skus:
            if sku not in found_items:
                raise NotFoundInTargetError(
                    f"Magento SKU {sku!r} of {label} not found in Heartland (flow refunds)",
                    hint="add the item in Heartland (Item # = SKU), then retry", details={"sku": sku})
        wanted: dict[int, float] = defaultdict(float)
        prices: dict[int, tuple[float, float]] = {}
        for m in lines:
            item_id = int(found_items[str(m["sku"])]["id"])
            qty = float(m["qty"])
            wanted[item_id] += qty
            net = (float(m.get("row_total") or 0) - abs(float(m.get("discount_amount") or 0))) / qty
            prices[item_id] = (money(float(m.get("price") or 0)), money(net))
        if not wanted:
            return Outcome.ignored(f"{label} refunds no items (shipping or an adjustment only): "
                                   "no goods come back to Heartland")
        adjustment = money(float(memo.get("adjustment_positive") or 0) - float(memo.get("adjustment_negative") or 0))
        if adjustment and rules.get("adjustments") == "review":
            return Outcome.review(f"{label} carries an adjustment of {adjustment:.2f} that a Heartland return has "
                                  f"no line for (rules/{RULES_FILE}: adjustments: review): record it in Heartland "
                                  "by hand, then resolve this item")

        ref = memo_ref(store_code, memo["entity_id"])
        with trace.step("lookup", f"returns with custom@{REF_FIELD} = {ref}") as step:
            ours = heartland.list_all("sales/tickets", {f"custom@{REF_FIELD}": ref}, ["id"])
            step["message"] += f": {len(ours)} found" if ours else ": none"
        with trace.step("allocate") as step:
            returnable = self.returnable(int(heartland_order_id), {int(t["id"]) for t in ours})
            plan, short = allocate(dict(wanted), returnable)
            step["message"] = "; ".join(f"invoice {inv}: " + ", ".join(f"item {i} × {q:g}" for i, q in qty.items())
                                        for inv, qty in sorted(plan.items())) or "nothing to return"
        if short and not plan and rules.get("before_fulfilment", "reduce") == "reduce":
            return self.before_fulfilment(memo, order, label, store_code, int(heartland_order_id), heartland_number,
                                          short, trace)
        if short:
            by_id = {int(v["id"]): sku for sku, v in found_items.items()}
            what = ", ".join(f"{q:g} of {by_id[i]}" for i, q in sorted(short.items()))
            return Outcome.review(
                f"{label} refunds more than Heartland order #{heartland_number} has invoiced and not returned: "
                f"{what} left over. Fix: invoice (fulfil) those lines in Heartland, or, for goods that never "
                "shipped, reduce or cancel the Heartland order lines; then retry this item",
                heartland_order_id=heartland_order_id, short={str(k): v for k, v in short.items()})

        done_parents = {int(t.get("parent_transaction_id") or 0) for t in ours}
        created: list[dict[str, Any]] = list(ours)
        first = not ours
        with trace.step("deliver") as step:
            for invoice_id in sorted(plan):
                if invoice_id in done_parents:
                    continue
                body = self.return_body(memo, invoice_id, plan[invoice_id], prices, ref, rules,
                                        with_totals=first, adjustment=adjustment, order=order)
                created.append(heartland.create_ticket(body))
                first = False
            numbers = [str(t.get("public_id") or t["id"]) for t in created]
            step["message"] = f"Heartland return #{', #'.join(numbers)}" + (
                f" ({len(ours)} from an earlier run)" if ours else "")
        with trace.step("confirm"):
            bindings.bind(self.store, entity="creditmemo", key=memo_key(store_code, memo["entity_id"]),
                          system="heartland", external_id=str(created[0]["id"]), external_ref=", ".join(numbers),
                          source_version=str(memo.get("updated_at") or memo.get("created_at") or ""),
                          data={"returns": [int(t["id"]) for t in created], "order": heartland_order_id})
        return Outcome.done(f"Heartland return #{', #'.join(numbers)} against order #{heartland_number}",
                            heartland_returns=[int(t["id"]) for t in created], resumed=bool(ours))

    def before_fulfilment(self, memo: dict[str, Any], order: dict[str, Any], label: str, store_code: str,
                          order_id: int, number: str, short: dict[int, float], trace: Trace) -> Outcome:
        """Goods refunded before Heartland invoiced them come off the open Heartland order, and the
        money refunded becomes a negative payment on it.

        Each step can be repeated: the target quantity of every line is decided once and kept on the
        Heartland order (custom ``tillbridge_unshipped_refunds``, per credit memo) before any line
        changes, lines are set to those targets, and the payment is keyed by the credit memo.
        """
        heartland = self.runtime.heartland
        ref = memo_ref(store_code, memo["entity_id"])
        sales_order = heartland.sales_order(order_id)
        status = sales_order.get("status")
        if status not in ("pending", "open"):
            return Outcome.review(f"{label} refunds goods Heartland order #{number} has not invoiced, but that order "
                                  f"is {status}: settle the refund in Heartland by hand, then resolve this item",
                                  heartland_order_id=order_id)
        plans = _json_object((sales_order.get("custom") or {}).get(UNSHIPPED_FIELD))
        targets: dict[str, float] | None = plans.get(ref)
        lines = heartland.sales_order_lines(order_id)
        with trace.step("reduce") as step:
            if targets is None:
                targets = {}
                for item_id, qty in short.items():
                    left = qty
                    for line in sorted((li for li in lines if int(li.get("item_id") or 0) == item_id),
                                       key=lambda li: -int(li["id"])):
                        take = min(left, float(line["qty"]) - float(line.get("qty_invoiced") or 0))
                        if take > 0:
                            targets[str(line["id"])] = float(line["qty"]) - take
                            left -= take
                    if left > 1e-9:
                        return Outcome.review(
                            f"{label} refunds {qty:g} of Heartland item {item_id}, more than Heartland order #{number} "
                            "has on it: fix the order or the credit memo by hand, then resolve this item",
                            heartland_order_id=order_id)
                plans[ref] = targets
                heartland.update_sales_order(order_id, {"custom": {UNSHIPPED_FIELD: json.dumps(plans, sort_keys=True)}})
            by_id = {str(li["id"]): li for li in lines}
            cancel = all(targets.get(key, -1.0) == 0 for key in by_id)
            changed = []
            if not cancel:
                for key, qty in sorted(targets.items()):
                    current = by_id.get(key)
                    if current is None or float(current["qty"]) == qty:
                        continue  # removed or set by an earlier run
                    if qty <= 0:
                        heartland.delete(f"sales/orders/{order_id}/lines/{key}")
                    else:
                        heartland.update_sales_order_line(order_id, int(key), {"qty": qty})
                    changed.append(f"line {key} → {qty:g}")
            step["message"] = ("every line refunded: the order is cancelled" if cancel
                               else ", ".join(changed) or "lines already reduced by an earlier run")
        with trace.step("payment") as step:
            from service.flows.payments import Payments

            amount = money(float(memo.get("grand_total") or 0))
            payment_id, created = Payments(self.runtime).record_refund(
                order_id, order, key=f"creditmemo:{store_code}:{memo['entity_id']}", amount=amount,
                description=f"Magento refund, {label} (order #{order.get('increment_id')})")
            step["message"] = f"refund {amount:.2f} as payment {payment_id}" + ("" if created else " (recorded before)")
        if cancel:
            with trace.step("cancel", f"Heartland order #{number}"):
                heartland.set_sales_order_status(order_id, "cancelled")
        with trace.step("confirm"):
            bindings.bind(self.store, entity="creditmemo", key=memo_key(store_code, memo["entity_id"]),
                          system="heartland", external_id=str(payment_id), external_ref=f"order #{number}",
                          source_version=str(memo.get("updated_at") or memo.get("created_at") or ""),
                          data={"refund_payment": payment_id, "order": order_id, "lines": targets,
                                "cancelled": cancel})
        what = "cancelled" if cancel else "reduced"
        return Outcome.done(f"refunded before fulfilment: Heartland order #{number} {what}, {amount:.2f} refunded "
                            f"as a negative payment", heartland_order_id=order_id, refund_payment=payment_id)

    def returnable(self, order_id: int, ours: set[int]) -> list[Returnable]:
        """Per complete invoice of the order and item: invoiced less returned (our own returns of this
        credit memo aside: they are what a retry completes)."""
        heartland = self.runtime.heartland
        out: list[Returnable] = []
        for invoice in heartland.invoices_for_order(order_id):
            if invoice.get("status") != "complete":
                continue
            sold: dict[int, float] = defaultdict(float)
            for line in heartland.invoice_lines(int(invoice["id"])):
                if line.get("item_id") is not None:
                    sold[int(line["item_id"])] += float(line.get("qty") or 0)
            for returned in heartland.returns_for(int(invoice["id"])):
                if int(returned["id"]) in ours:
                    continue
                for line in heartland.ticket_lines(int(returned["id"])):
                    if line.get("type") == "ItemLine" and line.get("item_id") is not None:
                        sold[int(line["item_id"])] += float(line.get("qty") or 0)  # negative on a return
            out += [Returnable(int(invoice["id"]), item_id, qty) for item_id, qty in sold.items() if qty > 0]
        return out

    def return_body(self, memo: dict[str, Any], invoice_id: int, qtys: dict[int, float],
                    prices: dict[int, tuple[float, float]], ref: str, rules: dict[str, Any], *,
                    with_totals: bool, adjustment: float, order: dict[str, Any] | None = None) -> dict[str, Any]:
        heartland = self.runtime.heartland
        invoice = heartland.invoice(invoice_id)
        location_id, station_id = self.return_place(invoice, rules)
        number = str(memo.get("increment_id") or memo["entity_id"])
        body: dict[str, Any] = {
            "type": "Return", "parent_transaction_id": invoice_id, "station_id": station_id,
            "source_location_id": location_id, "customer_id": invoice.get("customer_id"),
            "affect_inventory": bool(rules.get("restock", True)), "status": "complete",
            "lines": [{"type": "ItemLine", "item_id": item_id, "qty": -qty, "unit_price": prices[item_id][0],
                       "adjusted_unit_price": prices[item_id][1]} for item_id, qty in sorted(qtys.items())],
            "custom": {REF_FIELD: ref, NUMBER_FIELD: number},
        }
        # Shipping, tax and adjustments belong to the credit memo as a whole: on its first return only.
        shipping = money(float(memo.get("shipping_amount") or 0)) if with_totals else 0.0
        if shipping > 0 and rules.get("shipping", "line") == "line":
            body["shipping_lines"] = [{"type": "ShippingLine", "value": -shipping,
                                       "description": f"Shipping refunded (Magento credit memo #{number})"}]
        tax = money(float(memo.get("tax_amount") or 0)) if with_totals else 0.0
        if tax > 0 and rules.get("tax", "line") == "line":
            body["tax_lines"] = [{"type": "TaxLine", "value": -tax,
                                  "description": f"Tax refunded (Magento credit memo #{number})"}]
        if adjustment and with_totals:
            body["custom"][ADJUSTMENT_FIELD] = adjustment
        if order is not None and rules.get("refund_payment", True):
            # The money paid back, as the return's tender: the order's Magento payment method mapped
            # as its payments are (rules/payment_methods.yaml), for the return's own total.
            from service.flows.payments import Payments

            total = money(sum(line["qty"] * line["adjusted_unit_price"] for line in body["lines"])
                          + sum(line["value"] for line in body.get("shipping_lines", []) + body.get("tax_lines", [])))
            if total < 0:
                payment = Payments(self.runtime).body(order, total, f"Magento refund, credit memo #{number}")
                payment["deposit"] = False
                body["payments"] = [payment]
        return body

    def return_place(self, invoice: dict[str, Any], rules: dict[str, Any]) -> tuple[int, int]:
        """(location, station) a Magento return is rung up at, per rules/refunds.yaml."""
        heartland = self.runtime.heartland
        wanted = str(rules.get("location", "invoice")).strip()
        locations = heartland.locations()
        if wanted.casefold() == "invoice":
            location = next((loc for loc in locations if int(loc["id"]) == int(invoice["source_location_id"])), None)
        else:
            location = next((loc for loc in locations if wanted.casefold() in {
                str(loc.get(k)).strip().casefold() for k in ("id", "name", "public_id") if loc.get(k) is not None}),
                None)
        if location is None:
            known = ", ".join(sorted(str(loc.get("name")) for loc in locations))
            raise DataError(f"rules/{RULES_FILE}: Heartland has no location {wanted!r} to take Magento returns",
                            hint=f"use invoice or one of: {known}")
        stations = location.get("stations") or heartland.stations(int(location["id"]))
        if not stations:
            raise FatalError(f"Heartland location {location.get('name')} has no station to ring up returns at",
                             hint=f"add a station there or change the location in rules/{RULES_FILE}")
        station_rule = str(rules.get("station", "invoice")).strip().casefold()
        station = next((s for s in stations
                        if (station_rule == "invoice" and int(s["id"]) == int(invoice.get("station_id") or 0))
                        or station_rule in {str(s.get(k)).strip().casefold() for k in ("id", "name")
                                            if s.get(k) is not None}), stations[0])
        return int(location["id"]), int(station["id"])

    # -- Heartland → Magento ----------------------------------------------------------------------
    def from_heartland(self, hint: dict[str, Any], trace: Trace) -> Outcome:
        heartland = self.runtime.heartland
        ticket_id = int(hint["id"])
        with trace.step("fetch", f"Heartland ticket {ticket_id}"):
            try:
                ticket = heartland.ticket(ticket_id, include=("lines",))
            except NotFoundInTargetError:
                return Outcome.ignored(f"Heartland ticket {ticket_id} no longer exists")
        label = f"Heartland return #{ticket.get('public_id') or ticket_id}"
        with trace.step("check") as step:
            skip = self.heartland_skip(ticket, label)
            step["message"] = skip or f"{label} is new"
        if skip:
            return Outcome.ignored(skip)

        parent = str(ticket.get("parent_transaction_id") or "")
        with trace.step("origin") as step:
            try:
                if not parent.isdigit():
                    raise NotFoundInTargetError(f"{label} has no parent transaction")
                invoice = heartland.invoice(int(parent))
            except NotFoundInTargetError:
                return Outcome.ignored(f"{label} returns Heartland sale {parent}, which is not the invoice of a web "
                                       "order (a till sale): only returns of Magento orders go to Magento")
            order_binding = bindings.find_external(self.store, "order", "heartland", str(invoice["order_id"]))
            if order_binding is None or not order_binding.key.startswith("magento:"):
                return Outcome.ignored(f"{label} returns Heartland order {invoice['order_id']}, which did not come "
                                       "from Magento through Tillbridge")
            step["message"] = (f"invoice #{invoice.get('public_id')} of Heartland order #{order_binding.external_ref} "
                               f"(Magento {order_binding.key})")
        with self.order_lock(order_binding.key):
            skip = self.heartland_skip(ticket, label)
            if skip:
                return Outcome.ignored(skip)
            return self.deliver_memo(ticket, label, invoice, order_binding.key, trace)

    def heartland_skip(self, ticket: dict[str, Any], label: str) -> str:
        if ticket.get("type") != "Return":
            return f"Heartland ticket {ticket.get('public_id') or ticket.get('id')} is a {ticket.get('type')}, not a return"
        custom = ticket.get("custom") or {}
        ref = str(custom.get(REF_FIELD) or "")
        if ref.startswith(MEMO_REF_PREFIX):
            return f"created by Tillbridge from Magento credit memo #{custom.get(NUMBER_FIELD) or ref}"
        if ticket.get("status") != "complete":
            return f"{label} is {ticket.get('status')}; it syncs once it is completed"
        binding = bindings.find(self.store, "return", return_key(ticket["id"]), "magento")
        if binding is not None:
            return f"{label} is already in Magento as credit memo #{binding.external_ref}"
        return ""

    def deliver_memo(self, ticket: dict[str, Any], label: str, invoice: dict[str, Any], order_key: str,
                     trace: Trace) -> Outcome:
        magento = self.runtime.magento
        rules = self.rules("heartland_to_magento")
        magento_order_id = int(order_key.rsplit(":", 1)[1])
        order = magento.order(magento_order_id)
        order_label = f"Magento order #{order.get('increment_id') or magento_order_id}"
        ticket_id = int(ticket["id"])
        number = str(ticket.get("public_id") or ticket_id)

        with trace.step("lookup", f"credit memos of {order_label} with {RETURN_REF_PREFIX}{ticket_id}") as step:
            memo = self.memo_made_from(magento_order_id, ticket_id)
            step["message"] += ": found" if memo else ": none"
        if memo is None:
            lines = [line for line in ticket.get("lines") or [] if line.get("type") == "ItemLine"]
            returned: dict[str, float] = defaultdict(float)
            heartland_value = 0.0
            for line in lines:
                returned[str(line.get("item_public_id") or "")] += -float(line.get("qty") or 0)
                heartland_value += -float(line.get("qty") or 0) * float(line.get("adjusted_unit_price") or 0)
            with trace.step("check", "quantities against Magento and the invoice") as step:
                problem = self.memo_problem(returned, order, order_label, invoice, ticket_id)
                step["message"] = problem or "every line can be refunded"
            if problem:
                return Outcome.review(f"{label}: {problem}", magento_order_id=magento_order_id)
            by_sku = {str(i["sku"]): i for i in order.get("items") or [] if not i.get("parent_item_id")}
            refund_qty = {int(by_sku[sku]["item_id"]): qty for sku, qty in returned.items() if qty > 0}
            shipping = 0.0
            if rules.get("shipping", "from_return") == "from_return":
                shipping = money(sum(-float(line.get("value") or 0) for line in ticket.get("lines") or []
                                     if line.get("type") == "ShippingLine"))
            shipping_left = money(float(order.get("shipping_invoiced") or 0) - float(order.get("shipping_refunded") or 0))
            if shipping > shipping_left + CENT:
                return Outcome.review(f"{label} refunds {shipping:.2f} of shipping, but {order_label} has only "
                                      f"{shipping_left:.2f} of shipping left to refund: correct the return's "
                                      "shipping line in Heartland, then retry this item")
            positive = negative = 0.0
            if rules.get("price_difference", "adjust") == "adjust":
                magento_value = sum(magento_share(by_sku[sku], qty) for sku, qty in returned.items() if qty > 0)
                positive, negative = price_adjustment(heartland_value, magento_value)
            stock_rule = str(rules.get("return_to_stock", "never"))
            restock = stock_rule == "always" or (stock_rule == "when_restocked" and bool(ticket.get("affect_inventory")))
            with trace.step("deliver", f"offline credit memo of {order_label}") as step:
                memo_id = magento.refund(
                    magento_order_id, refund_qty, shipping_amount=shipping,
                    adjustment_positive=positive or None, adjustment_negative=negative or None,
                    return_to_stock=sorted(refund_qty) if restock else None,
                    comment=memo_comment(number, ticket_id))
                memo = magento.creditmemo(memo_id)
                step["message"] = (f"credit memo #{memo.get('increment_id')} for {memo.get('grand_total')}"
                                   + (", returned to stock" if restock else ""))
            resumed = False
        else:
            trace.note("deliver", f"credit memo #{memo.get('increment_id')} was made by an earlier run")
            resumed = True
        with trace.step("confirm"):
            bindings.bind(self.store, entity="return", key=return_key(ticket_id), system="magento",
                          external_id=str(memo["entity_id"]), external_ref=str(memo.get("increment_id") or ""),
                          source_version=str(ticket.get("updated_at") or ""),
                          data={"order": order_key, "invoice": int(invoice["id"])})
        return Outcome.done(f"Magento credit memo #{memo.get('increment_id')} for {order_label}",
                            magento_creditmemo_id=int(memo["entity_id"]), resumed=resumed)

    def memo_made_from(self, order_id: int, ticket_id: int) -> dict[str, Any] | None:
        """The credit memo of the order a run made from this return before, found by its comment."""
        magento = self.runtime.magento
        for row in magento.iter_creditmemos([("order_id", order_id, "eq")]):
            memo = row if "comments" in row else magento.creditmemo(int(row["entity_id"]))
            made_from = return_in_comments(memo)
            if made_from is not None and made_from[1] == ticket_id:
                return memo
        return None

    def memo_problem(self, returned: dict[str, float], order: dict[str, Any], order_label: str,
                     invoice: dict[str, Any], ticket_id: int) -> str:
        """What stops the return from becoming a credit memo, saying what to fix; "" when nothing does."""
        heartland = self.runtime.heartland
        if not any(qty > 0 for qty in returned.values()):
            return "returns no items; nothing to refund in Magento"
        by_sku = {str(i["sku"]): i for i in order.get("items") or [] if not i.get("parent_item_id")}
        sold: dict[str, float] = defaultdict(float)
        for line in heartland.invoice_lines(int(invoice["id"])):
            sold[str(line.get("item_public_id") or "")] += float(line.get("qty") or 0)
        for other in heartland.returns_for(int(invoice["id"])):
            if int(other["id"]) == ticket_id:
                continue
            for line in heartland.ticket_lines(int(other["id"])):
                if line.get("type") == "ItemLine":
                    sold[str(line.get("item_public_id") or "")] += float(line.get("qty") or 0)
        problems = []
        for sku, qty in sorted(returned.items()):
            item = by_sku.get(sku)
            if item is None:
                problems.append(f"SKU {sku!r} is not on {order_label}: correct the return in Heartland")
                continue
            if qty > sold.get(sku, 0.0) + 1e-9:
                problems.append(f"returns {qty:g} of {sku} but invoice #{invoice.get('public_id')} sold "
                                f"{max(sold.get(sku, 0.0), 0.0):g} not yet returned: correct the return in Heartland")
            refundable = float(item.get("qty_invoiced") or 0) - float(item.get("qty_refunded") or 0)
            if qty > refundable + 1e-9:
                problems.append(f"returns {qty:g} of {sku} but {order_label} has {max(refundable, 0.0):g} invoiced "
                                "and not refunded: invoice the order in Magento (or refund it there by hand), "
                                "then retry this item")
        return "; ".join(problems)

    # -- polling backstop ----------------------------------------------------------------------------
    def pollers(self) -> list[Poller]:
        """Heartland returns completed and Magento credit memos created since each cursor."""
        from service.engine.polling import Poller

        def read_heartland(since: datetime) -> Iterator[dict[str, Any]]:
            moment = since.astimezone(UTC).replace(microsecond=0).isoformat()
            return self.runtime.heartland.iterate_tickets(completed_since=moment, ticket_type="Return")

        def read_magento(since: datetime) -> Iterator[dict[str, Any]]:
            from service.flows.order_polling import store_code_of

            moment = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")  # Magento's own text form, UTC
            # The store code the module's event would carry, so a poll and its event are one item.
            codes: dict[int, str] | None = None
            for memo in self.runtime.magento.iter_creditmemos([("created_at", moment, "gteq")]):
                codes = self.runtime.magento.store_codes() if codes is None else codes
                yield {**memo, STORE_CODE_KEY: store_code_of(memo, codes, "credit memo")}

        return [Poller(resource=HEARTLAND_POLL, read=read_heartland, record=record_heartland_returns),
                Poller(resource=MAGENTO_POLL, read=read_magento, record=record_magento_creditmemos)]


def heartland_entity_key(ticket_id: Any) -> str:
    """The entity key the Heartland webhook gives a transaction of this flow; polls use the same."""
    return f"{RefundsFlow.name}:heartland:transaction:{ticket_id}"


def magento_entity_key(store_code: str, memo_id: Any) -> str:
    """The entity key the Magento ingest gives a credit memo event; polls use the same."""
    return f"{RefundsFlow.name}:magento:{store_code}:{memo_id}"


def _recorded(session: Session, keys: Sequence[str]) -> set[tuple[str, str]]:
    """(entity key, version) pairs that already have an item: the webhook (or an earlier poll) has them."""
    if not keys:
        return set()
    rows = session.execute(select(SyncItem.entity_key, SyncItem.source_version).where(
        SyncItem.flow == RefundsFlow.name, SyncItem.entity_key.in_(list(keys))))
    return {(str(k), str(v)) for k, v in rows}


def record_heartland_returns(session: Session, records: Sequence[dict[str, Any]]) -> list[int]:
    """Items for polled Heartland returns, shaped as the Heartland webhook records them."""
    seen = _recorded(session, [heartland_entity_key(r["id"]) for r in records])
    created = []
    for r in records:
        key, version = heartland_entity_key(r["id"]), str(r.get("updated_at") or "")
        if (key, version) in seen:
            continue
        seen.add((key, version))
        created.append(items.create(session, flow=RefundsFlow.name, direction="heartland→magento", entity_key=key,
                                    label=f"Heartland return {r.get('public_id') or r['id']} (poll)",
                                    payload={"kind": "transaction", "id": r["id"], "record": dict(r)},
                                    source_version=version))
    return [int(i.id) for i in created]


def record_magento_creditmemos(session: Session, records: Sequence[dict[str, Any]]) -> list[int]:
    """Items for polled Magento credit memos, shaped as Magento's creditmemo.created event."""
    def store_code(r: dict[str, Any]) -> str:
        return str(r.get(STORE_CODE_KEY) or "default")

    seen = _recorded(session, [magento_entity_key(store_code(r), r["entity_id"]) for r in records])
    created = []
    for r in records:
        key, version = magento_entity_key(store_code(r), r["entity_id"]), str(r.get("updated_at") or "")
        if (key, version) in seen:
            continue
        seen.add((key, version))
        envelope = {"event": "creditmemo.created", "occurred_at": str(r.get("created_at") or ""),
                    "store_code": store_code(r), "data": {k: v for k, v in r.items() if k != STORE_CODE_KEY}}
        created.append(items.create(session, flow=RefundsFlow.name, direction="magento→heartland", entity_key=key,
                                    label=f"creditmemo {r.get('increment_id') or r['entity_id']} (poll)",
                                    payload=envelope, source_version=version))
    return [int(i.id) for i in created]


def _json_object(text: Any) -> dict[str, Any]:
    if isinstance(text, dict):
        return dict(text)
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
