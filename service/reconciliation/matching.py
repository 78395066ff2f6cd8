"""Matching Magento's web money to Heartland's: by our reference, then by the processor's
transaction id, then fuzzily (same amount, card last 4 or email, within ±N days).

Pure: entries in, results out. Each Magento web sale and refund, and each Heartland web sale,
ends in exactly one category:

- ``matched``              same amount, same business day
- ``timing_difference``    same amount, different business days
- ``amount_mismatch``      the pair differs; the delta (Heartland − Magento) and a likely reason
- ``missing_in_heartland`` a Magento sale Heartland has no sales order for
- ``missing_in_magento``   a Heartland web order whose Magento order does not exist
- ``duplicate``            a second Heartland order for one Magento order
- ``unmatched_refund``     a refund on one side with none on the other
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from service.reconciliation.ledger import Entry

EXCEPTIONS = ("amount_mismatch", "timing_difference", "missing_in_heartland", "missing_in_magento", "duplicate",
              "unmatched_refund")
CATEGORIES = ("matched", *EXCEPTIONS, "resolved")


@dataclass
class Result:
    category: str
    magento: Entry | None
    heartland: Entry | None
    matched_by: str = ""
    delta: int = 0
    reason: str = ""

    @property
    def key(self) -> str:
        anchor = self.magento or self.heartland
        assert anchor is not None
        return f"{anchor.kind}:{anchor.source}:{anchor.source_id}"

    @property
    def business_date(self) -> str:
        anchor = self.magento or self.heartland
        assert anchor is not None
        return anchor.business_date

    @property
    def currency(self) -> str:
        anchor = self.magento or self.heartland
        return anchor.currency if anchor else "USD"


def _days_apart(a: str, b: str) -> int:
    return abs((date.fromisoformat(a) - date.fromisoformat(b)).days)


def likely_reason(magento: Entry, heartland: Entry) -> str:
    delta = heartland.amount - magento.amount
    if delta == -magento.shipping and magento.shipping:
        return "Heartland has no shipping charge: check the shipping mapping of the orders flow"
    if delta == -magento.tax and magento.tax:
        return "Heartland has no tax: check the tax settings of the Heartland location"
    if abs(delta) == magento.discount and magento.discount:
        return "the discount is applied on one side only: check the price and discount mapping"
    if abs(delta) <= 2:
        return "a rounding difference of a cent or two (tax computed per line on one side)"
    return "the lines or prices differ: open the trace and compare the order on both sides"


def _pair(m: Entry, h: Entry, matched_by: str) -> Result:
    delta = h.amount - m.amount
    if delta != 0:
        return Result("amount_mismatch", m, h, matched_by, delta, likely_reason(m, h))
    if m.business_date != h.business_date:
        return Result("timing_difference", m, h, matched_by, 0,
                      f"booked on {m.business_date} in Magento and {h.business_date} in Heartland")
    return Result("matched", m, h, matched_by)


def _fuzzy(m: Entry, candidates: list[Entry], days: int) -> Entry | None:
    for h in candidates:
        if h.amount != m.amount or _days_apart(h.business_date, m.business_date) > days:
            continue
        if (m.last4 and m.last4 == h.last4) or (m.email and m.email == h.email):
            return h
    return None


def match(magento: list[Entry], heartland: list[Entry], *, fuzzy_days: int = 2) -> list[Result]:
    results: list[Result] = []
    h_sales = [h for h in heartland if h.kind == "sale" and h.channel == "web"]
    by_ref: dict[str, list[Entry]] = defaultdict(list)
    for h in h_sales:
        if h.order_ref:
            by_ref[h.order_ref].append(h)
    payments_by_txn = {p.transaction_id: p for p in heartland if p.kind == "payment" and p.transaction_id}
    sales_by_ref_any = {h.order_ref: h for h in h_sales if h.order_ref}
    used: set[int] = set()

    for m in sorted((e for e in magento if e.kind == "sale"), key=lambda e: e.source_id):
        found, how = None, ""
        candidates = [h for h in by_ref.get(m.order_ref, []) if id(h) not in used]
        if candidates:
            found, how = candidates[0], "reference"
            for extra in candidates[1:]:
                used.add(id(extra))
                results.append(Result("duplicate", m, extra, "reference", extra.amount,
                                      f"a second Heartland order (#{extra.number}) for Magento order #{m.number}: "
                                      "cancel one in Heartland"))
        elif m.transaction_id and m.transaction_id in payments_by_txn:
            payment = payments_by_txn[m.transaction_id]
            sale = sales_by_ref_any.get(payment.order_ref) or next(
                (h for h in h_sales if h.number == payment.number), None)
            if sale is not None and id(sale) not in used:
                found, how = sale, "transaction"
        if found is None:
            loose = [h for h in h_sales if id(h) not in used and not h.order_ref.startswith("magento:")]
            found = _fuzzy(m, loose, fuzzy_days)
            how = "fuzzy" if found else ""
        if found is None:
            results.append(Result("missing_in_heartland", m, None, "", -m.amount,
                                  f"Magento order #{m.number} has no Heartland sales order: re-sync it through the "
                                  "orders flow"))
            continue
        used.add(id(found))
        results.append(_pair(m, found, how))

    magento_refs = {m.order_ref for m in magento if m.kind == "sale"}
    for h in h_sales:
        if id(h) in used or not h.order_ref.startswith("magento:"):
            continue
        if h.order_ref in magento_refs:
            continue
        results.append(Result("missing_in_magento", None, h, "", h.amount,
                              f"Heartland order #{h.number} refers to {h.order_ref}, which Magento does not have in "
                              "this period: check whether it was deleted, or cancel the Heartland order"))

    h_refunds = [h for h in heartland if h.kind == "refund"]
    refund_used: set[int] = set()
    for m in sorted((e for e in magento if e.kind == "refund"), key=lambda e: e.source_id):
        same_ref = [h for h in h_refunds if id(h) not in refund_used and m.order_ref and h.order_ref == m.order_ref]
        found = same_ref[0] if same_ref else None
        how = "reference" if found else ""
        if found is None:
            found = next((h for h in h_refunds if id(h) not in refund_used and h.amount == m.amount
                          and _days_apart(h.business_date, m.business_date) <= fuzzy_days
                          and (not m.email or not h.email or m.email == h.email) and h.channel == "web"), None)
            how = "fuzzy" if found else ""
        if found is None:
            results.append(Result("unmatched_refund", m, None, "", -m.amount,
                                  f"Magento credit memo #{m.number} has no Heartland return: re-sync it through the "
                                  "refunds flow"))
            continue
        refund_used.add(id(found))
        results.append(_pair(m, found, how))
    for h in h_refunds:
        if id(h) not in refund_used and h.order_ref.startswith("magento:"):
            results.append(Result("unmatched_refund", None, h, "", h.amount,
                                  f"Heartland return #{h.number} for {h.order_ref} has no Magento credit memo"))
    return results
