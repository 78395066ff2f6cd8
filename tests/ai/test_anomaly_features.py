"""Order features from Magento orders (as GET /V1/orders/{id} returns them) and their history."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import pytest

from service.ai.anomaly.features import (
    FEATURE_NAMES,
    InMemoryOrderHistory,
    address_key,
    card_fingerprint,
    order_features,
)

HOME = {"firstname": "Ana", "lastname": "Silva", "street": ["12 Oak St"], "city": "Austin", "region": "Texas",
        "postcode": "78701", "country_id": "US", "telephone": "+15550100"}


def magento_order(entity_id: int, *, email: str = "ana.silva@acme.com", created_at: str = "2026-09-01 14:05:00",
                  ship_to: dict[str, Any] | None = None, card: tuple[str, str] | None = ("VI", "4242"),
                  lines: list[tuple[float, float, float]] | None = None, guest: int = 0,
                  method: str = "braintree") -> dict[str, Any]:
    """A Magento order entity with the fields the REST API returns for it (trimmed to the ones used)."""
    lines = lines or [(2, 25.0, 0.0), (1, 150.0, 15.0)]
    items = [{"item_id": entity_id * 10 + i, "sku": f"SKU-{i}", "qty_ordered": qty, "price": price,
              "discount_amount": discount, "row_total": qty * price, "product_type": "simple"}
             for i, (qty, price, discount) in enumerate(lines)]
    subtotal = sum(qty * price for qty, price, _ in lines)
    discount = sum(d for _, _, d in lines)
    payment: dict[str, Any] = {"method": method, "cc_last4": None}
    if card:
        payment.update({"cc_type": card[0], "cc_last4": card[1], "cc_exp_month": "4", "cc_exp_year": "2029"})
    return {
        "entity_id": entity_id, "increment_id": f"{entity_id:09d}", "created_at": created_at,
        "customer_email": email, "customer_is_guest": guest, "subtotal": subtotal, "discount_amount": -discount,
        "shipping_amount": 10.0, "tax_amount": 0.0, "grand_total": subtotal - discount + 10.0, "items": items,
        "billing_address": dict(HOME, address_type="billing"), "payment": payment,
        "extension_attributes": {"shipping_assignments": [{"shipping": {
            "address": dict(ship_to or HOME, address_type="shipping"), "method": "flatrate_flatrate"}}]},
    }


def test_basket_features() -> None:
    order = magento_order(1)
    features = order_features(order, InMemoryOrderHistory())
    assert list(features) == list(FEATURE_NAMES)
    assert features["grand_total"] == 195.0
    assert features["item_count"] == 2
    assert features["total_qty"] == 3
    assert features["max_line_qty"] == 2
    assert features["avg_unit_price"] == pytest.approx(200.0 / 3)
    assert features["max_unit_price"] == 150.0
    assert features["discount_share"] == pytest.approx(15 / 200)
    assert features["shipping_share"] == pytest.approx(10 / 195)
    assert features["hour_of_day"] == 14
    assert features["pays_by_card"] == 1 and features["pays_offline"] == 0
    assert features["address_mismatch"] == 0 and features["country_mismatch"] == 0
    assert features["is_returning"] == 0 and features["orders_email_24h"] == 0
    assert features["cards_email_24h"] == 1 and features["addresses_email_24h"] == 1


def test_child_lines_of_configurable_products_count_once() -> None:
    order = magento_order(1, lines=[(1, 80.0, 0.0)])
    child = dict(order["items"][0], item_id=99, parent_item_id=order["items"][0]["item_id"], price=0.0)
    order["items"].append(child)
    features = order_features(order, InMemoryOrderHistory())
    assert features["item_count"] == 1 and features["total_qty"] == 1


def test_address_and_country_mismatch() -> None:
    abroad = dict(HOME, street=["5 Rue X"], city="Lagos", postcode="100001", country_id="NG")
    features = order_features(magento_order(1, ship_to=abroad), InMemoryOrderHistory())
    assert features["address_mismatch"] == 1 and features["country_mismatch"] == 1
    # Same address written differently is the same address.
    respelled = dict(HOME, street=["12  OAK st."], city="AUSTIN")
    assert address_key(respelled) == address_key(HOME)


def test_email_traits() -> None:
    free = order_features(magento_order(1, email="jon84512@gmail.com"), InMemoryOrderHistory())
    assert free["email_free_domain"] == 1 and free["email_disposable"] == 0
    assert free["email_digit_share"] == pytest.approx(5 / 8)
    throwaway = order_features(magento_order(1, email="x@mailinator.com"), InMemoryOrderHistory())
    assert throwaway["email_disposable"] == 1


def test_velocity_counts_only_earlier_orders_in_the_last_24_hours() -> None:
    drop = dict(HOME, street=["1 Depot Rd"], postcode="78702")
    history_orders = [
        magento_order(1, created_at="2026-08-30 10:00:00", card=("MC", "1111")),  # more than a day before
        magento_order(2, created_at="2026-09-01 02:00:00", card=("MC", "2222"), ship_to=drop),
        magento_order(3, created_at="2026-09-01 03:00:00", card=("AE", "3333"), ship_to=drop),
        magento_order(4, created_at="2026-09-01 20:00:00", card=("DI", "4444")),  # after the scored order
        magento_order(5, created_at="2026-09-01 05:00:00", email="other@acme.com", ship_to=drop),
    ]
    scored = magento_order(6, created_at="2026-09-01 14:05:00", card=("VI", "4242"), ship_to=drop)
    history = InMemoryOrderHistory(history_orders + [scored])  # the order itself is in the store already
    features = order_features(scored, history)
    assert features["orders_email_24h"] == 2
    assert features["cards_email_24h"] == 3  # 2222, 3333 and this order's card
    assert features["addresses_email_24h"] == 1
    assert features["orders_address_24h"] == 3  # orders 2, 3 and 5 went to the drop address
    assert features["is_returning"] == 1


def test_history_answers_do_not_depend_on_insertion_order() -> None:
    orders = [magento_order(i, created_at=f"2026-09-01 {h:02d}:00:00", card=("VI", f"{i:04d}"))
              for i, h in enumerate([9, 3, 7, 1, 5], start=1)]
    forward, backward = InMemoryOrderHistory(orders), InMemoryOrderHistory()
    for order in reversed(orders):
        backward.add(order)
    since, until = datetime(2026, 9, 1, 2), datetime(2026, 9, 1, 8)
    for history in (forward, backward):
        assert history.count_orders("ANA.SILVA@acme.com", since, until) == 3
        assert len(history.card_fingerprints("ana.silva@acme.com", since, until)) == 3


def test_card_fingerprint_never_holds_card_digits_in_clear() -> None:
    order = magento_order(1, card=("VI", "4242"))
    fingerprint = card_fingerprint(order["payment"])
    assert fingerprint and "4242" not in fingerprint
    assert card_fingerprint({"method": "checkmo", "cc_last4": None}) is None


def test_offline_payment_and_guest() -> None:
    order = magento_order(1, card=None, method="checkmo", guest=1)
    features = order_features(order, InMemoryOrderHistory())
    assert features["pays_offline"] == 1 and features["pays_by_card"] == 0 and features["is_guest"] == 1
    assert features["cards_email_24h"] == 0


def test_a_bad_created_at_says_what_is_expected() -> None:
    order = magento_order(1, created_at="yesterday")
    with pytest.raises(ValueError, match="YYYY-MM-DD HH:MM:SS"):
        order_features(order, InMemoryOrderHistory())


def test_features_do_not_mutate_the_order() -> None:
    order = magento_order(1)
    before = copy.deepcopy(order)
    order_features(order, InMemoryOrderHistory([order]))
    assert order == before


def test_orders_without_email_share_no_history() -> None:
    earlier = [magento_order(i, email="", created_at=f"2026-09-01 1{i}:00:00") for i in range(1, 4)]
    scored = magento_order(9, email="", created_at="2026-09-01 14:30:00")
    features = order_features(scored, InMemoryOrderHistory(earlier))
    assert features["orders_email_24h"] == 0 and features["is_returning"] == 0
    assert features["orders_address_24h"] == 3  # the address is still followed
