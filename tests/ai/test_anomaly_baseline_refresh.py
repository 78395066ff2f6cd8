"""An expired store baseline is refreshed beside the orders being checked: they get the previous
one (seconds old) at once instead of waiting for the window to be rescored."""

from __future__ import annotations

import time
from typing import Any

from service.flows.checks import fraud
from service.store.db import Store
from training.synthetic import generate_history


def test_an_expired_baseline_is_refreshed_without_holding_an_order(settings: dict[str, Any]) -> None:
    store = Store(settings["DATABASE_URL"])
    scorer = fraud.scorer_for_paths("models", "rules")
    orders = generate_history(scorer.rules.min_history + 60, seed=21, fraud_rate=0.0).orders
    history = fraud.StoreOrderHistory(store)
    first, later = orders[: scorer.rules.min_history + 20], orders[scorer.rules.min_history + 20:]
    for n, order in enumerate(first):
        fraud.record_order(store, f"orders:magento:default:{n}", order, scorer.score(order, history))
    kept = fraud.store_baseline(store, scorer, refresh_seconds=0)
    assert kept.window == len(first)
    for n, order in enumerate(later, start=len(first)):
        fraud.record_order(store, f"orders:magento:default:{n}", order, scorer.score(order, history))
    time.sleep(0.05)

    assert fraud.store_baseline(store, scorer, refresh_seconds=0.01) is kept  # expired: kept meanwhile
    deadline = time.monotonic() + 20
    current = kept
    while current is kept and time.monotonic() < deadline:
        time.sleep(0.05)
        current = fraud.store_baseline(store, scorer, refresh_seconds=3600)
    assert current is not kept, "the baseline was never refreshed"
    assert current.window == len(orders)
    store.dispose()


def test_an_order_read_at_once_has_the_features_of_one_read_question_by_question(settings: dict[str, Any]) -> None:
    from sqlalchemy import event

    from service.ai.anomaly.features import order_features

    store = Store(settings["DATABASE_URL"])
    orders = generate_history(400, seed=22).orders
    plain = fraud.StoreOrderHistory(store)
    for n, order in enumerate(orders[:300]):
        fraud.record_order(store, f"orders:magento:default:{n}", order, None)
    begun = [0]
    event.listen(store.engine, "begin", lambda *_: begun.__setitem__(0, begun[0] + 1))
    for order in orders[300:]:
        expected = order_features(order, plain)
        begun[0] = 0
        assert order_features(order, fraud.StoreOrderHistory(store, order)) == expected
        assert begun[0] <= 1  # one transaction for everything the order's features ask
    store.dispose()
