"""A deterministic order history for the seeded store, so searches and polling have data to page.

Orders are spread over the 120 days before 2026-06-01 (a fixed anchor, so the same seed always gives
the same history) and then moved through the state machine: most are invoiced and shipped
(complete), some are invoiced only (processing), some canceled, some refunded (closed), the rest
still pending. Seeding emits no events.
"""

from __future__ import annotations

import random
import zlib
from datetime import datetime, timedelta

from service.sandbox import seed as seed_data
from service.sandbox.magento import sales
from service.sandbox.magento.state import MagentoState

ANCHOR = datetime(2026, 6, 1, 0, 0, 0)
SPAN_DAYS = 120
PAYMENT_MIX = ["checkmo"] * 4 + ["braintree"] * 4 + ["paypal_express", "banktransfer", "cashondelivery"]


def seed_history(state: MagentoState, data: seed_data.SeedData, count: int, seed: str) -> None:
    rng = random.Random(zlib.crc32(f"{seed}:magento-orders".encode()))
    if not data.products or not data.customers:
        return
    moments = sorted(rng.uniform(0, SPAN_DAYS * 86400) for _ in range(count))
    for offset in moments:
        stamp = (ANCHOR - timedelta(seconds=SPAN_DAYS * 86400 - offset)).strftime("%Y-%m-%d %H:%M:%S")
        picks = rng.sample(data.products, rng.choice([1, 1, 1, 2, 2, 3]))
        items = [{"sku": p.sku, "qty": rng.choice([1, 1, 1, 2, 3])} for p in picks]
        customer = rng.choice(data.customers)
        guest = rng.random() < 0.2
        address = None
        if guest:
            address = {
                "firstname": customer.first_name, "lastname": customer.last_name,
                "street": [customer.address.street], "city": customer.address.city,
                "region_code": customer.address.region_code, "region_name": customer.address.region,
                "region_id": customer.address.region_id, "postcode": customer.address.postcode,
                "country_id": customer.address.country, "telephone": customer.address.phone,
            }
        order = sales.place_order(
            state,
            items=items,
            customer_email=customer.email,
            guest=guest,
            payment_method=rng.choice(PAYMENT_MIX),
            coupon_code="SAVE10" if rng.random() < 0.1 else None,
            address=address,
            created_at=stamp,
            rng=rng,
            check_stock=False,
        )
        order["updated_at"] = stamp
        fate = rng.random()
        if fate < 0.1:
            sales.cancel(state, order)
        elif fate < 0.13 and order["state"] == "new":
            sales.hold(state, order)
        else:
            sales.seed_lifecycle(state, order, fate, stamp)
        order["updated_at"] = stamp
        for history in order.get("status_histories", []):
            history["created_at"] = stamp
    sales.recount_reservations(state)

