"""What the anomaly check costs the orders flow per order: velocity features from the store
(StoreOrderHistory on SQLite), scoring with the promoted model, and recording the order's facts.

    .venv/bin/python bench/anomaly_service.py [--history 5000] [--orders 500]

Prints p50/p99 per part, in milliseconds. Runs on a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.ai.anomaly.features import order_facts  # noqa: E402
from service.flows.checks import fraud
from service.store import reviews  # noqa: E402
from service.store.db import Store  # noqa: E402
from training.synthetic import generate_history  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=5_000, help="orders already in the store")
    parser.add_argument("--orders", type=int, default=500, help="orders to time")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/bench.sqlite")
        store.upgrade()
        orders = generate_history(args.history + args.orders, seed=5).orders
        started = time.perf_counter()
        scorer = fraud.scorer_for_paths("models", "rules")
        load_ms = (time.perf_counter() - started) * 1000
        history = fraud.StoreOrderHistory(store)
        seeded = orders[: args.history]
        for n, order in enumerate(seeded):  # facts only: the velocity queries need rows to search
            facts = order_facts(order)
            reviews.record_fact(store, order_key=f"bench:{n}", entity_id=str(n), increment_id=str(n),
                                email=facts.email, address_key=facts.shipping_address, card=facts.card,
                                total=float(order.get("grand_total") or 0), currency="USD",
                                created_at=facts.created_at, features={}, score=None, model_version="")
        score_ms: list[float] = []
        record_ms: list[float] = []
        flagged = 0
        for n, order in enumerate(orders[args.history:], start=args.history):
            t0 = time.perf_counter()
            assessment = scorer.score(order, history)
            t1 = time.perf_counter()
            fraud.record_order(store, f"bench:{n}", order, assessment)
            t2 = time.perf_counter()
            score_ms.append((t1 - t0) * 1000)
            record_ms.append((t2 - t1) * 1000)
            flagged += assessment.flagged
        store.dispose()

    print(f"model {scorer.model.version}, loaded in {load_ms:.0f} ms (once per process)")
    print(f"{args.history} orders in the store, {args.orders} timed, {flagged} flagged")
    for name, values in (("features from the store + score", score_ms), ("record order facts", record_ms)):
        print(f"{name:<34} p50 {statistics.median(values):6.2f} ms   p99 {percentile(values, 0.99):6.2f} ms")


if __name__ == "__main__":
    main()
