"""Refunds, both ways: Magento credit memo ⇄ Heartland Return ticket, linked to the original sale.

Magento owns the order and its money; Heartland owns the goods. A web order's original sale in
Heartland is the invoice that fulfilled its sales order (the orders flow binds the Magento order to
that sales order), so a return of a web order names that invoice as its ``parent_transaction_id``.
rules/refunds.yaml says where returned goods go, what happens to shipping, tax and adjustments.
One order's refunds run one at a time (a Redis lock on the Magento order), so two refunds of one
order never both pass the quantity checks.

The steps are declared in :class:`RefundsFlow`, one route per direction and one for refunds of
goods not yet fulfilled (``tillbridge flows show refunds``).

Magento → Heartland, for a ``creditmemo.created`` event (or a poll of credit memos):
  fetch       the credit memo as Magento holds it, by id
  echo?       a credit memo Tillbridge made from a Heartland return (its comment carries
              ``heartland-return:<id>``) is ignored, naming that return
  bound?      a credit memo already in Heartland is ignored
  order       the Magento order's Heartland sales order (orders flow binding); none: ignored
  lock        the order's refunds one at a time; bound? again under the lock
  lines       refunded lines → Heartland items by SKU; an unknown SKU goes to review; no items
              (shipping or an adjustment only): ignored
  adjustment  an adjustment goes to review when the rules say so
  lookup      returns carrying our reference (custom ``tillbridge_ref`` =
              ``magento-creditmemo:<store>:<id>``): recovers a crash between create and bind
  allocate    each refunded line to the invoices that sold it, less what was returned against them
  shortfall   goods Heartland has not invoiced at all (refunded before fulfilment) follow the route
              below (rules: before_fulfilment); a refund partly of invoiced goods and partly not
              goes to review saying what to fix
  returns     one completed Return per invoice without one, with the lines, qtys and amounts,
              shipping and tax per the rules
  confirm     binding ``creditmemo`` ``magento:<store>:<id>`` → heartland

Refunded before fulfilment (the goods come off the open Heartland order, the money becomes a
negative payment on it, or the order is cancelled when nothing is left):
  order open?     only a pending or open order; else review
  plan            each line's target qty, decided once per credit memo
  keep plan       kept on the order (custom ``tillbridge_unshipped_refunds``) before a line changes
  reduce          lines set to their targets
  refund payment  the negative payment, keyed by the credit memo
  cancel          when every line is refunded
  confirm refund  binding ``creditmemo`` ``magento:<store>:<id>`` → heartland (the payment)

Heartland → Magento, for a completed Return (webhook hint ``{"kind": "transaction", …}`` or poll):
  fetch       the ticket with its lines, by id
  check       not a completed Return, made by Tillbridge from a credit memo (``tillbridge_ref``),
              or already in Magento: ignored
  origin      its parent must be an invoice of a sales order bound to a Magento order; a till
              sale's return or an order Tillbridge does not know is ignored, with the reason
  lock        as above; check again under the lock
  order       the Magento order
  lookup      a credit memo of the order whose comment carries ``heartland-return:<id>``
  quantities  each SKU on the Magento order; qty no more than Magento invoiced and has not
              refunded, and no more than the invoice sold less its other returns; else review
  amounts     shipping (no more than is left to refund, else review), price difference, return
              to stock, per the rules
  deliver     an offline credit memo (``POST /V1/order/{id}/refund``) for those lines
  confirm     binding ``return`` ``heartland:<id>`` → magento

A run that fails after an effect resumes after it (service/engine/steps.py): a line reduced or a
return made is not done again.

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
from service.engine.steps import Run, Step
from service.flows.registry import flow
from service.flows.routes import RoutedFlow, hold, known_after
from service.kernel.errors import DataError, FatalError, NotFoundInTargetError
from service.kernel.numbers import whole_number
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
FROM_MAGENTO = "Magento → Heartland"
UNSHIPPED = "refunded before fulfilment"
FROM_HEARTLAND = "Heartland → Magento"
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
class RefundsFlow(RoutedFlow):
    name = "refunds"
    direction = "Magento ⇄ Heartland"

    def __init__(self, runtime: Context) -> None:
        self.runtime = runtime
        self.store = runtime.store
        from_magento = self.magento_steps()
        given = {FROM_MAGENTO: ("envelope", "store_code", "memo_id"), FROM_HEARTLAND: ("hint", "ticket_id")}
        given[UNSHIPPED] = known_after(from_magento, "shortfall", given[FROM_MAGENTO])
        self.declare({FROM_MAGENTO: from_magento, UNSHIPPED: self.unshipped_steps(),
                      FROM_HEARTLAND: self.heartland_steps()}, given)

    def rules(self, side: str) -> dict[str, Any]:
        raw = self.runtime.rules.load(RULES_FILE)
        section = raw.get(side) if isinstance(raw, dict) else None
        if not isinstance(section, dict):
            raise DataError(f"rules/{RULES_FILE} has no {side}: section",
                            hint="see the comments in the shipped rules/refunds.yaml")
        return section

    def route(self, run: Run) -> str:
        return FROM_HEARTLAND if run.item.payload.get("kind") == "transaction" else FROM_MAGENTO

    def start(self, run: Run) -> None:
        payload = run.item.payload
        if payload.get("kind") == "transaction":
            run["hint"], run["ticket_id"] = payload, int(payload["id"])
            return
        run["envelope"], run["store_code"] = payload, str(payload.get("store_code") or "default")
        memo_id = run["memo_id"] = (payload.get("data") or {}).get("entity_id")
        if memo_id in (None, ""):
            raise DataError(f"Magento {payload.get('event')} event without the credit memo's entity_id",
                            hint="send the credit memo as GET /V1/creditmemo/{id} returns it")

    @contextmanager
    def order_lock(self, order_key: str) -> Iterator[None]:
        with shared_record_lock(self.runtime.redis, f"{LOCK_PREFIX}{order_key}", self.runtime.settings,
                                f"another refund of Magento order {order_key} is being synced right now"):
            yield

    # -- Magento → Heartland ----------------------------------------------------------------------
    def magento_steps(self) -> tuple[Step, ...]:
        ref = f"custom@{REF_FIELD} = {MEMO_REF_PREFIX}<store>:<id>"
        return (
            Step("fetch", self.step_fetch_memo, "the credit memo as Magento holds it (GET /V1/creditmemo/{id})",
                 reads=("memo_id",), writes=("memo", "label")),
            Step("echo?", self.step_memo_echo, "a credit memo Tillbridge made from a Heartland return is ignored",
                 reads=("memo",)),
            Step("bound?", self.step_memo_bound, "a credit memo already in Heartland is ignored",
                 reads=("store_code", "memo_id", "label")),
            Step("order", self.step_memo_order, "the Heartland sales order of the Magento order (orders flow binding)",
                 reads=("store_code", "memo", "label"),
                 writes=("order_key", "heartland_order_id", "heartland_number")),
            Step("lock", self.step_memo_lock, "one refund of an order at a time; bound? again under the lock",
                 reads=("order_key", "store_code", "memo_id", "label")),
            Step("lines", self.step_memo_lines, "refunded lines → Heartland items by SKU (Item #), qty and price",
                 reads=("memo", "label"), writes=("rules", "order", "found_items", "wanted", "prices")),
            Step("adjustment", self.step_memo_adjustment, f"an adjustment, per rules/{RULES_FILE}",
                 reads=("memo", "label", "rules"), writes=("adjustment",)),
            Step("lookup", self.step_memo_lookup, f"returns with {ref} (recovers a crash between create and bind)",
                 reads=("store_code", "memo"), writes=("ref", "ours")),
            Step("allocate", self.step_allocate, "each refunded item to the invoices that sold it, oldest first, "
                 "less what was returned against them", reads=("heartland_order_id", "ours", "wanted"),
                 writes=("plan", "short")),
            Step("shortfall", self.step_shortfall, "goods no invoice sold: off the open order when none was "
                 f"invoiced (route {UNSHIPPED!r}), else review", reads=("plan", "short", "rules", "found_items",
                                                                     "label", "heartland_order_id",
                                                                     "heartland_number")),
            Step("returns", self.step_returns, "one completed Heartland Return per invoice, with its tender",
                 reads=("memo", "plan", "prices", "ref", "rules", "adjustment", "order", "ours"),
                 writes=("returns",), effect="heartland", idempotency=f"returns with {ref} are looked up first; "
                 "an invoice that has one gets no second"),
            Step("confirm", self.step_memo_confirm, "the binding of the credit memo to its returns",
                 reads=("store_code", "memo", "returns", "ours", "heartland_order_id", "heartland_number"),
                 binding="creditmemo magento:<store>:<id> → heartland"),
        )

    def step_fetch_memo(self, run: Run) -> None:
        memo_id = run["memo_id"]
        memo = run["memo"] = self.runtime.magento.creditmemo(int(memo_id))
        run["label"] = f"Magento credit memo #{memo.get('increment_id') or memo_id}"
        run.say(f"{run['label']} of Magento order {memo.get('order_id')}")

    def step_memo_echo(self, run: Run) -> Outcome | None:
        skip = self.magento_echo(run["memo"])
        run.say(skip or "not made by Tillbridge")
        return Outcome.ignored(skip) if skip else None

    def step_memo_bound(self, run: Run) -> Outcome | None:
        skip = self.memo_synced(run["store_code"], run["memo_id"], run["label"])
        run.say(skip or "not in Heartland yet")
        return Outcome.ignored(skip) if skip else None

    def step_memo_order(self, run: Run) -> Outcome | None:
        memo = run["memo"]
        order_key = run["order_key"] = f"magento:{run['store_code']}:{memo.get('order_id')}"
        order_binding = bindings.find(self.store, "order", order_key, "heartland")
        if order_binding is None:
            return Outcome.ignored(f"{run['label']} refunds Magento order {memo.get('order_id')}, which Tillbridge "
                                   "never sent to Heartland: there is no Heartland sale to return")
        run["heartland_order_id"], run["heartland_number"] = order_binding.external_id, order_binding.external_ref
        run.say(f"Heartland order #{order_binding.external_ref}")
        return None

    def step_memo_lock(self, run: Run) -> Outcome | None:
        hold(run, self.order_lock(run["order_key"]))
        skip = self.memo_synced(run["store_code"], run["memo_id"], run["label"])  # another run may have just done it
        run.say(skip or f"Magento order {run['order_key']} locked")
        return Outcome.ignored(skip) if skip else None

    def step_memo_lines(self, run: Run) -> Outcome | None:
        heartland, magento = self.runtime.heartland, self.runtime.magento
        memo, label = run["memo"], run["label"]
        run["rules"] = self.rules("magento_to_heartland")
        order = run["order"] = magento.order(int(memo["order_id"]))
        order_items = {int(i["item_id"]): i for i in order.get("items") or []}
        lines = [m for m in memo.get("items") or []
                 if float(m.get("qty") or 0) > 0
                 and not (order_items.get(int(m.get("order_item_id") or 0)) or {}).get("parent_item_id")]
        skus = sorted({str(m["sku"]) for m in lines})
        found_items = run["found_items"] = heartland.find_items_by_public_ids(skus)
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
        run["wanted"], run["prices"] = dict(wanted), prices
        if not wanted:
            return Outcome.ignored(f"{label} refunds no items (shipping or an adjustment only): "
                                   "no goods come back to Heartland")
        run.say(", ".join(f"{m['sku']} × {float(m['qty']):g}" for m in lines))
        return None

    def step_memo_adjustment(self, run: Run) -> Outcome | None:
        memo = run["memo"]
        adjustment = run["adjustment"] = money(float(memo.get("adjustment_positive") or 0)
                                               - float(memo.get("adjustment_negative") or 0))
        if adjustment and run["rules"].get("adjustments") == "review":
            return Outcome.review(f"{run['label']} carries an adjustment of {adjustment:.2f} that a Heartland return "
                                  f"has no line for (rules/{RULES_FILE}: adjustments: review): record it in Heartland "
                                  "by hand, then resolve this item")
        run.say(f"{adjustment:.2f}" if adjustment else "none")
        return None

    def step_memo_lookup(self, run: Run) -> None:
        ref = run["ref"] = memo_ref(run["store_code"], run["memo"]["entity_id"])
        ours = run["ours"] = self.runtime.heartland.list_all("sales/tickets", {f"custom@{REF_FIELD}": ref}, ["id"])
        run.say(f"returns with custom@{REF_FIELD} = {ref}: " + (f"{len(ours)} found" if ours else "none"))

    def step_allocate(self, run: Run) -> None:
        returnable = self.returnable(int(run["heartland_order_id"]), {int(t["id"]) for t in run["ours"]})
        plan, short = allocate(dict(run["wanted"]), returnable)
        run["plan"], run["short"] = plan, short
        run.say("; ".join(f"invoice {inv}: " + ", ".join(f"item {i} × {q:g}" for i, q in qty.items())
                          for inv, qty in sorted(plan.items())) or "nothing to return")

    def step_shortfall(self, run: Run) -> Outcome | None:
        plan, short, rules = run["plan"], run["short"], run["rules"]
        if not short:
            run.say("every item has an invoice to return it against")
            return None
        if not plan and rules.get("before_fulfilment", "reduce") == "reduce":
            run.say("nothing invoiced yet: refunded off the open Heartland order")
            return self.follow(UNSHIPPED, run)
        by_id = {int(v["id"]): sku for sku, v in run["found_items"].items()}
        what = ", ".join(f"{q:g} of {by_id[i]}" for i, q in sorted(short.items()))
        return Outcome.review(
            f"{run['label']} refunds more than Heartland order #{run['heartland_number']} has invoiced and not "
            f"returned: {what} left over. Fix: invoice (fulfil) those lines in Heartland, or, for goods that never "
            "shipped, reduce or cancel the Heartland order lines; then retry this item",
            heartland_order_id=run["heartland_order_id"], short={str(k): v for k, v in short.items()})

    def step_returns(self, run: Run) -> None:
        heartland = self.runtime.heartland
        plan, ours = run["plan"], run["ours"]
        done_parents = {int(t.get("parent_transaction_id") or 0) for t in ours}
        created: list[dict[str, Any]] = list(ours)
        first = not ours
        for invoice_id in sorted(plan):
            if invoice_id in done_parents:
                continue
            body = self.return_body(run["memo"], invoice_id, plan[invoice_id], run["prices"], run["ref"],
                                    run["rules"], with_totals=first, adjustment=run["adjustment"], order=run["order"])
            created.append(heartland.create_ticket(body))
            first = False
        returns = run["returns"] = [{"id": int(t["id"]), "number": str(t.get("public_id") or t["id"])}
                                    for t in created]
        run.say(f"Heartland return #{', #'.join(r['number'] for r in returns)}"
                + (f" ({len(ours)} from an earlier run)" if ours else ""))

    def step_memo_confirm(self, run: Run) -> Outcome:
        memo, returns = run["memo"], run["returns"]
        numbers = [str(r["number"]) for r in returns]
        bindings.bind(self.store, entity="creditmemo", key=memo_key(run["store_code"], memo["entity_id"]),
                      system="heartland", external_id=str(returns[0]["id"]), external_ref=", ".join(numbers),
                      source_version=str(memo.get("updated_at") or memo.get("created_at") or ""),
                      data={"returns": [int(r["id"]) for r in returns], "order": run["heartland_order_id"]})
        run.say(f"credit memo bound to Heartland return #{', #'.join(numbers)}")
        return Outcome.done(f"Heartland return #{', #'.join(numbers)} against order #{run['heartland_number']}",
                            heartland_returns=[int(r["id"]) for r in returns], resumed=bool(run["ours"]))

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

    # -- Magento → Heartland, refunded before fulfilment -------------------------------------------
    def unshipped_steps(self) -> tuple[Step, ...]:
        """Goods refunded before Heartland invoiced them come off the open Heartland order, and the
        money refunded becomes a negative payment on it.

        Each step can be repeated: the target quantity of every line is decided once and kept on the
        Heartland order (custom ``tillbridge_unshipped_refunds``, per credit memo) before any line
        changes, lines are set to those targets, and the payment is keyed by the credit memo.
        """
        return (
            Step("order open?", self.step_order_open, "only an open (or pending) Heartland order is reduced",
                 reads=("heartland_order_id", "heartland_number", "label"), writes=("sales_order",)),
            Step("plan", self.step_unshipped_plan, "each line's target qty, decided once per credit memo",
                 reads=("sales_order", "store_code", "memo", "short", "heartland_order_id", "heartland_number",
                        "label"), writes=("plans", "targets", "new_plan", "order_lines")),
            Step("keep plan", self.step_keep_plan, f"the targets kept on the Heartland order (custom "
                 f"{UNSHIPPED_FIELD})", reads=("plans", "targets", "new_plan", "heartland_order_id"),
                 writes=("targets",), effect="heartland",
                 idempotency="a plan kept for this credit memo is read back, not decided again"),
            Step("reduce", self.step_reduce, "each line set to its target; all zero: the order is cancelled",
                 reads=("targets", "order_lines", "heartland_order_id"), writes=("cancel",), effect="heartland",
                 idempotency="a line already at its target (or removed) is left"),
            Step("refund payment", self.step_refund_payment, "the money refunded as a negative payment on the order",
                 reads=("memo", "order", "store_code", "label", "heartland_order_id"),
                 writes=("payment_id", "amount"), effect="heartland",
                 idempotency="keyed by the credit memo (creditmemo:<store>:<id>) in the order's payment ledger"),
            Step("cancel", self.step_cancel_unshipped, "the Heartland order cancelled when every line is refunded",
                 reads=("cancel", "heartland_order_id", "heartland_number"), effect="heartland",
                 idempotency="setting cancelled again changes nothing"),
            Step("confirm refund", self.step_unshipped_confirm, "the binding of the credit memo to the payment",
                 reads=("store_code", "memo", "payment_id", "amount", "heartland_order_id", "heartland_number",
                        "targets", "cancel"),
                 binding="creditmemo magento:<store>:<id> → heartland (the refund payment)"),
        )

    def step_order_open(self, run: Run) -> Outcome | None:
        order_id, number = int(run["heartland_order_id"]), run["heartland_number"]
        sales_order = run["sales_order"] = self.runtime.heartland.sales_order(order_id)
        status = sales_order.get("status")
        if status not in ("pending", "open"):
            return Outcome.review(f"{run['label']} refunds goods Heartland order #{number} has not invoiced, but "
                                  f"that order is {status}: settle the refund in Heartland by hand, then resolve this "
                                  "item", heartland_order_id=order_id)
        run.say(f"Heartland order #{number} is {status}")
        return None

    def step_unshipped_plan(self, run: Run) -> Outcome | None:
        order_id, number = int(run["heartland_order_id"]), run["heartland_number"]
        ref = memo_ref(run["store_code"], run["memo"]["entity_id"])
        plans = run["plans"] = _json_object((run["sales_order"].get("custom") or {}).get(UNSHIPPED_FIELD))
        targets: dict[str, float] | None = plans.get(ref)
        lines = run["order_lines"] = self.runtime.heartland.sales_order_lines(order_id)
        run["new_plan"] = targets is None
        if targets is None:
            targets = {}
            for item_id, qty in run["short"].items():
                left = qty
                for line in sorted((li for li in lines if int(li.get("item_id") or 0) == item_id),
                                   key=lambda li: -int(li["id"])):
                    take = min(left, float(line["qty"]) - float(line.get("qty_invoiced") or 0))
                    if take > 0:
                        targets[str(line["id"])] = float(line["qty"]) - take
                        left -= take
                if left > 1e-9:
                    return Outcome.review(
                        f"{run['label']} refunds {qty:g} of Heartland item {item_id}, more than Heartland order "
                        f"#{number} has on it: fix the order or the credit memo by hand, then resolve this item",
                        heartland_order_id=order_id)
            plans[ref] = targets
        run["targets"] = targets
        run.say(("decided: " if run["new_plan"] else "kept from an earlier run: ")
                + ", ".join(f"line {k} → {v:g}" for k, v in sorted(targets.items())))
        return None

    def step_keep_plan(self, run: Run) -> None:
        if not run["new_plan"]:
            run.say("kept already")
            return
        self.runtime.heartland.update_sales_order(
            int(run["heartland_order_id"]), {"custom": {UNSHIPPED_FIELD: json.dumps(run["plans"], sort_keys=True)}})
        run.say(f"custom {UNSHIPPED_FIELD} written")

    def step_reduce(self, run: Run) -> None:
        heartland = self.runtime.heartland
        order_id, targets = int(run["heartland_order_id"]), run["targets"]
        by_id = {str(li["id"]): li for li in run["order_lines"]}
        cancel = run["cancel"] = all(targets.get(key, -1.0) == 0 for key in by_id)
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
        run.say("every line refunded: the order is cancelled" if cancel
                else ", ".join(changed) or "lines already reduced by an earlier run")

    def step_refund_payment(self, run: Run) -> None:
        from service.flows.payments import Payments

        memo, order, store_code = run["memo"], run["order"], run["store_code"]
        amount = money(float(memo.get("grand_total") or 0))
        payment_id, created = Payments(self.runtime).record_refund(
            int(run["heartland_order_id"]), order, key=f"creditmemo:{store_code}:{memo['entity_id']}", amount=amount,
            description=f"Magento refund, {run['label']} (order #{order.get('increment_id')})")
        run["payment_id"], run["amount"] = payment_id, amount
        run.say(f"refund {amount:.2f} as payment {payment_id}" + ("" if created else " (recorded before)"))

    def step_cancel_unshipped(self, run: Run) -> None:
        if not run["cancel"]:
            run.say("lines are left: the order stays open")
            return
        self.runtime.heartland.set_sales_order_status(int(run["heartland_order_id"]), "cancelled")
        run.say(f"Heartland order #{run['heartland_number']} cancelled")

    def step_unshipped_confirm(self, run: Run) -> Outcome:
        memo, order_id, number = run["memo"], int(run["heartland_order_id"]), run["heartland_number"]
        payment_id, cancel = run["payment_id"], run["cancel"]
        bindings.bind(self.store, entity="creditmemo", key=memo_key(run["store_code"], memo["entity_id"]),
                      system="heartland", external_id=str(payment_id), external_ref=f"order #{number}",
                      source_version=str(memo.get("updated_at") or memo.get("created_at") or ""),
                      data={"refund_payment": payment_id, "order": order_id, "lines": run["targets"],
                            "cancelled": cancel})
        what = "cancelled" if cancel else "reduced"
        run.say(f"credit memo bound to payment {payment_id}")
        return Outcome.done(f"refunded before fulfilment: Heartland order #{number} {what}, {run['amount']:.2f} "
                            "refunded as a negative payment", heartland_order_id=order_id, refund_payment=payment_id)

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
    def heartland_steps(self) -> tuple[Step, ...]:
        return (
            Step("fetch", self.step_fetch_ticket, "the Heartland ticket with its lines, by id",
                 reads=("ticket_id",), writes=("ticket", "label")),
            Step("check", self.step_ticket_check, "a completed Return, not made by Tillbridge, not in Magento yet",
                 reads=("ticket", "label")),
            Step("origin", self.step_origin, "its parent: the invoice of a sales order bound to a Magento order",
                 reads=("ticket", "label"), writes=("invoice", "order_key")),
            Step("lock", self.step_ticket_lock, "one refund of an order at a time; check again under the lock",
                 reads=("order_key", "ticket", "label")),
            Step("order", self.step_magento_order, "the Magento order", reads=("order_key",),
                 writes=("rules", "order", "order_label", "magento_order_id")),
            Step("lookup", self.step_memo_made_from, f"a credit memo of the order whose comment carries "
                 f"{RETURN_REF_PREFIX}<id> (recovers a crash between create and bind)",
                 reads=("magento_order_id", "ticket_id", "order_label"), writes=("existing",)),
            Step("quantities", self.step_quantities, "each line against Magento's invoiced and the invoice's sold "
                 "qty; else review", reads=("ticket", "ticket_id", "label", "order", "order_label", "invoice",
                                            "magento_order_id", "existing"),
                 writes=("returned", "heartland_value")),
            Step("amounts", self.step_amounts, f"qtys, shipping, price difference, return to stock (rules/{RULES_FILE})",
                 reads=("ticket", "label", "rules", "order", "order_label", "returned", "heartland_value", "existing"),
                 writes=("refund_qty", "shipping", "positive", "negative", "restock")),
            Step("deliver", self.step_deliver_memo, "an offline credit memo (POST /V1/order/{id}/refund)",
                 reads=("ticket", "ticket_id", "magento_order_id", "order_label", "existing", "refund_qty",
                        "shipping", "positive", "negative", "restock"),
                 writes=("memo_id", "memo_number", "found"), effect="magento",
                 idempotency=f"the credit memo whose comment carries {RETURN_REF_PREFIX}<id> is looked up first"),
            Step("confirm", self.step_ticket_confirm, "the binding of the return to the credit memo",
                 reads=("ticket", "ticket_id", "order_key", "invoice", "order_label", "existing", "memo_id",
                        "memo_number", "found"),
                 binding="return heartland:<id> → magento"),
        )

    def step_fetch_ticket(self, run: Run) -> Outcome | None:
        ticket_id = run["ticket_id"]
        try:
            ticket = run["ticket"] = self.runtime.heartland.ticket(ticket_id, include=("lines",))
        except NotFoundInTargetError:
            return Outcome.ignored(f"Heartland ticket {ticket_id} no longer exists")
        run["label"] = f"Heartland return #{ticket.get('public_id') or ticket_id}"
        run.say(f"Heartland ticket {ticket_id}: {ticket.get('type')}, {ticket.get('status')}")
        return None

    def step_ticket_check(self, run: Run) -> Outcome | None:
        skip = self.heartland_skip(run["ticket"], run["label"])
        run.say(skip or f"{run['label']} is new")
        return Outcome.ignored(skip) if skip else None

    def step_origin(self, run: Run) -> Outcome | None:
        ticket, label = run["ticket"], run["label"]
        parent = str(ticket.get("parent_transaction_id") or "")
        try:
            invoice_id = whole_number(parent)
            if invoice_id is None:
                raise NotFoundInTargetError(f"{label} has no parent transaction")
            invoice = run["invoice"] = self.runtime.heartland.invoice(invoice_id)
        except NotFoundInTargetError:
            return Outcome.ignored(f"{label} returns Heartland sale {parent}, which is not the invoice of a web "
                                   "order (a till sale): only returns of Magento orders go to Magento")
        order_binding = bindings.find_external(self.store, "order", "heartland", str(invoice["order_id"]))
        if order_binding is None or not order_binding.key.startswith("magento:"):
            return Outcome.ignored(f"{label} returns Heartland order {invoice['order_id']}, which did not come "
                                   "from Magento through Tillbridge")
        run["order_key"] = order_binding.key
        run.say(f"invoice #{invoice.get('public_id')} of Heartland order #{order_binding.external_ref} "
                f"(Magento {order_binding.key})")
        return None

    def step_ticket_lock(self, run: Run) -> Outcome | None:
        hold(run, self.order_lock(run["order_key"]))
        skip = self.heartland_skip(run["ticket"], run["label"])  # another run may have just done it
        run.say(skip or f"Magento order {run['order_key']} locked")
        return Outcome.ignored(skip) if skip else None

    def step_magento_order(self, run: Run) -> None:
        run["rules"] = self.rules("heartland_to_magento")
        magento_order_id = run["magento_order_id"] = int(run["order_key"].rsplit(":", 1)[1])
        order = run["order"] = self.runtime.magento.order(magento_order_id)
        run["order_label"] = f"Magento order #{order.get('increment_id') or magento_order_id}"
        run.say(f"{run['order_label']}: {order.get('state')}")

    def step_memo_made_from(self, run: Run) -> None:
        memo = run["existing"] = self.memo_made_from(run["magento_order_id"], run["ticket_id"])
        run.say(f"credit memo #{memo.get('increment_id')} of {run['order_label']}, from an earlier run" if memo
                else f"no credit memo of {run['order_label']} with {RETURN_REF_PREFIX}{run['ticket_id']}")

    def step_quantities(self, run: Run) -> Outcome | None:
        if run["existing"] is not None:
            run["returned"], run["heartland_value"] = {}, 0.0
            run.say("the credit memo was made by an earlier run")
            return None
        ticket = run["ticket"]
        lines = [line for line in ticket.get("lines") or [] if line.get("type") == "ItemLine"]
        returned: dict[str, float] = defaultdict(float)
        heartland_value = 0.0
        for line in lines:
            returned[str(line.get("item_public_id") or "")] += -float(line.get("qty") or 0)
            heartland_value += -float(line.get("qty") or 0) * float(line.get("adjusted_unit_price") or 0)
        run["returned"], run["heartland_value"] = dict(returned), heartland_value
        problem = self.memo_problem(returned, run["order"], run["order_label"], run["invoice"], run["ticket_id"])
        run.say(problem or "every line can be refunded")
        if problem:
            return Outcome.review(f"{run['label']}: {problem}", magento_order_id=run["magento_order_id"])
        return None

    def step_amounts(self, run: Run) -> Outcome | None:
        if run["existing"] is not None:
            run["refund_qty"], run["shipping"], run["positive"], run["negative"], run["restock"] = {}, 0.0, 0.0, 0.0, False
            run.say("the credit memo was made by an earlier run")
            return None
        ticket, order, rules, returned = run["ticket"], run["order"], run["rules"], run["returned"]
        by_sku = {str(i["sku"]): i for i in order.get("items") or [] if not i.get("parent_item_id")}
        run["refund_qty"] = {int(by_sku[sku]["item_id"]): qty for sku, qty in returned.items() if qty > 0}
        shipping = 0.0
        if rules.get("shipping", "from_return") == "from_return":
            shipping = money(sum(-float(line.get("value") or 0) for line in ticket.get("lines") or []
                                 if line.get("type") == "ShippingLine"))
        shipping_left = money(float(order.get("shipping_invoiced") or 0) - float(order.get("shipping_refunded") or 0))
        if shipping > shipping_left + CENT:
            return Outcome.review(f"{run['label']} refunds {shipping:.2f} of shipping, but {run['order_label']} has "
                                  f"only {shipping_left:.2f} of shipping left to refund: correct the return's "
                                  "shipping line in Heartland, then retry this item")
        positive = negative = 0.0
        if rules.get("price_difference", "adjust") == "adjust":
            magento_value = sum(magento_share(by_sku[sku], qty) for sku, qty in returned.items() if qty > 0)
            positive, negative = price_adjustment(run["heartland_value"], magento_value)
        stock_rule = str(rules.get("return_to_stock", "never"))
        restock = stock_rule == "always" or (stock_rule == "when_restocked" and bool(ticket.get("affect_inventory")))
        run["shipping"], run["positive"], run["negative"], run["restock"] = shipping, positive, negative, restock
        run.say(f"shipping {shipping:.2f}, adjustment +{positive:.2f} -{negative:.2f}"
                + (", returned to stock" if restock else ""))
        return None

    def step_deliver_memo(self, run: Run) -> None:
        magento = self.runtime.magento
        existing = run["existing"]
        if existing is not None:
            run["memo_id"], run["found"] = int(existing["entity_id"]), True
            run["memo_number"] = str(existing.get("increment_id") or "")
            run.say(f"credit memo #{run['memo_number']} was made by an earlier run")
            return
        ticket, ticket_id, refund_qty = run["ticket"], run["ticket_id"], run["refund_qty"]
        number = str(ticket.get("public_id") or ticket_id)
        memo_id = magento.refund(
            run["magento_order_id"], refund_qty, shipping_amount=run["shipping"],
            adjustment_positive=run["positive"] or None, adjustment_negative=run["negative"] or None,
            return_to_stock=sorted(refund_qty) if run["restock"] else None, comment=memo_comment(number, ticket_id))
        memo = magento.creditmemo(memo_id)
        run["memo_id"], run["memo_number"], run["found"] = int(memo["entity_id"]), str(memo.get("increment_id") or ""), False
        run.say(f"credit memo #{memo.get('increment_id')} of {run['order_label']} for {memo.get('grand_total')}"
                + (", returned to stock" if run["restock"] else ""))

    def step_ticket_confirm(self, run: Run) -> Outcome:
        ticket_id, memo_id, number = run["ticket_id"], run["memo_id"], run["memo_number"]
        bindings.bind(self.store, entity="return", key=return_key(ticket_id), system="magento",
                      external_id=str(memo_id), external_ref=number,
                      source_version=str(run["ticket"].get("updated_at") or ""),
                      data={"order": run["order_key"], "invoice": int(run["invoice"]["id"])})
        run.say(f"return bound to credit memo #{number}")
        return Outcome.done(f"Magento credit memo #{number} for {run['order_label']}",
                            magento_creditmemo_id=memo_id, resumed=run["found"] or run["existing"] is not None)

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
