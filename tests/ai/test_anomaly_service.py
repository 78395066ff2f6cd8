"""The store-backed order history answers as the in-memory one does, so serving computes the same
velocity features training did; order facts are recorded once per order; the scorer is shared."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from service.ai.anomaly.features import InMemoryOrderHistory, order_features
from service.flows.checks import fraud
from service.store.db import Store
from service.store.tables import OrderFact
from training.synthetic import generate_history


def test_store_history_gives_the_same_features_as_the_in_memory_history(settings: dict[str, Any]) -> None:
    store = Store(settings["DATABASE_URL"])
    # Fraud bursts (many orders, cards and addresses per email within hours) exercise the velocity features.
    orders = generate_history(400, seed=21, fraud_rate=0.08).orders
    in_memory = InMemoryOrderHistory()
    from_store = fraud.StoreOrderHistory(store)
    velocity_seen = 0
    for n, order in enumerate(orders):
        expected = order_features(order, in_memory)
        assert order_features(order, from_store) == expected, f"order {n} differs"
        velocity_seen += expected["orders_email_24h"] > 0 or expected["orders_address_24h"] > 0
        in_memory.add(order)
        fraud.record_order(store, f"orders:magento:default:{n}", order, None)
    assert velocity_seen >= 10, "the history should hold repeat orders for the velocity features to count"
    store.dispose()


def test_recording_an_order_again_updates_its_one_row(settings: dict[str, Any]) -> None:
    store = Store(settings["DATABASE_URL"])
    order = generate_history(3, seed=2).orders[0]
    scorer = fraud.scorer_for_paths("models", "rules")
    fraud.record_order(store, "orders:magento:default:7", order, None)
    assessment = scorer.score(order, fraud.StoreOrderHistory(store))
    fraud.record_order(store, "orders:magento:default:7", order, assessment)
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(OrderFact)) == 1
        fact = s.scalars(select(OrderFact)).one()
    assert fact.score == assessment.score and fact.model_version == assessment.model_version
    assert fact.features == assessment.features
    # A card is kept only as a hash of type, last four and expiry, never as digits.
    has_card = bool((order.get("payment") or {}).get("cc_last4"))
    assert (len(fact.card) == 20 and int(fact.card, 16) >= 0) if has_card else fact.card == ""
    assert fraud.scorer_for_paths("models", "rules") is scorer  # loaded once per process
    store.dispose()
