"""A seeded synthetic order history, shaped like Magento orders, with labelled fraud.

Legitimate customers come back, order in the daytime, sometimes send gifts to another address and
sometimes buy something expensive. Fraud follows four patterns seen in practice:

- velocity bursts: a new email places several orders within hours, each with another card;
- mismatched addresses: billed in one country, shipped to a reshipper in another;
- high-value first orders: a new email buys several expensive items at once;
- card testing: many tiny orders within minutes, a new card each time, to one drop address;

and a share of quieter account takeovers (a known email, a new card and address, an ordinary
basket) that no feature can single out, so no model scores perfectly.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

PATTERNS = ("velocity_burst", "address_mismatch", "high_value_first_order", "card_testing", "account_takeover")
COMPANY_DOMAINS = ("acme.com", "northwind.io", "contoso.org", "fabrikam.net", "initech.com", "globex.co", "umbrella.biz")
FREE_DOMAINS = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com")
DISPOSABLE_DOMAINS = ("mailinator.com", "yopmail.com", "guerrillamail.com", "sharklasers.com")
FIRST = ("Ana", "Ben", "Chloe", "Dev", "Eva", "Finn", "Grace", "Hugo", "Ines", "Jon", "Kira", "Liam", "Maya", "Noah")
LAST = ("Smith", "Garcia", "Chen", "Patel", "Müller", "Rossi", "Kim", "Okafor", "Silva", "Novak", "Dubois", "Berg")
CITIES = {"US": [("Austin", "TX", "787"), ("Denver", "CO", "802"), ("Seattle", "WA", "981"), ("Boston", "MA", "021"),
                 ("Chicago", "IL", "606"), ("Miami", "FL", "331")],
          "CA": [("Toronto", "ON", "M5V"), ("Vancouver", "BC", "V6B")],
          "GB": [("London", "", "EC1"), ("Leeds", "", "LS1")]}
RESHIP_COUNTRIES = ("NG", "RU", "VN", "ID", "UA", "BR")
CARD_TYPES = ("VI", "MC", "AE", "DI")
SHIPPING = {"flatrate_flatrate": 5.0, "tablerate_bestway": 9.5, "freeshipping_freeshipping": 0.0}


@dataclass
class SyntheticHistory:
    orders: list[dict[str, Any]]  # Magento order entities, oldest first
    is_fraud: list[int]
    patterns: list[str]  # "legitimate" or one of PATTERNS

    def write_json(self, path: str | Path, *, review_labels: list[str] | None = None) -> Path:
        """Write the history as a searchCriteria-style {"items": [...]}, each order carrying its labels.

        ``is_fraud`` (ground truth) and ``fraud_pattern`` are evaluation columns; ``review_label`` holds
        the risk team's decision ("fraud", "legitimate" or "" when not reviewed) when given.
        """
        items = []
        for i, order in enumerate(self.orders):
            row = dict(order, is_fraud=self.is_fraud[i], fraud_pattern=self.patterns[i])
            if review_labels is not None:
                row["review_label"] = review_labels[i]
            items.append(row)
        path = Path(path)
        path.write_text(json.dumps({"items": items, "total_count": len(items)}), encoding="utf-8")
        return path


class _Catalogue:
    def __init__(self, rng: random.Random, size: int = 240) -> None:
        self.products: list[dict[str, Any]] = []
        for i in range(size):
            price = round(min(rng.lognormvariate(3.3, 0.8), 900.0), 2)
            self.products.append({"sku": f"SKU-{i:04d}", "name": f"Product {i}", "price": max(price, 2.0)})
        self.expensive = [p for p in self.products if p["price"] >= 250] or self.products[-5:]
        self.cheap = [p for p in self.products if p["price"] <= 8] or self.products[:5]


class _Generator:
    def __init__(self, seed: int, start: datetime, days: int) -> None:
        self.rng = random.Random(seed)
        self.start, self.days = start, days
        self.catalogue = _Catalogue(self.rng)
        self.next_id = 1
        self.next_email = 0
        self.orders: list[tuple[dict[str, Any], int, str]] = []

    # -- building blocks -------------------------------------------------------------------------
    def email(self, kind: str) -> str:
        r = self.rng
        first, last = r.choice(FIRST).lower(), r.choice(LAST).lower().replace("ü", "u")
        if kind == "fraud":
            local = (f"{r.choice(FIRST).lower()}{r.randint(1000, 999999)}" if r.random() < 0.5
                     else f"{first}.{last}.{r.choice('abcdefghijklmnopqrstuvwxyz')}{r.choice('xyzqw')}")
            domain = r.choice(DISPOSABLE_DOMAINS) if r.random() < 0.2 else r.choice(FREE_DOMAINS)
            return f"{local}@{domain}"
        self.next_email += 1
        tag, n = "", self.next_email
        while n:
            n, digit = divmod(n, 26)
            tag += "abcdefghijklmnopqrstuvwxyz"[digit]
        local = f"{first}.{last}.{tag}" if r.random() < 0.7 else f"{first}{tag}{r.randint(1, 99)}"
        domain = r.choice(FREE_DOMAINS) if r.random() < 0.6 else r.choice(COMPANY_DOMAINS)
        return f"{local}@{domain}"

    def address(self, country: str | None = None) -> dict[str, Any]:
        r = self.rng
        country = country or ("US" if r.random() < 0.8 else r.choice(["CA", "GB"]))
        city, region, post = r.choice(CITIES.get(country, [("Capital", "", "100")]))
        return {"firstname": r.choice(FIRST), "lastname": r.choice(LAST), "street": [f"{r.randint(1, 9999)} "
                f"{r.choice(['Oak', 'Main', 'Pine', 'Lake', 'Hill', 'Elm'])} {r.choice(['St', 'Ave', 'Rd'])}"],
                "city": city, "region": region, "postcode": f"{post}{r.randint(10, 99)}", "country_id": country,
                "telephone": f"+1555{r.randint(1000000, 9999999)}"}

    def card(self) -> dict[str, str]:
        r = self.rng
        return {"cc_type": r.choice(CARD_TYPES), "cc_last4": f"{r.randint(0, 9999):04d}",
                "cc_exp_month": str(r.randint(1, 12)), "cc_exp_year": str(2027 + r.randint(0, 4))}

    def legit_time(self) -> datetime:
        r = self.rng
        day = self.start + timedelta(days=r.randrange(self.days))
        hour = min(23, max(0, int(r.gauss(15, 4.5)))) if r.random() < 0.95 else r.randrange(24)
        return day + timedelta(hours=hour, minutes=r.randrange(60), seconds=r.randrange(60))

    def order(self, *, email: str, at: datetime, lines: list[tuple[dict[str, Any], int]], billing: dict[str, Any],
              shipping: dict[str, Any], payment: dict[str, Any], guest: bool, coupon: float = 0.0,
              shipping_method: str | None = None) -> dict[str, Any]:
        entity_id = self.next_id
        self.next_id += 1
        items, subtotal, discount = [], 0.0, 0.0
        for n, (product, qty) in enumerate(lines):
            row_total = round(product["price"] * qty, 2)
            line_discount = round(row_total * coupon, 2)
            subtotal += row_total
            discount += line_discount
            items.append({"item_id": entity_id * 100 + n, "order_id": entity_id, "sku": product["sku"],
                          "name": product["name"], "qty_ordered": qty, "price": product["price"],
                          "row_total": row_total, "discount_amount": line_discount, "product_type": "simple"})
        method = shipping_method or ("freeshipping_freeshipping" if subtotal >= 75 else
                                     self.rng.choice(["flatrate_flatrate", "tablerate_bestway"]))
        shipping_amount = SHIPPING[method]
        tax = round((subtotal - discount) * 0.08, 2)
        grand_total = round(subtotal - discount + shipping_amount + tax, 2)
        stamp = at.strftime("%Y-%m-%d %H:%M:%S")
        return {
            "entity_id": entity_id, "increment_id": f"{entity_id:09d}", "created_at": stamp, "updated_at": stamp,
            "state": "new", "status": "pending", "customer_email": email, "customer_is_guest": int(guest),
            "customer_firstname": billing["firstname"], "customer_lastname": billing["lastname"],
            "order_currency_code": "USD", "subtotal": round(subtotal, 2), "discount_amount": -round(discount, 2),
            "shipping_amount": shipping_amount, "tax_amount": tax, "grand_total": grand_total,
            "total_item_count": len(items), "total_qty_ordered": float(sum(q for _, q in lines)), "items": items,
            "billing_address": dict(billing, address_type="billing", email=email),
            "payment": dict(payment, amount_ordered=grand_total),
            "extension_attributes": {"shipping_assignments": [{"shipping": {
                "address": dict(shipping, address_type="shipping", email=email), "method": method}}]},
        }

    def payment(self, card: dict[str, str] | None) -> dict[str, Any]:
        if card:
            return {"method": "braintree", **card}
        return {"method": self.rng.choice(["paypal_express", "paypal_express", "checkmo", "banktransfer",
                                           "cashondelivery", "purchaseorder"]), "cc_last4": None}

    def basket(self, *, expensive: bool = False, cheap: bool = False) -> list[tuple[dict[str, Any], int]]:
        r = self.rng
        if cheap:
            return [(r.choice(self.catalogue.cheap), 1)]
        if expensive:
            return [(r.choice(self.catalogue.expensive), r.randint(2, 5)) for _ in range(r.randint(1, 3))]
        n = min(6, 1 + int(r.expovariate(0.9)))
        return [(r.choice(self.catalogue.products), 1 if r.random() < 0.8 else r.randint(2, 4)) for _ in range(n)]

    def add(self, order: dict[str, Any], fraud: int, pattern: str) -> None:
        self.orders.append((order, fraud, pattern))

    # -- customers and fraudsters -----------------------------------------------------------------
    def legit_customer(self) -> dict[str, Any]:
        r = self.rng
        home = self.address()
        business = r.random() < 0.02  # resellers and offices: big baskets on account, often paid offline
        return {"email": self.email("legit"), "home": home, "cards": [self.card() for _ in range(r.randint(1, 3))],
                "uses_card": r.random() < (0.4 if business else 0.75), "guest": r.random() < 0.25,
                "orders": max(1, int(r.expovariate(0.45))), "business": business, "night_owl": r.random() < 0.05,
                "eager": r.random() < 0.08}

    def legit_orders(self, customer: dict[str, Any]) -> None:
        r = self.rng
        last_at: datetime | None = None
        for _ in range(customer["orders"]):
            shipping = customer["home"]
            if r.random() < 0.06:  # a gift to someone else
                shipping = self.address(customer["home"]["country_id"] if r.random() < 0.85 else None)
            card = r.choice(customer["cards"]) if customer["uses_card"] else None
            expensive = r.random() < (0.3 if customer["business"] else 0.015)
            at = self.legit_time()
            if customer["night_owl"]:
                at = at.replace(hour=r.choice([0, 1, 2, 3, 23]))
            if customer["eager"] and last_at is not None:  # back the same day for something forgotten
                at = last_at + timedelta(minutes=r.randint(10, 600))
            last_at = at
            order = self.order(email=customer["email"], at=at, lines=self.basket(expensive=expensive),
                               billing=customer["home"], shipping=shipping, payment=self.payment(card),
                               guest=customer["guest"], coupon=r.choice([0.10, 0.15]) if r.random() < 0.15 else 0.0)
            self.add(order, 0, "legitimate")

    def fraud_time(self) -> datetime:
        r = self.rng
        day = self.start + timedelta(days=r.randrange(self.days))
        hour = r.randrange(24) if r.random() < 0.5 else r.choice([0, 1, 2, 3, 4, 5, 23])
        return day + timedelta(hours=hour, minutes=r.randrange(60))

    def velocity_burst(self) -> None:
        r = self.rng
        email, at = self.email("fraud"), self.fraud_time()
        drops = [self.address() for _ in range(r.randint(1, 2))]
        billing = self.address()
        cards = [self.card() for _ in range(r.randint(2, 4))]
        for _ in range(r.randint(2, 5)):
            at += timedelta(minutes=r.randint(3, 90))
            order = self.order(email=email, at=at, lines=self.basket(), billing=billing, shipping=r.choice(drops),
                               payment=self.payment(r.choice(cards)), guest=r.random() < 0.7)
            self.add(order, 1, "velocity_burst")

    def address_mismatch(self) -> None:
        r = self.rng
        billing = self.address("US")
        shipping = self.address(r.choice(RESHIP_COUNTRIES)) if r.random() < 0.7 else self.address("US")
        order = self.order(email=self.email("fraud"), at=self.fraud_time(), lines=self.basket(expensive=r.random() < 0.6),
                           billing=billing, shipping=shipping, payment=self.payment(self.card()),
                           guest=r.random() < 0.8, shipping_method="tablerate_bestway")
        self.add(order, 1, "address_mismatch")

    def high_value_first_order(self) -> None:
        r = self.rng
        home = self.address()
        order = self.order(email=self.email("fraud"), at=self.fraud_time(), lines=self.basket(expensive=True),
                           billing=home, shipping=home if r.random() < 0.6 else self.address(home["country_id"]),
                           payment=self.payment(self.card()), guest=r.random() < 0.6)
        self.add(order, 1, "high_value_first_order")

    def card_testing(self) -> None:
        r = self.rng
        drop, at = self.address(), self.fraud_time()
        emails = [self.email("fraud") for _ in range(r.randint(1, 3))]
        for _ in range(r.randint(3, 8)):
            at += timedelta(minutes=r.randint(1, 6), seconds=r.randrange(60))
            order = self.order(email=r.choice(emails), at=at, lines=self.basket(cheap=True), billing=self.address(),
                               shipping=drop, payment=self.payment(self.card()), guest=True,
                               shipping_method="flatrate_flatrate")
            self.add(order, 1, "card_testing")

    def account_takeover(self, victim: dict[str, Any]) -> None:
        order = self.order(email=victim["email"], at=self.legit_time(), lines=self.basket(), billing=victim["home"],
                           shipping=self.address(victim["home"]["country_id"]), payment=self.payment(self.card()),
                           guest=victim["guest"])
        self.add(order, 1, "account_takeover")


def generate_history(n_orders: int = 20_000, *, seed: int = 7, fraud_rate: float = 0.015,
                     start: datetime = datetime(2026, 6, 1), days: int = 120) -> SyntheticHistory:
    """About ``n_orders`` orders over ``days`` days, ``fraud_rate`` of them fraudulent, oldest first."""
    gen = _Generator(seed, start, days)
    customers = []
    target_legit = int(n_orders * (1 - fraud_rate))
    legit = 0
    while legit < target_legit:
        customer = gen.legit_customer()
        customer["orders"] = min(customer["orders"], target_legit - legit)
        customers.append(customer)
        gen.legit_orders(customer)
        legit += customer["orders"]
    fraud_target = n_orders - legit
    schemes = [gen.velocity_burst, gen.address_mismatch, gen.high_value_first_order, gen.card_testing]
    fraud = 0
    while fraud < fraud_target:
        before = len(gen.orders)
        if gen.rng.random() < 0.15:
            gen.account_takeover(gen.rng.choice(customers))
        else:
            gen.rng.choices(schemes, weights=[0.2, 0.35, 0.35, 0.1])[0]()
        fraud += len(gen.orders) - before
    gen.orders.sort(key=lambda row: row[0]["created_at"])
    return SyntheticHistory(orders=[o for o, _, _ in gen.orders], is_fraud=[f for _, f, _ in gen.orders],
                            patterns=[p for _, _, p in gen.orders])


def simulate_reviews(scores: list[float] | Any, is_fraud: list[int], *, review_share: float = 0.02,
                     chargeback_rate: float = 0.3, seed: int = 7) -> list[str]:
    """The labels a risk team would have produced: decisions on the orders a model flagged, plus chargebacks.

    The ``review_share`` highest-scored orders were reviewed (their true label is known); a fraudulent
    order that slipped through comes back as a chargeback with probability ``chargeback_rate``.
    Unreviewed orders without a chargeback are unlabelled ("").
    """
    rng = random.Random(seed)
    n = len(is_fraud)
    reviewed = set(sorted(range(n), key=lambda i: -float(scores[i]))[:max(1, int(round(review_share * n)))])
    labels = []
    for i in range(n):
        if i in reviewed:
            labels.append("fraud" if is_fraud[i] else "legitimate")
        elif is_fraud[i] and rng.random() < chargeback_rate:
            labels.append("fraud")
        else:
            labels.append("")
    return labels


def synthetic_dataset(n_orders: int = 20_000, *, seed: int = 7, fraud_rate: float = 0.015, reviews: bool = True,
                      review_share: float = 0.02, chargeback_rate: float = 0.3) -> tuple[SyntheticHistory, Any,
                                                                                         list[str] | None]:
    """History, its feature :class:`training.data.Dataset` (truth = is_fraud) and, with ``reviews``, the
    review labels a risk team working from an Isolation Forest's flags would have produced."""
    import numpy as np
    from sklearn.ensemble import IsolationForest

    from training.data import dataset_from_orders, parse_label

    history = generate_history(n_orders, seed=seed, fraud_rate=fraud_rate)
    dataset = dataset_from_orders(history.orders, source=f"synthetic-{n_orders}-seed{seed}.json")
    dataset.truth = np.array(history.is_fraud, dtype=np.float64)
    labels = None
    if reviews:
        forest = IsolationForest(n_estimators=100, max_samples=min(256, len(dataset)), random_state=seed).fit(dataset.X)
        labels = simulate_reviews(-forest.score_samples(dataset.X), history.is_fraud, review_share=review_share,
                                  chargeback_rate=chargeback_rate, seed=seed)
        dataset.labels = np.array([parse_label(label, "synthetic review") for label in labels])
    return history, dataset, labels
