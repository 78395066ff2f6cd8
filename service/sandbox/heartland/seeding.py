"""Fill a fresh sandbox account from the shared seed (service/sandbox/seed.py), deterministically.

The same seed gives the same ids, numbers, UUIDs and timestamps every time. Items are the seed
products (``public_id`` = SKU), with on-hand stock per location as the seed says, so the Magento
sandbox, seeded alike, starts in step. History (POS tickets, a few returns, invoiced web orders, gift
cards) is back-dated and leaves the on-hand stock at the seed's figures, with nothing committed.
"""

from __future__ import annotations

import random
import uuid
import zlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

from service.sandbox.heartland import catalog, customers, giftcards, inventory, sales
from service.sandbox.heartland.history import generate_history
from service.sandbox.heartland.state import Record, State
from service.sandbox.seed import generate

EPOCH = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)  # "now" while seeding; history runs back 90 days from it
PAYMENT_TYPES = ("Cash", "Credit Card", "PayPal", "Check / Money order", "External", "Gift Card", "Store Credit")
ADJUSTMENT_REASONS = ("Shrinkage", "Damaged", "Recount", "Received", "Web sync", "Correction")
GIFT_CARD_REASONS = ("Issued", "Redeemed online", "Promotion", "Correction")
STATIONS_PER_LOCATION = {"DT": ("Register 1", "Register 2"), "NS": ("Register 1", "Register 2"), "WH": ("Web Station",)}
TAX_RATE = 0.0825


class SeedClock:
    def __init__(self) -> None:
        self.moment = EPOCH

    def __call__(self) -> datetime:
        return self.moment


def seed_state(state: State, seed: str | None, products: int = 500, customers: int = 200,
               history_weeks: int = 0, history_end: date | None = None) -> None:
    """``history_weeks`` > 0 adds that many weeks of daily sales per item and location (history.py),
    up to the day before ``history_end`` (default: today, UTC, so the history is recent whenever
    the sandbox starts; the same seed and end give the same history)."""
    rng = random.Random(zlib.crc32(f"heartland:{seed or ''}".encode()))
    clock = SeedClock()
    real_clock, real_uuid = state.clock, state.make_uuid
    state.clock = clock
    state.make_uuid = lambda: uuid.UUID(int=rng.getrandbits(128), version=4).hex
    try:
        data = generate(seed or "empty", products=products if seed else 0, customers=customers if seed else 0)
        _reference_data(state, data)
        if seed is None:
            return
        _catalog(state, data)
        _customers(state, data)
        _history(state, rng, clock)
        _gift_cards(state, rng, clock)
        _restore_seed_stock(state, data)
        if history_weeks > 0:
            _sales_history(state, seed, history_weeks, history_end or real_clock().date())
    finally:
        state.clock, state.make_uuid = real_clock, real_uuid


def _reference_data(state: State, data: Any) -> None:
    now = state.now()
    state.settings.update({
        "company_name": "Tillbridge Demo Outfitters",
        "pos.tickets.customer_required": False,
        "pos.tickets.sales_rep_required": False,
        "pos.tickets.reason_of_adjusting_price_required": False,
    })
    for location in data.locations:
        loc = state.locations.add({
            "public_id": location.code, "name": location.name, "active": True, "city": location.city,
            "state": location.region_code, "country": "US", "postal_code": None, "time_zone": "America/Chicago",
            "created_at": now, "updated_at": now,
        })
        for name in STATIONS_PER_LOCATION.get(location.code, ("Register 1",)):
            state.stations.add({"location_id": loc["id"], "name": name, "active": True, "uuid": state.new_uuid(),
                                "created_at": now, "updated_at": now})
    for name in PAYMENT_TYPES:
        state.payment_types.add({"name": name, "description": None, "active": True, "created_at": now,
                                 "updated_at": now})
    for name in ADJUSTMENT_REASONS:
        state.adjustment_reasons.add({"name": name, "description": None, "active": True, "created_at": now,
                                      "updated_at": now})
    for name in GIFT_CARD_REASONS:
        state.gift_card_reasons.add({"name": name, "description": None, "active": True, "created_at": now,
                                     "updated_at": now})
    for key, name, group in (("color", "Color", "item"), ("category", "Category", "item"),
                             ("loyalty_tier", "Loyalty tier", "customer")):
        state.custom_fields.add({"key": key, "name": name, "group_id": group, "required": False, "unique": False,
                                 "validation_type": "text", "metadata": {}, "active": True,
                                 "created_at": now, "updated_at": now})


def _catalog(state: State, data: Any) -> None:
    groups: dict[str, list[Any]] = {}
    for product in data.products:
        groups.setdefault(product.name.split(" - ")[0], []).append(product)
    grid_of: dict[str, int] = {}
    now = state.now()
    for number, (name, members) in enumerate(sorted(groups.items()), start=1):
        if len(members) < 2:
            continue
        grid = state.item_grids.add({
            "public_id": f"G-{number:04d}", "description": name, "item_price": members[0].price,
            "item_cost": members[0].cost, "item_primary_vendor_id": None,
            "item_custom": {"category": members[0].category}, "attribute_names": ["Color"],
            "created_at": now, "updated_at": now,
        })
        grid_of[name] = grid["id"]
    for product in data.products:
        body = {
            "public_id": product.sku, "description": product.name, "long_description": product.description,
            "price": product.price, "original_price": product.price, "cost": product.cost, "weight": product.weight,
            "custom": {"color": product.color, "category": product.category},
        }
        grid_id = grid_of.get(product.name.split(" - ")[0])
        if grid_id is not None:
            body["grid_id"] = grid_id
        catalog.create_item(state, body)


def _customers(state: State, data: Any) -> None:
    for person in data.customers:
        customer = customers.create_customer(state, {
            "first_name": person.first_name, "last_name": person.last_name, "email": person.email,
        })
        a = person.address
        customers.add_address(state, customer, {
            "first_name": person.first_name, "last_name": person.last_name, "line_1": a.street,
            "city": a.city, "state": a.region_code, "postal_code": a.postcode, "country": a.country,
            "phone": a.phone,
        })


def _history(state: State, rng: random.Random, clock: SeedClock) -> None:
    items = list(state.items.records.values())
    people = list(state.customers.records.values())
    stores = [loc for loc in state.locations.records.values() if loc["public_id"] in ("DT", "NS")]
    warehouse = state.locations.first_where("public_id", "WH")
    payment = {p["name"]: p["id"] for p in state.payment_types.records.values()}
    if not items or not stores or warehouse is None:
        return
    moments = sorted(EPOCH - timedelta(minutes=rng.randint(60, 90 * 24 * 60)) for _ in range(150))
    tickets: list[Record] = []
    for moment in moments[:120]:
        clock.moment = moment
        store = rng.choice(stores)
        station = state.stations.where("location_id", store["id"])[0]
        lines = [{"item_id": item["id"], "qty": rng.randint(1, 3)} for item in rng.sample(items, rng.randint(1, 4))]
        subtotal = sum(line["qty"] * state.items.records[line["item_id"]]["price"] for line in lines)
        tax = round(subtotal * TAX_RATE, 2)
        ticket = sales.create_ticket(state, {
            "station_id": station["id"], "customer_id": rng.choice(people)["id"] if rng.random() < 0.7 else None,
            "item_lines": lines, "tax_lines": [{"type": "TaxLine", "description": "Sales tax", "value": tax}],
            "payments": [{"type": "Payments::ExternalPayment", "amount": round(subtotal + tax, 2),
                          "payment_type_id": payment[rng.choice(("Cash", "Credit Card"))]}],
            "sales_rep": rng.choice(("alex", "sam", "jordan")), "affect_inventory": False, "status": "complete",
        })
        tickets.append(ticket)
    for original in rng.sample(tickets, 10):
        clock.moment = datetime.fromisoformat(original["completed_at"]) + timedelta(days=rng.randint(1, 14))
        line = next(x for x in state.ticket_lines.where("ticket_id", original["id"]) if x["type"] == "ItemLine")
        sales.create_ticket(state, {
            "type": "Return", "parent_transaction_id": original["id"], "station_id": original["station_id"],
            "customer_id": original["customer_id"], "affect_inventory": False, "status": "complete",
            "item_lines": [{"item_id": line["item_id"], "qty": -1, "unit_price": line["unit_price"]}],
            "payments": [{"type": "Payments::ExternalPayment", "amount": -line["unit_price"],
                          "payment_type_id": payment["Cash"]}],
        })
    web_station = state.stations.where("location_id", warehouse["id"])[0]
    for number, moment in enumerate(moments[120:], start=1):
        clock.moment = moment
        person = rng.choice(people)
        address = state.addresses.where("customer_id", person["id"])[0]
        order = sales.create_order(state, {
            "customer_id": person["id"], "station_id": web_station["id"], "source_location_id": warehouse["id"],
            "billing_address_id": address["id"], "shipping_address_id": address["id"],
            "shipping_charge": rng.choice((0, 5.99, 9.99)),
            "lines": [{"item_id": item["id"], "qty": rng.randint(1, 2)} for item in rng.sample(items, rng.randint(1, 3))],
        })
        total = sales.render_order(state, order)["total"]
        sales.add_payment(state, state.order_payments, "order_id", order, {
            "type": "ExternalPayment", "deposit": True, "amount": total,
            "payment_type_id": payment[rng.choice(("PayPal", "Credit Card"))], "description": "Web order deposit",
        }, True)
        if number > 27:
            continue  # the newest few stay pending, as orders still being keyed in
        sales.set_order_status(state, order, "open")
        clock.moment = moment + timedelta(hours=rng.randint(2, 48))
        sales.create_invoice(state, {"order_id": order["id"], "station_id": web_station["id"],
                                     "source_location_id": warehouse["id"], "status": "complete"})


def _gift_cards(state: State, rng: random.Random, clock: SeedClock) -> None:
    issued = state.gift_card_reasons.first_where("name", "Issued")
    redeemed = state.gift_card_reasons.first_where("name", "Redeemed online")
    people = list(state.customers.records.values())
    assert issued is not None and redeemed is not None
    for n in range(25):
        clock.moment = EPOCH - timedelta(days=rng.randint(5, 120))
        card = giftcards.create_gift_card(state, {
            "number": f"TBGC{rng.randint(10**9, 10**10 - 1)}",
            "customer_id": rng.choice(people)["id"] if people and n % 2 == 0 else None,
        })
        amount = float(rng.choice((25, 50, 75, 100, 150)))
        giftcards.create_adjustment(state, {"gift_card_id": card["id"], "amount": amount, "reason_id": issued["id"]})
        if rng.random() < 0.4:
            clock.moment += timedelta(days=rng.randint(1, 4))
            giftcards.create_adjustment(state, {"gift_card_id": card["id"], "amount": -round(amount * 0.4, 2),
                                                "reason_id": redeemed["id"]})


def _sales_history(state: State, seed: str, weeks: int, end: date) -> None:
    stock = {(row["item_id"], row["location_id"]): float(row["qty_on_hand"]) for row in state.inventory.records.values()}
    state.sales_history = generate_history(seed, weeks, end, list(state.items.records.values()),
                                           list(state.locations.records.values()), stock)


def _restore_seed_stock(state: State, data: Any) -> None:
    """Set on-hand to the seed's figures after the history moved it, as a recount would."""
    state.clock = lambda: EPOCH
    locations = sorted(state.locations.records)
    for product in data.products:
        item = state.items.first_where("public_id", product.sku)
        assert item is not None
        for location_id, qty in zip(locations, product.stock, strict=False):
            row = inventory.ensure_row(state, item["id"], location_id)
            delta = qty - row["qty_on_hand"]
            inventory.move(state, item["id"], location_id, on_hand=delta, reason="opening balance",
                           source_type="seed", source_id=None)
