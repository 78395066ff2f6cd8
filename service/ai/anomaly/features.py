"""Order features for the anomaly scorer: one Magento order plus the customer's recent history.

The same functions build the training table and score live orders, so a model never sees a
feature computed two different ways. Card data never enters a feature: a card is known only by a
fingerprint of its type, last four digits and expiry, hashed.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

VELOCITY_WINDOW = timedelta(hours=24)
MAGENTO_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

CARD_METHODS = frozenset({"braintree", "braintree_cc_vault", "authorizenet_acceptjs", "payflowpro", "stripe_payments",
                          "ccsave", "checkout_com", "adyen_cc", "cybersource"})
OFFLINE_METHODS = frozenset({"checkmo", "banktransfer", "cashondelivery", "purchaseorder"})
FREE_EMAIL_DOMAINS = frozenset({"gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "icloud.com",
                                "mail.com", "gmx.com", "live.com", "protonmail.com", "proton.me", "yandex.com"})
DISPOSABLE_EMAIL_DOMAINS = frozenset({"mailinator.com", "guerrillamail.com", "10minutemail.com", "tempmail.com",
                                      "temp-mail.org", "trashmail.com", "yopmail.com", "sharklasers.com",
                                      "getnada.com", "dispostable.com", "throwawaymail.com", "maildrop.cc"})


@dataclass(frozen=True)
class FeatureSpec:
    """How a feature reads to a risk analyst."""

    name: str
    label: str
    kind: str  # money | count | share | flag | hour | number
    when_true: str = ""  # flags: the phrase when the value is 1
    when_false: str = ""  # flags: the phrase when the value is 0

    @property
    def doc(self) -> str:
        """How the feature is computed, for model cards."""
        return FEATURE_DOCS[self.name]


FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec("grand_total", "grand total", "money"),
    FeatureSpec("item_count", "order lines", "count"),
    FeatureSpec("total_qty", "units ordered", "count"),
    FeatureSpec("max_line_qty", "largest quantity on one line", "count"),
    FeatureSpec("avg_unit_price", "average unit price", "money"),
    FeatureSpec("max_unit_price", "highest unit price", "money"),
    FeatureSpec("discount_share", "discount share of the subtotal", "share"),
    FeatureSpec("shipping_share", "shipping share of the grand total", "share"),
    FeatureSpec("address_mismatch", "billing vs shipping address", "flag",
                "billing and shipping addresses differ", "billing and shipping addresses are the same"),
    FeatureSpec("country_mismatch", "billing vs shipping country", "flag",
                "billing and shipping countries differ", "billing and shipping countries are the same"),
    FeatureSpec("is_guest", "guest checkout", "flag", "guest checkout", "checkout with a customer account"),
    FeatureSpec("is_returning", "returning customer", "flag",
                "returning customer", "first order from this email"),
    FeatureSpec("orders_email_24h", "earlier orders from this email in the last 24 hours", "count"),
    FeatureSpec("cards_email_24h", "distinct cards used by this email in the last 24 hours", "count"),
    FeatureSpec("addresses_email_24h", "distinct shipping addresses for this email in the last 24 hours", "count"),
    FeatureSpec("orders_address_24h", "earlier orders to this shipping address in the last 24 hours", "count"),
    FeatureSpec("hour_of_day", "hour the order was placed", "hour"),
    FeatureSpec("pays_by_card", "card payment", "flag", "paid by card", "paid without a card"),
    FeatureSpec("pays_offline", "offline payment", "flag",
                "paid offline (check, transfer, cash on delivery or purchase order)", "paid online"),
    FeatureSpec("email_free_domain", "free email provider", "flag",
                "email at a free provider", "email at a company or own domain"),
    FeatureSpec("email_disposable", "disposable email", "flag",
                "email at a disposable-address provider", "email at a permanent provider"),
    FeatureSpec("email_digit_share", "share of digits in the email name", "share"),
)
FEATURE_DOCS: dict[str, str] = {
    "grand_total": "order grand total (Magento grand_total), in the order currency",
    "item_count": "number of order lines, child lines of configurable and bundle products not counted",
    "total_qty": "sum of qty_ordered over the lines",
    "max_line_qty": "largest qty_ordered on a single line",
    "avg_unit_price": "quantity-weighted mean unit price (line price) of the lines",
    "max_unit_price": "highest unit price among the lines",
    "discount_share": "discount amount divided by subtotal (0 to 1)",
    "shipping_share": "shipping amount divided by grand total (0 to 1)",
    "address_mismatch": "1 if the billing address differs from the first shipping assignment's address (street, city, postcode, country, case and punctuation folded)",
    "country_mismatch": "1 if the billing and shipping countries differ",
    "is_guest": "1 for a guest checkout (customer_is_guest)",
    "is_returning": "1 if the same email placed an order at any time before this one",
    "orders_email_24h": "orders from the same email in the 24 hours before this one",
    "cards_email_24h": "distinct cards (type, last 4, expiry, hashed) used by the email in the last 24 hours, this order included",
    "addresses_email_24h": "distinct shipping addresses used by the email in the last 24 hours, this order included",
    "orders_address_24h": "orders from any email to the same shipping address in the 24 hours before this one",
    "hour_of_day": "hour of created_at (UTC, 0-23)",
    "pays_by_card": "1 if the payment method is a card gateway or the payment carries card details",
    "pays_offline": "1 for check / money order, bank transfer, cash on delivery or purchase order",
    "email_free_domain": "1 if the email domain is a free provider (gmail.com, yahoo.com, ...)",
    "email_disposable": "1 if the email domain is a known disposable-address provider",
    "email_digit_share": "share of digits among the characters before the @",
}
FEATURE_NAMES: tuple[str, ...] = tuple(spec.name for spec in FEATURES)
FEATURE_SPECS: dict[str, FeatureSpec] = {spec.name: spec for spec in FEATURES}


class OrderHistory(Protocol):
    """What the scorer needs to know about earlier orders; the store implements it in production.

    Every query covers orders placed at or after ``since`` and strictly before ``until``, so the
    order being scored never counts itself.
    """

    def count_orders(self, email: str, since: datetime, until: datetime) -> int: ...

    def card_fingerprints(self, email: str, since: datetime, until: datetime) -> set[str]: ...

    def address_keys(self, email: str, since: datetime, until: datetime) -> set[str]: ...

    def orders_to_address(self, address_key: str, since: datetime, until: datetime) -> int: ...

    def has_ordered_before(self, email: str, until: datetime) -> bool: ...


@dataclass(frozen=True)
class OrderFacts:
    """The parts of an order the history is keyed on."""

    email: str
    created_at: datetime
    card: str | None
    shipping_address: str | None


class InMemoryOrderHistory:
    """An :class:`OrderHistory` over a list of Magento orders, for training, tests and the demo."""

    def __init__(self, orders: Iterable[Mapping[str, Any]] = ()) -> None:
        self._by_email: dict[str, list[OrderFacts]] = defaultdict(list)
        self._times_by_email: dict[str, list[datetime]] = defaultdict(list)
        self._times_by_address: dict[str, list[datetime]] = defaultdict(list)
        for order in sorted(orders, key=order_time):
            self.add(order)

    def add(self, order: Mapping[str, Any]) -> None:
        """Record an order; orders may arrive out of time order."""
        facts = order_facts(order)
        at = bisect.bisect_right(self._times_by_email[facts.email], facts.created_at)
        self._times_by_email[facts.email].insert(at, facts.created_at)
        self._by_email[facts.email].insert(at, facts)
        if facts.shipping_address:
            bisect.insort(self._times_by_address[facts.shipping_address], facts.created_at)

    def _window(self, email: str, since: datetime, until: datetime) -> list[OrderFacts]:
        times = self._times_by_email.get(email.lower(), [])
        lo, hi = bisect.bisect_left(times, since), bisect.bisect_left(times, until)
        return self._by_email[email.lower()][lo:hi]

    def count_orders(self, email: str, since: datetime, until: datetime) -> int:
        return len(self._window(email, since, until))

    def card_fingerprints(self, email: str, since: datetime, until: datetime) -> set[str]:
        return {facts.card for facts in self._window(email, since, until) if facts.card}

    def address_keys(self, email: str, since: datetime, until: datetime) -> set[str]:
        return {facts.shipping_address for facts in self._window(email, since, until) if facts.shipping_address}

    def orders_to_address(self, address_key: str, since: datetime, until: datetime) -> int:
        times = self._times_by_address.get(address_key, [])
        return bisect.bisect_left(times, until) - bisect.bisect_left(times, since)

    def has_ordered_before(self, email: str, until: datetime) -> bool:
        times = self._times_by_email.get(email.lower(), [])
        return bool(times) and times[0] < until


def parse_magento_time(value: str) -> datetime:
    """Magento's ``created_at`` ("YYYY-MM-DD HH:MM:SS", UTC) as a naive UTC datetime."""
    try:
        return datetime.strptime(value[:19], MAGENTO_TIME_FORMAT)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"order created_at {value!r} is not 'YYYY-MM-DD HH:MM:SS': "
                         "pass the order as GET /V1/orders/{id} returns it") from exc


def order_time(order: Mapping[str, Any]) -> datetime:
    return parse_magento_time(str(order.get("created_at", "")))


def shipping_address(order: Mapping[str, Any]) -> Mapping[str, Any] | None:
    assignments = (order.get("extension_attributes") or {}).get("shipping_assignments") or []
    if assignments:
        address = (assignments[0].get("shipping") or {}).get("address")
        if address:
            return address
    return None


def address_key(address: Mapping[str, Any] | None) -> str | None:
    """A normalised key for an address: street, city, postcode and country, case and spacing folded."""
    if not address:
        return None
    street = address.get("street") or []
    if isinstance(street, str):
        street = [street]
    parts = [" ".join(street), address.get("city") or "", address.get("postcode") or "", address.get("country_id") or ""]
    text = "|".join(re.sub(r"[^a-z0-9]+", " ", str(part).lower()).strip() for part in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def card_fingerprint(payment: Mapping[str, Any] | None) -> str | None:
    """A hashed key for the card: type, last four digits and expiry (never the card number)."""
    if not payment or not payment.get("cc_last4"):
        return None
    text = "|".join(str(payment.get(key) or "") for key in ("cc_type", "cc_last4", "cc_exp_month", "cc_exp_year"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def order_facts(order: Mapping[str, Any]) -> OrderFacts:
    return OrderFacts(
        email=str(order.get("customer_email") or "").lower(),
        created_at=order_time(order),
        card=card_fingerprint(order.get("payment")),
        shipping_address=address_key(shipping_address(order)),
    )


def _num(value: Any) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


def _parent_lines(order: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    # Configurable and bundle products repeat as child lines; count each purchase once.
    return [item for item in order.get("items") or [] if not item.get("parent_item_id") and not item.get("parent_item")]


def order_features(order: Mapping[str, Any], history: OrderHistory) -> dict[str, float]:
    """The feature vector of one Magento order (as GET /V1/orders/{id} returns it), by name."""
    facts = order_facts(order)
    lines = _parent_lines(order)
    quantities = [_num(item.get("qty_ordered")) for item in lines]
    prices = [_num(item.get("price")) for item in lines]
    subtotal = _num(order.get("subtotal")) or sum(q * p for q, p in zip(quantities, prices, strict=True))
    discount = abs(_num(order.get("discount_amount"))) or sum(abs(_num(item.get("discount_amount"))) for item in lines)
    grand_total = _num(order.get("grand_total"))
    shipping = _num(order.get("shipping_amount"))
    total_qty = sum(quantities)

    billing = order.get("billing_address") or None
    ship_to = shipping_address(order)
    billing_key = address_key(billing)
    mismatch = bool(ship_to) and billing_key != facts.shipping_address
    country_mismatch = bool(billing and ship_to) and (billing or {}).get("country_id") != (ship_to or {}).get("country_id")

    method = str((order.get("payment") or {}).get("method") or "")
    local, _, domain = facts.email.partition("@")
    since = facts.created_at - VELOCITY_WINDOW
    # Without an email there is no customer to follow: no history rather than everyone's.
    customer = history if facts.email else _NO_HISTORY
    cards = customer.card_fingerprints(facts.email, since, facts.created_at)
    addresses = customer.address_keys(facts.email, since, facts.created_at)
    if facts.card:
        cards.add(facts.card)
    if facts.shipping_address:
        addresses.add(facts.shipping_address)

    return {
        "grand_total": grand_total,
        "item_count": float(len(lines)),
        "total_qty": total_qty,
        "max_line_qty": max(quantities, default=0.0),
        "avg_unit_price": (sum(q * p for q, p in zip(quantities, prices, strict=True)) / total_qty) if total_qty else 0.0,
        "max_unit_price": max(prices, default=0.0),
        "discount_share": min(discount / subtotal, 1.0) if subtotal > 0 else 0.0,
        "shipping_share": min(shipping / grand_total, 1.0) if grand_total > 0 else 0.0,
        "address_mismatch": float(mismatch),
        "country_mismatch": float(country_mismatch),
        "is_guest": float(bool(_num(order.get("customer_is_guest")))),
        "is_returning": float(customer.has_ordered_before(facts.email, facts.created_at)),
        "orders_email_24h": float(customer.count_orders(facts.email, since, facts.created_at)),
        "cards_email_24h": float(len(cards)),
        "addresses_email_24h": float(len(addresses)),
        "orders_address_24h": float(history.orders_to_address(facts.shipping_address, since, facts.created_at)
                                    if facts.shipping_address else 0),
        "hour_of_day": float(facts.created_at.hour),
        "pays_by_card": float(method in CARD_METHODS or bool(facts.card)),
        "pays_offline": float(method in OFFLINE_METHODS),
        "email_free_domain": float(domain in FREE_EMAIL_DOMAINS),
        "email_disposable": float(domain in DISPOSABLE_EMAIL_DOMAINS),
        "email_digit_share": (sum(ch.isdigit() for ch in local) / len(local)) if local else 0.0,
    }


_NO_HISTORY = InMemoryOrderHistory()
