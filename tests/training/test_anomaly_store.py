"""Review decisions in the store become training labels: orders scored by the serving glue, some of
them reviewed, exported as a feature table that `tillbridge models train anomaly` learns from."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
from click.testing import CliRunner

from service.ai.anomaly.features import FEATURE_NAMES, InMemoryOrderHistory, order_features
from service.ai.anomaly.scorer import AnomalyModel, AnomalyRules
from service.flows.checks import fraud
from service.store import items, reviews
from service.store.db import Store
from training.anomaly import train_anomaly
from training.anomaly_store import LABEL_COLUMN, TIME_COLUMN, export_anomaly_command, export_training_table
from training.data import load_dataset
from training.synthetic import generate_history


def scored_store(settings: dict[str, Any], n_orders: int = 400) -> tuple[Store, int, list[str], list[str]]:
    """Score synthetic orders as the orders flow does; the risk team rejects some frauds and approves
    some of the highest-scoring honest orders. Returns the store, the order count and the rejected and
    approved keys."""
    store = Store(settings["DATABASE_URL"])
    history = generate_history(n_orders, seed=11, fraud_rate=0.05)
    scorer = fraud.scorer_for_paths("models", "rules")
    seen = fraud.StoreOrderHistory(store)
    scored: list[tuple[str, float, bool]] = []
    for n, order in enumerate(history.orders):
        key = f"orders:magento:default:{n + 1}"
        order = {**order, "entity_id": n + 1, "increment_id": f"{n + 1:09d}"}
        assessment = scorer.score(order, seen)
        fraud.record_order(store, key, order, assessment)
        scored.append((key, assessment.score, bool(history.is_fraud[n])))
    ranked = sorted(scored, key=lambda row: -row[1])  # the team reviews from the top score down
    rejected = [key for key, _, fraud in ranked if fraud][:8]
    approved = [key for key, _, fraud in ranked if not fraud][:8]
    for key in rejected + approved:
        with store.session() as s:
            item = items.create(s, flow="orders", entity_key=key, payload={}, state="review")
        review, _ = reviews.open_review(store, item_id=item.id, order_key=key, entity_id=key.rsplit(":", 1)[1],
                                        score=0.99, threshold=0.9)
        reviews.decide(store, review.id, "reject" if key in rejected else "approve", actor="risk-ann")
    return store, len(history.orders), rejected, approved


def test_export_labels_decisions_and_keeps_unreviewed_orders(settings: dict[str, Any], tmp_path: Path) -> None:
    store, total, rejected, approved = scored_store(settings)
    assert len(rejected) == len(approved) == 8, "the synthetic history holds frauds and honest orders"
    summary = export_training_table(store, tmp_path / "orders.csv")
    assert (summary.rows, summary.fraud, summary.legitimate) == (total, len(rejected), len(approved))

    with (tmp_path / "orders.csv").open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    by_key = {row["order_key"]: row for row in rows}
    assert all(by_key[key][LABEL_COLUMN] == "fraud" for key in rejected)
    assert all(by_key[key][LABEL_COLUMN] == "legitimate" for key in approved)

    dataset = load_dataset(tmp_path / "orders.csv", label_column=LABEL_COLUMN, time_column=TIME_COLUMN)
    assert dataset.kind == "orders" and dataset.feature_names == list(FEATURE_NAMES)
    assert dataset.labels is not None
    assert int(np.nansum(dataset.labels)) == len(rejected)
    assert int((dataset.labels == 0).sum()) == len(approved) and int(np.isnan(dataset.labels).sum()) == total - len(rejected) - len(approved)

    assert all(set(fact.features) == set(FEATURE_NAMES) for fact in reviews.facts_between(store))

    # Retraining on the export gives a model the service can serve (it scores Magento orders).
    rules = AnomalyRules(min_labels=10, min_fraud_labels=4, n_estimators=20, review_trees=20)
    result = train_anomaly(dataset, rules)
    model: AnomalyModel = result.model
    assert model.input_kind == "orders" and model.review_model is not None
    order = generate_history(5, seed=3).orders[0]
    assert np.isfinite(model.score_vector(model.vector(order_features(order, InMemoryOrderHistory())))[0])
    store.dispose()


def test_export_command_prints_how_to_train(settings: dict[str, Any], tmp_path: Path) -> None:
    store, total, rejected, approved = scored_store(settings, n_orders=120)
    store.dispose()
    out = tmp_path / "export.csv"
    result = CliRunner().invoke(export_anomaly_command, ["--output", str(out)],
                                env={"DATABASE_URL": settings["DATABASE_URL"], "DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert f"wrote {total} orders to {out}: {len(rejected)} fraud, {len(approved)} legitimate" in result.output
    assert f"--label-column {LABEL_COLUMN} --time-column {TIME_COLUMN}" in result.output
