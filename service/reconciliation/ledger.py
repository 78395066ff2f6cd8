"""Money movements from both systems, normalised into ledger entries.

Magento: orders (a sale each; cancelled ones carry no money) and credit memos (a refund each).
Heartland: sales orders (web orders, and orders from other channels), tickets (store sales, and
returns with negative totals), the payments on orders (with the processor's transaction id and
card last 4 our payments flow records), and gift card adjustments (sold: positive; redeemed:
negative). Amounts are integer minor units, signed (refunds negative); the business date is the
day in STORE_TIMEZONE.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from service.canonical.money import minor_units
from service.store.api_tables import LedgerEntry


@dataclass
class Entry:
    source: str
    kind: str
    source_id: str
    order_ref: str
    number: str
    channel: str
    location: str
    tender: str
    amount: int
    currency: str
    business_date: str
    occurred_at: datetime
    tax: int = 0
    shipping: int = 0
    discount: int = 0
    transaction_id: str = ""
    last4: str = ""
    email: str = ""
    customer: str = ""
    id: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def parse_time(text: Any) -> datetime:
    raw = str(text or "").replace(" ", "T").replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return datetime.now(UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def business_date(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone or "UTC")).date().isoformat()


def _window(date_from: str, date_to: str, zone: str, pad_days: int) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone or "UTC")
    start = datetime.combine(date.fromisoformat(date_from) - timedelta(days=pad_days), datetime.min.time(), tz)
    end = datetime.combine(date.fromisoformat(date_to) + timedelta(days=pad_days + 1), datetime.min.time(), tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def magento_entries(magento: Any, start: datetime, end: datetime, zone: str) -> list[Entry]:
    fmt = "%Y-%m-%d %H:%M:%S"
    window = [("created_at", start.strftime(fmt), "gteq"), ("created_at", end.strftime(fmt), "lt")]
    out: list[Entry] = []
    numbers: dict[int, dict[str, Any]] = {}
    for order in magento.iter_orders(window):
        numbers[int(order["entity_id"])] = order
        if order.get("state") == "canceled":
            continue
        currency = str(order.get("order_currency_code") or "USD")
        payment = order.get("payment") or {}
        moment = parse_time(order.get("created_at"))
        out.append(Entry(
            source="magento", kind="sale", source_id=f"order:{order['entity_id']}",
            order_ref=f"magento:{order.get('store_code') or 'default'}:{order.get('increment_id')}",
            number=str(order.get("increment_id") or ""), channel="web", location="web",
            tender=str(payment.get("method") or ""), amount=minor_units(order.get("grand_total"), currency),
            currency=currency, business_date=business_date(moment, zone), occurred_at=moment,
            tax=minor_units(order.get("tax_amount"), currency), shipping=minor_units(order.get("shipping_amount"), currency),
            discount=abs(minor_units(order.get("discount_amount"), currency)),
            transaction_id=str(payment.get("last_trans_id") or ""), last4=str(payment.get("cc_last4") or "")[-4:],
            email=str(order.get("customer_email") or "").lower()))
    for memo in magento.iter_creditmemos(window):
        currency = str(memo.get("order_currency_code") or "USD")
        order = numbers.get(int(memo.get("order_id") or 0)) or {}
        moment = parse_time(memo.get("created_at"))
        out.append(Entry(
            source="magento", kind="refund", source_id=f"creditmemo:{memo['entity_id']}",
            order_ref=f"magento:{order.get('store_code') or 'default'}:{order.get('increment_id')}" if order else "",
            number=str(memo.get("increment_id") or ""), channel="web", location="web",
            tender=str((order.get("payment") or {}).get("method") or ""),
            amount=-minor_units(memo.get("grand_total"), currency), currency=currency,
            business_date=business_date(moment, zone), occurred_at=moment,
            tax=-minor_units(memo.get("tax_amount"), currency), shipping=-minor_units(memo.get("shipping_amount"), currency),
            email=str(order.get("customer_email") or "").lower()))
    return out


def heartland_entries(heartland: Any, start: datetime, end: datetime, zone: str, currency: str) -> list[Entry]:
    locations = {int(loc["id"]): str(loc.get("name") or loc["id"]) for loc in heartland.locations()}
    window = [{"created_at": {"$gte": start.isoformat()}}, {"created_at": {"$lt": end.isoformat()}}]
    out: list[Entry] = []
    for order in heartland.iterate("sales/orders", window, include=["payments"]):
        if order.get("status") in ("cancelled", "pending"):
            continue
        ref = str((order.get("custom") or {}).get("tillbridge_ref") or "")
        channel = "web" if ref.startswith("magento:") else (ref.split(":")[1] if ref.startswith("channel:") else "web")
        payments = [p for p in order.get("payments") or [] if p.get("status", "complete") != "failed"]
        moment = parse_time(order.get("created_at"))
        first = payments[0] if payments else {}
        custom = first.get("custom") or {}
        # What was paid is the money to reconcile: a web order's deposit carries Magento's tax, which
        # Heartland's order total (lines + shipping) does not show.
        total = minor_units(order.get("total"), currency)
        paid = sum(minor_units(p.get("amount"), currency) for p in payments)
        out.append(Entry(
            source="heartland", kind="sale", source_id=f"order:{order['id']}", order_ref=ref,
            number=str(order.get("public_id") or ""), channel=channel,
            location=locations.get(int(order.get("source_location_id") or 0), ""),
            tender=str(first.get("payment_type_name") or ""), amount=paid or total,
            currency=currency, business_date=business_date(moment, zone), occurred_at=moment,
            tax=max(minor_units(order.get("tax_total"), currency), paid - total),
            shipping=minor_units(order.get("shipping_charge"), currency),
            transaction_id=str(custom.get("transaction_id") or ""), last4=str(custom.get("card_last4") or ""),
            customer=f"heartland:{order['customer_id']}" if order.get("customer_id") else ""))
        for payment in payments:
            pc = payment.get("custom") or {}
            pmoment = parse_time(payment.get("completed_at") or payment.get("created_at"))
            out.append(Entry(
                source="heartland", kind="payment", source_id=f"order-payment:{payment['id']}", order_ref=ref,
                number=str(order.get("public_id") or ""), channel=channel,
                location=locations.get(int(order.get("source_location_id") or 0), ""),
                tender=str(payment.get("payment_type_name") or ""), amount=minor_units(payment.get("amount"), currency),
                currency=currency, business_date=business_date(pmoment, zone), occurred_at=pmoment,
                transaction_id=str(pc.get("transaction_id") or ""), last4=str(pc.get("card_last4") or "")))
    for ticket in heartland.iterate("sales/tickets", window + [{"status": "complete"}], include=["payments"]):
        moment = parse_time(ticket.get("completed_at") or ticket.get("created_at"))
        payment = (ticket.get("payments") or [{}])[0]
        is_return = ticket.get("type") == "Return"
        out.append(Entry(
            source="heartland", kind="refund" if is_return else "sale", source_id=f"ticket:{ticket['id']}",
            order_ref=str((ticket.get("custom") or {}).get("tillbridge_ref") or ""),
            number=str(ticket.get("public_id") or ""), channel="store",
            location=locations.get(int(ticket.get("source_location_id") or 0), ""),
            tender=str(payment.get("payment_type_name") or ""), amount=minor_units(ticket.get("total"), currency),
            currency=currency, business_date=business_date(moment, zone), occurred_at=moment,
            tax=minor_units(ticket.get("tax_total"), currency), discount=abs(minor_units(ticket.get("total_discounts"), currency)),
            customer=f"heartland:{ticket['customer_id']}" if ticket.get("customer_id") else "",
            extra={"parent": ticket.get("parent_transaction_id")}))
    for adjustment in heartland.iterate("gift_card_adjustments", window):
        moment = parse_time(adjustment.get("created_at"))
        amount = minor_units(adjustment.get("amount"), currency)
        out.append(Entry(
            source="heartland", kind="giftcard_sold" if amount > 0 else "giftcard_redeemed",
            source_id=f"giftcard-adjustment:{adjustment['id']}", order_ref="", number=str(adjustment.get("gift_card_number") or "")[-4:],
            channel="store", location="", tender="Gift Card", amount=amount, currency=currency,
            business_date=business_date(moment, zone), occurred_at=moment))
    return out


def save(store: Any, entries: Iterable[Entry]) -> list[Entry]:
    """Upsert the entries (by source, kind and source id); each gets its row id."""
    saved = []
    with store.session() as s:
        for entry in entries:
            row = s.scalar(select(LedgerEntry).where(LedgerEntry.source == entry.source, LedgerEntry.kind == entry.kind,
                                                     LedgerEntry.source_id == entry.source_id))
            if row is None:
                row = LedgerEntry(source=entry.source, kind=entry.kind, source_id=entry.source_id)
                s.add(row)
            for name in ("order_ref", "number", "channel", "location", "tender", "amount", "tax", "shipping",
                         "discount", "currency", "business_date", "transaction_id", "last4", "email", "customer",
                         "occurred_at"):
                value = getattr(entry, name)
                limit = getattr(LedgerEntry.__table__.c[name].type, "length", None)
                setattr(row, name, value[:limit] if isinstance(value, str) and limit else value)
            s.flush()
            entry.id = row.id
            saved.append(entry)
    return saved


def collect(runtime: Any, date_from: str, date_to: str, pad_days: int) -> list[Entry]:
    zone = runtime.settings.STORE_TIMEZONE or "UTC"
    start, end = _window(date_from, date_to, zone, pad_days)
    currency = runtime.settings.STORE_CURRENCY or "USD"
    entries = magento_entries(runtime.magento, start, end, zone) + \
        heartland_entries(runtime.heartland, start, end, zone, currency)
    return save(runtime.store, entries)
