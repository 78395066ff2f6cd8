"""Journals for the accounts: Xero manual-journal CSV and QuickBooks Desktop IIF.

One balanced journal per business day × channel × location. Each ledger entry is split into its
own balanced lines, then lines are summed per account, so every journal balances by construction
(the tests check it): a sale debits its tender's clearing account with what was paid and credits
Sales (before tax, shipping and discount), Sales Tax and Shipping Income, and debits Discounts; a
refund is the reverse on Sales Returns; a gift card sold credits the Gift Card Liability (cash in
the Undeposited Funds); a gift card tender on a sale debits the liability instead of a clearing
account (redemption). Account codes are ACCOUNTS below; match them to the chart of accounts.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import select

from service.canonical.money import major_units
from service.store.api_tables import LedgerEntry

ACCOUNTS = {
    "sales": ("200", "Sales"),
    "returns": ("210", "Sales Returns"),
    "discounts": ("220", "Discounts Given"),
    "shipping": ("230", "Shipping Income"),
    "tax": ("820", "Sales Tax Payable"),
    "giftcards": ("830", "Gift Card Liability"),
    "clearing": ("610", "Undeposited Funds"),
}
Journal = dict[tuple[str, str], int]  # (account key, tender) → signed minor units, debit positive


def _lines(e: LedgerEntry) -> list[tuple[str, str, int]]:
    tender_account = "giftcards" if "gift" in e.tender.lower() else "clearing"
    if e.kind == "sale":
        base = e.amount - e.tax - e.shipping + e.discount
        return [(tender_account, e.tender, e.amount), ("sales", "", -base), ("tax", "", -e.tax),
                ("shipping", "", -e.shipping), ("discounts", "", e.discount)]
    if e.kind == "refund":
        base = e.amount - e.tax - e.shipping
        return [(tender_account, e.tender, e.amount), ("returns", "", -base), ("tax", "", -e.tax),
                ("shipping", "", -e.shipping)]
    if e.kind == "giftcard_sold":
        return [("clearing", "Gift card sale", e.amount), ("giftcards", "", -e.amount)]
    return []  # payments, redemptions: already in the sales they belong to


def journals(store: Any, date_from: str, date_to: str) -> dict[tuple[str, str, str, str], Journal]:
    """(business date, channel, location, currency) → the journal's lines; Heartland entries only (the books)."""
    with store.session() as s:
        rows = list(s.scalars(select(LedgerEntry).where(LedgerEntry.source == "heartland",
                                                        LedgerEntry.business_date >= date_from,
                                                        LedgerEntry.business_date <= date_to)))
        s.expunge_all()
    out: dict[tuple[str, str, str, str], Journal] = defaultdict(lambda: defaultdict(int))
    for e in rows:
        for account, tender, amount in _lines(e):
            if amount:
                out[(e.business_date, e.channel, e.location or "all", e.currency)][(account, tender)] += amount
    return {k: {line: v for line, v in j.items() if v} for k, j in sorted(out.items()) if any(j.values())}


def _label(account: str, tender: str) -> str:
    code, name = ACCOUNTS[account]
    return f"{name} ({tender})" if tender else name


def xero_csv(store: Any, date_from: str, date_to: str) -> str:
    """Xero's manual journal import: one narration per journal; Amount positive = debit."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["*Narration", "*Date", "Description", "*AccountCode", "*TaxRate", "*Amount", "TrackingName1",
                     "TrackingOption1", "TrackingName2", "TrackingOption2"])
    for (day, channel, location, currency), lines in journals(store, date_from, date_to).items():
        narration = f"Tillbridge {day} {channel} {location}"
        when = date.fromisoformat(day).strftime("%d/%m/%Y")
        for (account, tender), amount in sorted(lines.items()):
            writer.writerow([narration, when, _label(account, tender), ACCOUNTS[account][0], "Tax Exempt",
                             f"{major_units(amount, currency):.2f}", "Channel", channel, "Location", location])
    return buffer.getvalue()


def quickbooks_iif(store: Any, date_from: str, date_to: str) -> str:
    """QuickBooks Desktop IIF: a GENERAL JOURNAL transaction per journal; AMOUNT positive = debit."""
    out = ["!TRNS\tTRNSTYPE\tDATE\tACCNT\tCLASS\tAMOUNT\tDOCNUM\tMEMO",
           "!SPL\tTRNSTYPE\tDATE\tACCNT\tCLASS\tAMOUNT\tDOCNUM\tMEMO", "!ENDTRNS"]
    for n, ((day, channel, location, currency), lines) in enumerate(journals(store, date_from, date_to).items(), 1):
        when = date.fromisoformat(day).strftime("%m/%d/%Y")
        doc = f"TB{day.replace('-', '')}-{n}"
        memo = f"Tillbridge {channel} {location}"
        for i, ((account, tender), amount) in enumerate(sorted(lines.items())):
            kind = "TRNS" if i == 0 else "SPL"
            out.append("\t".join([kind, "GENERAL JOURNAL", when, ACCOUNTS[account][1], f"{channel}:{location}",
                                  f"{major_units(amount, currency):.2f}", doc, f"{memo} {tender}".strip()]))
        out.append("ENDTRNS")
    return "\n".join(out) + "\n"
