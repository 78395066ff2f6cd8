"""The orders flow's check step with a full store: history lookup, anomaly score, duplicate lookup.

Seeds ``--history`` orders (100,000 by default) straight into the tables the check reads (their
facts in ``order_facts``, in bulk; their customers in the duplicate index in Redis), then times the
check for ``--orders`` new orders one by one, as the orders flow runs it
(service/flows/orders.py ``screen`` and ``customer_for``):

  history + score   StoreOrderHistory (velocity windows of the customer and the address), the
                    store's baseline (its last N scores, refreshed every few seconds), the
                    promoted anomaly model
  duplicate lookup  the customer's binding and a person's merge decision (one read), and the
                    resolver (the index's candidates in Redis, scored by the promoted dedup model)

and, after the timing of each order, records its facts as the flow does (so history grows). Prints
p50/p95/p99 for the check and its parts, in wall time and in this thread's CPU time: on a machine
shared with other work the wall times carry the waits for a core, the CPU times do not (they leave
out Redis's and PostgreSQL's own work, which the wall times include).

    .venv/bin/python bench/order_check.py [--history 100000] [--orders 2000]

Runs on DATABASE_URL (a database ``<name>_order_check`` beside it, created when missing, so a
shared test database is left alone) and REDIS_URL, else on a temporary SQLite file and an
embedded Redis.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sandboxes import own_database  # noqa: E402
from sqlalchemy import delete, insert, text  # noqa: E402

from service.ai.anomaly.features import order_facts  # noqa: E402
from service.ai.dedup.normalise import normalise  # noqa: E402
from service.app.embedded import embedded_redis_url, stop_embedded_redis  # noqa: E402
from service.flows.checks import duplicates, fraud  # noqa: E402
from service.store import customer_reviews  # noqa: E402
from service.store.db import Store, database_url  # noqa: E402
from service.store.tables import Binding, OrderFact  # noqa: E402
from training.synthetic import generate_history  # noqa: E402

SEED_CHUNK = 5_000


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))]


def magento_customer(order: Mapping[str, Any]) -> dict[str, str]:
    """The canonical customer of a raw Magento order (what the flow's normalize step gives the resolver)."""
    billing = order.get("billing_address") or {}
    street = billing.get("street") or []
    return {
        "first_name": str(order.get("customer_firstname") or billing.get("firstname") or ""), "middle_name": "",
        "last_name": str(order.get("customer_lastname") or billing.get("lastname") or ""),
        "email": str(order.get("customer_email") or ""), "phone": str(billing.get("telephone") or ""),
        "street": ", ".join(str(s) for s in street) if isinstance(street, list) else str(street),
        "city": str(billing.get("city") or ""), "region": str(billing.get("region_code") or ""),
        "postcode": str(billing.get("postcode") or ""), "country": str(billing.get("country_id") or ""),
        "dob": "", "magento_id": str(order.get("customer_id") or ""), "heartland_id": "", "source": "magento",
        "updated_at": str(order.get("created_at") or ""),
    }


def seed(store: Store, runtime: Any, orders: list[dict[str, Any]]) -> tuple[float, int]:
    """Every order's facts into order_facts, every distinct customer into the duplicate index (as
    Heartland customers) with a binding; (seconds taken, customers indexed)."""
    started = time.perf_counter()
    with store.engine.begin() as conn:
        conn.execute(delete(OrderFact).where(OrderFact.order_key.like("bench:%")))
        conn.execute(delete(Binding).where(Binding.key.like("bench:%")))
    rows = []
    for n, order in enumerate(orders):
        facts = order_facts(order)
        rows.append({"order_key": f"bench:{n}", "entity_id": str(n), "increment_id": str(100000000 + n),
                     "email": facts.email.lower(), "address_key": facts.shipping_address or "",
                     "card": facts.card or "", "total": float(order.get("grand_total") or 0), "currency": "USD",
                     "created_at": facts.created_at, "features": {}, "score": None, "model_version": "",
                     "recorded_at": facts.created_at})
    for start in range(0, len(rows), SEED_CHUNK):
        with store.engine.begin() as conn:
            conn.execute(insert(OrderFact), rows[start:start + SEED_CHUNK])
    dedup = duplicates.for_runtime(runtime)
    index = dedup.index
    index.clear()
    customers: dict[str, dict[str, str]] = {}
    for order in orders:
        customers.setdefault(str(order.get("customer_email") or "").lower(), magento_customer(order))
    vocabulary = dedup.rules.vocabulary
    profiles = [(duplicates.index_id(n + 1), normalise(c, vocabulary)) for n, c in enumerate(customers.values())]
    index.add_many(profiles)
    binding_rows = [{"entity": "customer", "key": f"bench:email:{email}", "system": "heartland",
                     "external_id": f"bench-{n + 1}", "external_ref": "", "source_version": "", "data": {}}
                    for n, email in enumerate(customers)]
    for start in range(0, len(binding_rows), SEED_CHUNK):
        with store.engine.begin() as conn:
            conn.execute(insert(Binding), binding_rows[start:start + SEED_CHUNK])
    # Statistics, as a store that grew to this size has them (autovacuum): without, PostgreSQL may
    # look a binding up through the (entity, system, external_id) index and scan every customer.
    with store.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - started, len(profiles)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history", type=int, default=100_000, help="orders already in the store")
    parser.add_argument("--orders", type=int, default=2_000, help="new orders to time")
    args = parser.parse_args()

    from service.app.factory import create_app

    workdir = tempfile.mkdtemp(prefix="tillbridge-order-check-")
    url = own_database(os.environ["DATABASE_URL"], "order_check") if os.environ.get("DATABASE_URL") else ""
    url = database_url(url, workdir)
    redis_url = os.environ.get("REDIS_URL") or embedded_redis_url(workdir)
    store = Store(url)
    store.upgrade()
    app = create_app({"DATABASE_URL": url, "REDIS_URL": redis_url, "DATA_DIR": workdir, "AUTO_MIGRATE": False})
    runtime = app.extensions["tillbridge"]
    try:
        print(f"generating {args.history + args.orders:,} synthetic Magento orders…", flush=True)
        orders = generate_history(args.history + args.orders, seed=5).orders
        seeded, fresh = orders[: args.history], orders[args.history:]
        seconds, indexed = seed(runtime.store, runtime, seeded)
        print(f"seeded {len(seeded):,} orders and {indexed:,} customers in {seconds:.1f} s", flush=True)

        scorer = fraud.scorer_for(runtime)
        dedup = duplicates.for_runtime(runtime)
        dedup.resolver  # noqa: B018 - the model loads once per process, before the timing
        fraud.store_baseline(runtime.store, scorer)
        cpu: dict[str, list[float]] = {"history": [], "dedup": [], "check": [], "resolve": [], "record": []}
        history_ms: list[float] = []
        dedup_ms: list[float] = []
        check_ms: list[float] = []
        record_ms: list[float] = []
        resolve_ms: list[float] = []
        flagged = matched = 0
        for n, order in enumerate(fresh, start=len(seeded)):
            key = f"magento:default:order:{n}"
            c0, t0 = time.thread_time(), time.perf_counter()
            history = fraud.StoreOrderHistory(runtime.store, order)  # one read for all it asks
            baseline = fraud.store_baseline(runtime.store, scorer)
            assessment = scorer.score(order, history, baseline)
            c1, t1 = time.thread_time(), time.perf_counter()
            customer = magento_customer(order)
            customer_key = f"bench:email:{customer['email'].lower()}"
            # As the flow does: the customer's binding (with a person's merge decision), and for a
            # customer without one, the resolver.
            binding, merged = customer_reviews.binding_and_merge(runtime.store, customer_key)
            if binding is None:
                c_resolve, t_resolve = time.thread_time(), time.perf_counter()
                link = duplicates.link_customer(runtime, customer, customer_key, f"order {n}", merged=merged)
                resolve_ms.append((time.perf_counter() - t_resolve) * 1000)
                cpu["resolve"].append((time.thread_time() - c_resolve) * 1000)
                matched += link.decision is not None and link.decision.kind == "match"
            c2, t2 = time.thread_time(), time.perf_counter()
            fraud.record_order(runtime.store, key, order, assessment)
            c3, t3 = time.thread_time(), time.perf_counter()
            for part, seconds in (("history", c1 - c0), ("dedup", c2 - c1), ("check", c2 - c0), ("record", c3 - c2)):
                cpu[part].append(seconds * 1000)
            history_ms.append((t1 - t0) * 1000)
            dedup_ms.append((t2 - t1) * 1000)
            check_ms.append((t2 - t0) * 1000)
            record_ms.append((t3 - t2) * 1000)
            flagged += assessment.flagged
        store_kind = "sqlite" if runtime.store.is_sqlite else "postgresql"
        print(f"\n{len(seeded):,} orders in the store ({store_kind}), {len(fresh):,} new orders checked, "
              f"{flagged} flagged, {len(resolve_ms)} new customers resolved ({matched} matched to a known one); "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"{'':<32} {'wall time':<48} cpu time (this thread)")
        for name, values, cpu_values in (
                ("check (history + score + dedup)", check_ms, cpu["check"]),
                ("  history + score", history_ms, cpu["history"]), ("  duplicate lookup", dedup_ms, cpu["dedup"]),
                ("  (resolver, new customers)", resolve_ms or [0.0], cpu["resolve"] or [0.0]),
                ("record the order's facts", record_ms, cpu["record"])):
            print(f"{name:<32} p50 {statistics.median(values):6.2f} ms  p95 {percentile(values, 95):6.2f} ms  "
                  f"p99 {percentile(values, 99):6.2f} ms  max {max(values):7.2f} ms  |  "
                  f"p50 {statistics.median(cpu_values):5.2f}  p95 {percentile(cpu_values, 95):5.2f}  "
                  f"p99 {percentile(cpu_values, 99):5.2f} ms")
    finally:
        runtime.store.dispose()
        store.dispose()
        if not os.environ.get("REDIS_URL"):
            stop_embedded_redis()


if __name__ == "__main__":
    main()
