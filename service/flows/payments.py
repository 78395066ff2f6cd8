"""Payments, Magento → Heartland: the money taken on a Magento order, as payments on its Heartland
sales order. Magento owns the payment; Heartland records it.

Only the method (mapped to a Heartland payment type), the amount, the transaction id, the card type
and the card's last 4 digits leave Magento: never a card number, expiry or card owner (the ingest
refuses card numbers before any flow runs).

When a payment is recorded (rules/payment_methods.yaml ``record_at``, by Magento method):
  order    one deposit for the order's amount when the order reaches Heartland (offline methods:
           check / money order, bank transfer, cash on delivery); later invoices are covered by it
  capture  one payment per Magento capture (a paid invoice), as it happens: authorize-only card and
           wallet methods are captured at invoice; an order captured at checkout already has its
           invoice when it syncs
  auto     (default) capture when Magento authorized the payment online (``amount_authorized``),
           else order

The orders flow calls ``at_order`` when it creates the Heartland order, and ``follow`` for every
later event of an order already in Heartland:
  1. gateway failure  the order is in a review state (rules ``gateway_failure.states``) and the
                      gateway's response code in the payment's additional information is a decline:
                      the Heartland payment for that capture is marked failed (recorded failed when
                      there is none), the Magento order gets the rules' status and a comment the
                      customer sees and is notified of, and the item goes to review saying what to do
  2. captures         Magento's paid invoices not yet in Heartland: one payment each, keyed by
                      invoice (custom ``magento_capture``), on the sales order while it takes
                      payments (pending or open); once Heartland has fulfilled it (complete, or
                      cancelled after an invoice), on the invoice that fulfilled it, its latest
                      complete one. Heartland's payments, the order's and its invoices', are read
                      before writing, so a retried job or a repeated event never records one twice;
                      an event whose captured total is what the binding already holds costs no call.
                      A capture of an order Heartland cancelled unfulfilled has no record to go on:
                      review, saying so.

Refunds of payments: ``record_refund`` puts a refund as a negative payment on the sales order (for
the refunds flow to call while Heartland has not fulfilled the order; a fulfilled one gets a Return).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from service.engine.outcome import Outcome
from service.engine.trace import Trace
from service.kernel.errors import DataError, NotFoundInTargetError, SyncError
from service.kernel.numbers import whole_number
from service.store import bindings
from service.store.tables import Binding

if TYPE_CHECKING:
    from service.canonical.order import Order
    from service.flows.context import Context

RULES = "payment_methods.yaml"
KEY_FIELD = "magento_capture"  # custom value on a Heartland payment: which Magento capture it records
REFUND_FIELD = "magento_refund"
INVOICE_PAID, INVOICE_OPEN = 2, 1
LAST4 = re.compile(r"^\d{4}$")
UNASSIGNED_STATUS = "is not part of the order status history"


@dataclass
class Capture:
    """One capture of a Magento payment: a paid (or, when it failed, open) invoice."""

    key: str
    amount: float
    transaction_id: str
    invoice_number: str


@dataclass
class Recorded:
    """A payment as Heartland holds it, with the collection it sits in (its order's or an invoice's)."""

    path: str
    payment: dict[str, Any]

    @property
    def custom(self) -> dict[str, Any]:
        return dict(self.payment.get("custom") or {})

    @property
    def failed(self) -> bool:
        return self.payment.get("status") == "failed"


@dataclass
class Ledger:
    """A Heartland sales order's payments, wherever they sit: on the order, or on its invoices (money
    taken after Heartland fulfilled it)."""

    order_id: int
    number: str
    status: str
    recorded: list[Recorded] = field(default_factory=list)
    complete_invoices: list[dict[str, Any]] = field(default_factory=list)

    def find(self, key_field: str, key: str) -> Recorded | None:
        return next((r for r in self.recorded if r.custom.get(key_field) == key), None)

    def target(self) -> tuple[str, str]:
        """(collection path, words) where a new payment of the order goes: the order while it takes
        payments, else the invoice that fulfilled it (its latest complete one)."""
        if self.status in ("pending", "open"):
            return f"sales/orders/{self.order_id}/payments", f"order #{self.number}"
        if self.complete_invoices:
            invoice = self.complete_invoices[-1]
            return (f"sales/invoices/{invoice['id']}/payments",
                    f"invoice #{invoice.get('public_id') or invoice['id']} (order #{self.number} is {self.status})")
        raise NotFoundInTargetError(
            f"Heartland order #{self.number} is {self.status} and has no complete invoice: a payment taken in "
            "Magento has no record to go on in Heartland",
            hint="refund the payment in Magento (or record it in Heartland by hand), then resolve this item")


@dataclass
class GatewayFailure:
    code: str
    text: str


def money(value: Any) -> float:
    return round(float(value or 0), 2)


def card_fields(payment: dict[str, Any]) -> dict[str, str]:
    """What may leave Magento's payment about the card: its type and last 4 digits, nothing else."""
    last4 = str(payment.get("cc_last4") or "")
    out = {"card_type": str(payment.get("cc_type") or ""), "card_last4": last4 if LAST4.match(last4) else ""}
    return {k: v for k, v in out.items() if v}


class Payments:
    def __init__(self, runtime: Context) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self._payment_types: dict[str, Any] | None = None

    # -- rules -------------------------------------------------------------------------------------
    def rules(self) -> dict[str, Any]:
        return dict(self.runtime.rules.load(RULES) or {})

    def type_name(self, method: str) -> str:
        methods = self.rules().get("magento_to_heartland", {})
        return str(methods.get(method, methods.get("_default", "External")))

    def payment_type_id(self, name: str) -> Any:
        if self._payment_types is None or name not in self._payment_types:
            self._payment_types = {p["name"]: p["id"] for p in self.runtime.heartland.payment_types()}
        if name not in self._payment_types:
            raise NotFoundInTargetError(f"Heartland has no payment type {name!r}",
                                        hint=f"create it in Heartland or change rules/{RULES}")
        return self._payment_types[name]

    def record_at(self, raw: dict[str, Any]) -> str:
        payment = raw.get("payment") or {}
        table = self.rules().get("record_at") or {}
        mode = str(table.get(payment.get("method"), table.get("_default", "auto")))
        if mode not in ("order", "capture", "auto"):
            raise DataError(f"rules/{RULES} record_at says {mode!r} for {payment.get('method')!r}",
                            hint="use order, capture or auto")
        if mode == "auto":
            mode = "capture" if money(payment.get("amount_authorized")) > 0 else "order"
        return mode

    def gateway_failure(self, raw: dict[str, Any]) -> GatewayFailure | None:
        """The gateway's decline, when the order is in a review state and its response says so."""
        spec = self.rules().get("gateway_failure") or {}
        if raw.get("state") not in (spec.get("states") or ["payment_review"]):
            return None
        info = {str(e.get("key")): e.get("value") for e in
                ((raw.get("extension_attributes") or {}).get("payment_additional_info") or [])
                if isinstance(e, dict)}
        code = str(info.get(spec.get("code_key", "processorResponseCode")) or "")
        if not code:
            return None
        declined_from = int(spec.get("declined_from", 2000))
        number = whole_number(code)
        if number is not None and number < declined_from:
            return None
        return GatewayFailure(code=code, text=str(info.get(spec.get("text_key", "processorResponseText")) or ""))

    # -- reading both sides ------------------------------------------------------------------------
    def invoices(self, raw: dict[str, Any]) -> list[dict[str, Any]]:
        found = self.runtime.magento.search_invoices([("order_id", raw["entity_id"])], [("entity_id", "ASC")])
        return list(found.get("items") or [])

    @staticmethod
    def capture_of(invoice: dict[str, Any]) -> Capture:
        return Capture(key=f"invoice:{invoice['entity_id']}", amount=money(invoice.get("grand_total")),
                       transaction_id=str(invoice.get("transaction_id") or ""),
                       invoice_number=str(invoice.get("increment_id") or invoice["entity_id"]))

    def ledger(self, order_id: Any) -> Ledger:
        """The order's payments in Heartland: on the order, then on each of its invoices (two reads)."""
        heartland = self.runtime.heartland
        order = heartland.sales_order(int(order_id), include=["payments"])
        path = f"sales/orders/{order['id']}/payments"
        recorded = [Recorded(path, p) for p in order.get("payments") or []]
        complete = []
        for invoice in heartland.invoices_with_payments(int(order_id)):
            path = f"sales/invoices/{invoice['id']}/payments"
            recorded += [Recorded(path, p) for p in invoice.get("payments") or []]
            if invoice.get("status") == "complete":
                complete.append(invoice)
        return Ledger(order_id=int(order["id"]), number=str(order.get("public_id") or order["id"]),
                      status=str(order.get("status") or ""), recorded=recorded, complete_invoices=complete)

    def add(self, path: str, body: dict[str, Any]) -> int:
        """Record a payment in one of the ledger's collections; its id."""
        if path.startswith("sales/invoices/"):
            body = {**body, "deposit": False}  # a payment of the sale itself, not a deposit towards it
        return self.runtime.heartland.create_id(path, body)

    def body(self, raw: dict[str, Any], amount: float, description: str, *, key: str = "",
             transaction_id: str = "", status: str = "") -> dict[str, Any]:
        payment = raw.get("payment") or {}
        method = str(payment.get("method") or "unknown")
        body: dict[str, Any] = {
            "type": self.rules().get("payment_kind", "ExternalPayment"),
            "deposit": True,
            "amount": money(amount),
            "payment_type_id": self.payment_type_id(self.type_name(method)),
            "description": description,
        }
        if status:
            body["status"] = status
        custom = {KEY_FIELD: key, "transaction_id": transaction_id, **card_fields(payment)}
        body["custom"] = {k: v for k, v in custom.items() if v}
        return body

    # -- when the order reaches Heartland ----------------------------------------------------------
    def at_order(self, order: Order, raw: dict[str, Any], order_id: Any, *, check_existing: bool) -> tuple[str, dict[str, Any]]:
        """Record what is paid when the order is created in Heartland; the message and binding data."""
        mode = self.record_at(raw)
        if mode == "capture":
            message, state = self.sync_captures(raw, order_id)
            authorized = money((raw.get("payment") or {}).get("amount_authorized"))
            if not state["keys"] and authorized > 0:
                message = (f"authorized {authorized:.2f} in Magento; recorded in Heartland when Magento "
                           "captures it")
            return message, state
        state = {"mode": "order", "captured": 0.0, "keys": [], "failed": []}
        if order.payment is None or order.payment.amount <= 0:
            return "no payment to record", state
        if check_existing and self.ledger(order_id).recorded:
            return "deposit already recorded", state
        type_name = self.type_name(order.payment.method)
        body = self.body(raw, order.payment.amount, f"Magento {order.payment.method} (order #{order.number})",
                         key=f"order:{order.number}", transaction_id=order.payment.transaction_id)
        self.runtime.heartland.add_sales_order_payment(order_id, body)
        return f"deposit {body['amount']:.2f} as {type_name}", state

    # -- captures ------------------------------------------------------------------------------------
    def sync_captures(self, raw: dict[str, Any], order_id: Any) -> tuple[str, dict[str, Any]]:
        """One Heartland payment per paid Magento invoice not recorded yet; Heartland is read first."""
        number = str(raw.get("increment_id"))
        paid = [self.capture_of(i) for i in self.invoices(raw) if int(i.get("state") or 0) == INVOICE_PAID]
        ledger = self.ledger(order_id)
        # A capture recorded failed (a declined attempt) is recorded again once Magento has it paid.
        recorded = {str(r.custom.get(KEY_FIELD)) for r in ledger.recorded if not r.failed}
        # A deposit recorded without a capture key (before captures were followed) covers captures
        # up to its amount, so the money is never counted twice.
        cover = money(sum(r.payment["amount"] for r in ledger.recorded
                          if not r.custom.get(KEY_FIELD) and not r.custom.get(REFUND_FIELD) and not r.failed))
        added: list[str] = []
        for capture in paid:
            if capture.key in recorded:
                continue
            if cover >= capture.amount - 0.005:
                cover = money(cover - capture.amount)
                continue
            path, where = ledger.target()
            body = self.body(raw, capture.amount,
                             f"Magento capture, invoice #{capture.invoice_number} (order #{number})",
                             key=capture.key, transaction_id=capture.transaction_id)
            self.add(path, body)
            added.append(f"{capture.amount:.2f} (Magento invoice #{capture.invoice_number}) on Heartland {where}")
        state = {"mode": "capture", "captured": money(sum(c.amount for c in paid)),
                 "keys": sorted(c.key for c in paid), "failed": []}
        if added:
            return f"recorded captures {', '.join(added)}", state
        return (f"captures already recorded ({state['captured']:.2f})" if paid else "nothing captured yet"), state

    # -- later events of an order in Heartland ---------------------------------------------------------
    def follow(self, binding: Binding, raw: dict[str, Any], trace: Trace) -> Outcome:
        number, order_id = binding.external_ref, binding.external_id
        label = f"Magento order #{raw.get('increment_id')}"
        known: dict[str, Any] = dict((binding.data or {}).get("payments") or {})
        failure = self.gateway_failure(raw)
        if failure is not None:
            return self.failed(binding, raw, failure, known, trace)
        mode = known.get("mode") or self.record_at(raw)
        captured = money((raw.get("payment") or {}).get("amount_paid"))
        settled = f"already in Heartland as order #{number} (id {order_id})"
        if mode == "order":
            return Outcome.ignored(f"{settled}; its deposit covers {label}'s payments",
                                   heartland_id=order_id, heartland_number=number)
        if abs(captured - money(known.get("captured"))) < 0.005:
            return Outcome.ignored(f"{settled}; captures recorded ({captured:.2f})",
                                   heartland_id=order_id, heartland_number=number)
        with trace.step("captures", f"{label}: captured {captured:.2f}, recorded {money(known.get('captured')):.2f}") as step:
            message, state = self.sync_captures(raw, int(order_id))
            step["message"] = message
        state["failed"] = list(known.get("failed") or [])
        self.remember(binding, state)
        if message.startswith("recorded"):
            return Outcome.done(f"Heartland order #{number}: {message}", heartland_id=order_id,
                                heartland_number=number, captured=state["captured"])
        return Outcome.ignored(f"{settled}; {message}", heartland_id=order_id, heartland_number=number)

    def remember(self, binding: Binding, state: dict[str, Any]) -> None:
        bindings.bind(self.store, entity=binding.entity, key=binding.key, system=binding.system,
                      external_id=binding.external_id, external_ref=binding.external_ref,
                      data={"payments": state})

    # -- gateway failure ---------------------------------------------------------------------------------
    def failed_capture(self, raw: dict[str, Any]) -> Capture:
        """The capture the gateway declined: the order's latest open invoice, else what is authorized."""
        open_invoices = [i for i in self.invoices(raw) if int(i.get("state") or 0) == INVOICE_OPEN]
        if open_invoices:
            return self.capture_of(open_invoices[-1])
        payment = raw.get("payment") or {}
        amount = money(money(payment.get("amount_authorized") or payment.get("amount_ordered"))
                       - money(payment.get("amount_paid")))
        txn = str(payment.get("last_trans_id") or "")
        return Capture(key=f"payment:{txn or raw.get('increment_id')}", amount=amount, transaction_id=txn,
                       invoice_number="")

    def failed(self, binding: Binding, raw: dict[str, Any], failure: GatewayFailure, known: dict[str, Any],
               trace: Trace) -> Outcome:
        heartland = self.runtime.heartland
        number, order_id = binding.external_ref, int(binding.external_id)
        label = f"Magento order #{raw.get('increment_id')}"
        spec = self.rules().get("gateway_failure") or {}
        reason_text = failure.text or "declined"
        with trace.step("gateway failure", f"{label}: the gateway declined ({reason_text}, code {failure.code})") as step:
            capture = self.failed_capture(raw)
            step["message"] += f"; capture of {capture.amount:.2f} ({capture.key})"
        if capture.key in (known.get("failed") or []):
            return Outcome.ignored(f"{label}'s payment failure is already recorded: Heartland order #{number} has the "
                                   "payment failed and the customer was told", heartland_id=order_id,
                                   heartland_number=number)
        with trace.step("heartland payment", f"mark the payment for {capture.key} failed") as step:
            ledger = self.ledger(order_id)
            existing = ledger.find(KEY_FIELD, capture.key)
            if existing is None:
                description = (f"Magento capture declined: {reason_text} (code {failure.code}), "
                               f"order #{raw.get('increment_id')}")
                path, where = ledger.target()
                payment_id = self.add(path, self.body(
                    raw, capture.amount, description, key=capture.key, transaction_id=capture.transaction_id,
                    status="failed"))
                step["message"] = f"payment {payment_id} recorded failed ({capture.amount:.2f}) on {where}"
            elif not existing.failed:
                payment_id = existing.payment["id"]
                heartland.update(f"{existing.path}/{payment_id}", {"status": "failed"})
                step["message"] = f"payment {payment_id} marked failed"
            else:
                payment_id = existing.payment["id"]
                step["message"] = f"payment {payment_id} is already failed"
        status = str(spec.get("magento_status") or "payment_review")
        comment = str(spec.get("customer_comment") or
                      "We could not take the payment of {amount} for your order: {reason}.").format(
            amount=f"{capture.amount:.2f} {raw.get('order_currency_code') or ''}".strip(), reason=reason_text,
            number=raw.get("increment_id"))
        with trace.step("magento comment", f"status {status}, customer notified") as step:
            step["message"] = self.tell_customer(raw, comment, status)
        unassigned = "not assigned" in step["message"]
        state = {**known, "mode": known.get("mode") or self.record_at(raw),
                 "captured": money(known.get("captured")), "keys": list(known.get("keys") or []),
                 "failed": sorted({*(known.get("failed") or []), capture.key})}
        self.remember(binding, state)
        status_note = (f"the comment was added without status {status!r}, which Magento does not assign to state "
                       f"{raw.get('state')!r} (assign it under Stores > Order Status)" if unassigned
                       else f"the Magento order is {status!r}")
        return Outcome.review(
            f"{label}: the payment gateway declined the capture of {capture.amount:.2f} ({reason_text}, code "
            f"{failure.code}). Heartland payment {payment_id} on order #{number} is marked failed; {status_note} and "
            "the customer was notified. Next: take the payment again in Magento (accept the payment review or have "
            "the customer pay another way; the new capture reaches Heartland by itself), or cancel the order in "
            f"Magento, which cancels Heartland order #{number}.",
            heartland_id=order_id, heartland_number=number, heartland_payment_id=payment_id,
            gateway_code=failure.code)

    def tell_customer(self, raw: dict[str, Any], comment: str, status: str) -> str:
        """The customer-visible comment, once, with the status when Magento assigns it to the state."""
        magento = self.runtime.magento
        entity_id = int(raw["entity_id"])
        if any((h.get("comment") or "") == comment for h in magento.order_comments(entity_id)):
            return "comment already there"
        try:
            magento.add_order_comment(entity_id, comment, status=status, is_customer_notified=True,
                                      is_visible_on_front=True)
            return f"comment added, status {status}"
        except SyncError as exc:
            if UNASSIGNED_STATUS not in exc.message:
                raise
        magento.add_order_comment(entity_id, comment, is_customer_notified=True, is_visible_on_front=True)
        return f"comment added; status {status} not assigned to state {raw.get('state')}"

    # -- refunds (called by the refunds flow) ----------------------------------------------------------
    def record_refund(self, order_id: int, raw_order: dict[str, Any], *, key: str, amount: float,
                      description: str = "", transaction_id: str = "") -> tuple[int, bool]:
        """A refund of a Magento payment as a negative payment on the Heartland sales order, once per
        ``key`` (e.g. ``creditmemo:<id>``); returns (payment id, created). Only for orders Heartland
        has not fulfilled or cancelled: a fulfilled order's refund is a Return against its sale."""
        heartland = self.runtime.heartland
        ledger = self.ledger(order_id)
        existing = ledger.find(REFUND_FIELD, key)
        if existing is not None:
            return int(existing.payment["id"]), False
        if ledger.status not in ("pending", "open"):
            raise DataError(f"Heartland order {order_id} is {ledger.status}; it takes no refund payment",
                            hint="record the refund as a Return against the order's sale instead")
        number = raw_order.get("increment_id")
        body = self.body(raw_order, -abs(money(amount)),
                         description or f"Magento refund {key} (order #{number})",
                         transaction_id=transaction_id)
        body["custom"] = {**{k: v for k, v in body["custom"].items() if k != KEY_FIELD}, REFUND_FIELD: key}
        return heartland.add_sales_order_payment(order_id, body), True
