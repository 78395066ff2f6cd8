"""Anomaly scoring: single-order latency and batch throughput against scikit-learn, and model quality.

    .venv/bin/python bench/anomaly.py [--orders 20000] [--seed 7]

Prints, on the seeded synthetic history (training.synthetic):
- latency of one order: our array-evaluated forest vs IsolationForest.score_samples on one row,
  and the whole path (features from the order and its history + score + explanation);
- batch throughput of both;
- quality on the latest 20% of orders (held out): AUC-ROC, AUC-PR, precision and recall at the
  review budget, for the Isolation Forest alone and with the review labels.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.ai.anomaly.features import InMemoryOrderHistory  # noqa: E402
from service.ai.anomaly.scorer import AnomalyRules, AnomalyScorer  # noqa: E402
from training.anomaly import evaluate, train_anomaly  # noqa: E402
from training.synthetic import synthetic_dataset  # noqa: E402


def percentiles(samples: list[float]) -> str:
    values = np.array(samples) * 1e6
    return f"p50 {np.percentile(values, 50):8.1f} µs   p99 {np.percentile(values, 99):8.1f} µs"


def timed(function, rows: np.ndarray, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for i in range(repeat):
        row = rows[i % len(rows)]
        start = time.perf_counter()
        function(row)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rules = AnomalyRules.load("rules")
    started = time.perf_counter()
    history, dataset, _ = synthetic_dataset(args.orders, seed=args.seed)
    print(f"synthetic history: {len(dataset)} orders, {int(dataset.truth.sum())} fraudulent, "
          f"{int((~np.isnan(dataset.labels)).sum())} with review labels "
          f"(generated and featurized in {time.perf_counter() - started:.1f} s)")
    labels = dataset.labels

    dataset.labels = None
    started = time.perf_counter()
    unsupervised = train_anomaly(dataset, rules)
    fit_forest = time.perf_counter() - started
    dataset.labels = labels
    started = time.perf_counter()
    supervised = train_anomaly(dataset, rules)
    fit_both = time.perf_counter() - started
    print(f"training: isolation forest {fit_forest:.1f} s; with the review model {fit_both:.1f} s")

    forest = unsupervised.isolation_forest
    fast = unsupervised.model.forest
    rows = unsupervised.test.X
    ours = np.array([fast.score(r) for r in rows])
    reference = -forest.score_samples(rows)
    print(f"\nmax |ours - sklearn| over {len(rows)} held-out rows: {np.max(np.abs(ours - reference)):.2e}")

    print("\nsingle-order latency (feature vector -> anomaly score)")
    timed(fast.score, rows, 500)
    print(f"  ours, array-evaluated forest       {percentiles(timed(fast.score, rows, 5000))}")
    sk_single = timed(lambda r: forest.score_samples(r.reshape(1, -1)), rows, 300)
    print(f"  IsolationForest.score_samples(1)   {percentiles(sk_single)}")
    model = supervised.model
    print(f"  ours, with review model blended    {percentiles(timed(model.score_vector, rows, 5000))}")

    scorer = AnomalyScorer(model)
    store = InMemoryOrderHistory(history.orders)
    test_orders = [history.orders[i] for i in np.argsort([o["created_at"] for o in history.orders])[-len(rows):]]
    full = []
    for i in range(3000):
        order = test_orders[i % len(test_orders)]
        start = time.perf_counter()
        scorer.score(order, store)
        full.append(time.perf_counter() - start)
    print(f"  whole path: order + history -> Assessment  {percentiles(full)}")

    print("\nbatch throughput")
    big = np.tile(rows, (max(1, 50_000 // len(rows)), 1))
    start = time.perf_counter()
    fast.score_batch(big)
    ours_rate = len(big) / (time.perf_counter() - start)
    start = time.perf_counter()
    forest.score_samples(big)
    sk_rate = len(big) / (time.perf_counter() - start)
    print(f"  ours     {ours_rate:12,.0f} rows/s")
    print(f"  sklearn  {sk_rate:12,.0f} rows/s   ({len(big)} rows)")

    print(f"\nquality on the latest {len(rows)} orders (held out), review budget {rules.review_budget:.2%}")
    truth = unsupervised.test.truth
    header = f"  {'':38} {'AUC-ROC':>8} {'AUC-PR':>8} {'prec@budget':>12} {'recall@budget':>14}"
    print(header)
    for name, scores in (("isolation forest alone", unsupervised.model.score_matrix(rows)),
                         ("with review labels", supervised.model.score_matrix(supervised.test.X))):
        m = evaluate(scores, truth, rules.review_budget)
        print(f"  {name:38} {m['auc_roc']:8.3f} {m['auc_pr']:8.3f} {m['precision_at_budget']:12.3f} "
              f"{m['recall_at_budget']:14.3f}")
    print(f"  (review model blend weight {supervised.model.review_weight:g}; "
          f"{supervised.card['data']['train_labelled_rows']} labelled training rows)")


if __name__ == "__main__":
    main()
