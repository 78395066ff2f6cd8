"""Daily or monthly summaries by channel × location × tender, from the ledger, with the variance
between Heartland (the books) and Magento for the web channel."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select

from service.store.api_tables import LedgerEntry

MEASURES = ("gross", "discounts", "returns", "net", "tax", "shipping", "gift_cards_sold", "gift_cards_redeemed",
            "payments", "refunds", "orders")


def _period(business_date: str, by: str) -> str:
    return business_date[:7] if by == "month" else business_date


def summaries(store: Any, date_from: str, date_to: str, by: str = "day") -> list[dict[str, Any]]:
    with store.session() as s:
        rows = list(s.scalars(select(LedgerEntry).where(LedgerEntry.business_date >= date_from,
                                                        LedgerEntry.business_date <= date_to)))
        s.expunge_all()
    groups: dict[tuple[str, str, str, str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(MEASURES, 0))
    magento_web: dict[str, int] = defaultdict(int)
    heartland_web: dict[str, int] = defaultdict(int)
    for e in rows:
        period = _period(e.business_date, by)
        if e.source == "magento":
            if e.kind in ("sale", "refund"):
                magento_web[period] += e.amount
            continue
        if e.kind == "payment":
            continue  # the sale carries the money; payments only help matching
        g = groups[(period, e.channel, e.location, e.tender, e.currency)]
        if e.kind == "sale":
            g["gross"] += e.amount - e.tax - e.shipping + e.discount
            g["discounts"] += e.discount
            g["tax"] += e.tax
            g["shipping"] += e.shipping
            g["payments"] += e.amount
            g["orders"] += 1
        elif e.kind == "refund":
            g["returns"] += -(e.amount - e.tax - e.shipping)
            g["tax"] += e.tax
            g["shipping"] += e.shipping
            g["refunds"] += -e.amount
        elif e.kind == "giftcard_sold":
            g["gift_cards_sold"] += e.amount
        elif e.kind == "giftcard_redeemed":
            g["gift_cards_redeemed"] += -e.amount
        if e.channel == "web" and e.kind in ("sale", "refund"):
            heartland_web[period] += e.amount
    out = []
    for (period, channel, location, tender, currency), g in sorted(groups.items()):
        g["net"] = g["gross"] - g["discounts"] - g["returns"]
        out.append({"period": period, "channel": channel, "location": location, "tender": tender,
                    "currency": currency, **g,
                    "average_order_value": (g["payments"] // g["orders"]) if g["orders"] else 0,
                    "variance": (heartland_web[period] - magento_web[period]) if channel == "web" else 0})
    return out
