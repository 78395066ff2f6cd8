"""What the data-quality guard costs per record, and how well it tells errors from real changes.

    .venv/bin/python bench/quality.py [--history 100000] [--records 2000] [--skus 4000] [--seed 7]

1. Overhead: the products flow's ``quality`` step (QualityGuard.check: the SKU's history read, the
   checks, the swing count on a price change) and the confirm step's history upsert
   (QualityGuard.record), timed per record on a temporary SQLite store holding ``--history`` rows.
2. Detection: a labelled replay of price changes through the same checks (service/ai/quality) with
   an in-memory history. The data are SYNTHETIC (no public retail price-change data set with labelled
   errors ships in a package): SKUs in categories with their own volatility (steady lines, promotions,
   clearance items that halve and double), and injected errors of the kinds a person types or an import
   makes (×10, ×100, ÷10, ÷100, a digit dropped, a zero price, the cost typed as the price). Legitimate
   large moves (a 50 % markdown, a relaunch at ×2) are labelled legitimate. Printed: recall per error
   kind, the share of legitimate changes held, against a fixed ±50 % rule; then the same replay after
   people decided the first half's holds (released legitimate, rejected errors) and the thresholds
   were tuned from those labels.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import yaml
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.ai.quality import (  # noqa: E402
    appended,
    category_spreads,
    check_changes,
    check_values,
    load_policy,
    tuned_threshold,
    verdict,
)
from service.ai.quality.policy import QualityPolicy  # noqa: E402
from service.engine.steps import Run  # noqa: E402
from service.engine.trace import Trace  # noqa: E402
from service.flows.checks.quality import QualityGuard  # noqa: E402
from service.rules.loader import Rules  # noqa: E402
from service.settings import Settings, repo_path  # noqa: E402
from service.store import items  # noqa: E402
from service.store.db import Store  # noqa: E402
from service.store.quality_tables import QualityHistory  # noqa: E402
from service.store.tables import utcnow  # noqa: E402

CATEGORIES = {"Tees": 0.04, "Hoodies": 0.06, "Jackets": 0.08, "Caps": 0.05, "Bottles": 0.03, "Clearance": 0.35,
              "Shoes": 0.07, "Bags": 0.06}
FIELDS = ("price", "cost", "weight")
KEY = "products:heartland:item:"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def policy() -> QualityPolicy:
    return load_policy(yaml.safe_load(repo_path("rules/quality.yaml").read_text()))


# -- 1. overhead ---------------------------------------------------------------------------------------
@dataclass
class BenchContext:
    """The part of the runtime the guard reads: the store and the rules (no Redis, no connectors)."""

    store: Store
    rules: Rules
    settings: Settings


def seed_history(store: Store, rows: int, rng: random.Random) -> list[tuple[str, str, dict[str, float]]]:
    """``rows`` history rows (a third each of price, cost and weight); returns (key, category, values)."""
    skus = rows // len(FIELDS)
    names = list(CATEGORIES)
    made, batch = [], []
    now = utcnow() - timedelta(days=30)
    for n in range(skus):
        category = names[n % len(names)]
        spread = CATEGORIES[category]
        price = round(math.exp(rng.uniform(math.log(5), math.log(300))), 2)
        values = {"price": price, "cost": round(price * rng.uniform(0.3, 0.6), 2), "weight": round(rng.uniform(0.1, 3), 2)}
        key = f"{KEY}{n}"
        made.append((key, category, values))
        for field, value in values.items():
            changes = [round(rng.gauss(0, spread), 6) for _ in range(rng.randint(0, 20))]
            batch.append({"entity_key": key, "field": field, "sku": f"SKU-{n}", "category": category, "value": value,
                          "changes": changes, "low": value * 0.8, "high": value * 1.2, "writes": len(changes) + 1,
                          "first_seen": now, "updated_at": now})
        if len(batch) >= 6000:
            with store.session() as s:
                s.execute(insert(QualityHistory), batch)
            batch = []
    if batch:
        with store.session() as s:
            s.execute(insert(QualityHistory), batch)
    return made


def next_values(values: dict[str, float], category: str, rng: random.Random) -> dict[str, float]:
    """A record as the next Heartland change brings it: mostly as it was, some usual moves, a few errors."""
    after = dict(values)
    roll = rng.random()
    if roll < 0.35:
        after["price"] = round(values["price"] * math.exp(rng.gauss(0, CATEGORIES[category])), 2)
    elif roll < 0.40:
        after["price"] = round(values["price"] * rng.choice((100, 10, 0.01, 0.1)), 2)
    elif roll < 0.41:
        after["price"] = 0.0
    return after


def overhead(args: argparse.Namespace, rng: random.Random) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/bench.sqlite")
        store.upgrade()
        started = time.perf_counter()
        made = seed_history(store, args.history, rng)
        print(f"history: {args.history:,} rows ({len(made):,} SKUs x {len(FIELDS)} fields) seeded in "
              f"{time.perf_counter() - started:.1f} s (SQLite)")
        context = BenchContext(store, Rules(str(repo_path("rules"))), Settings())
        guard = QualityGuard(cast(Any, context), "products", KEY)
        started = time.perf_counter()
        guard.categories(guard.policy())
        print(f"category spreads recomputed (a sample of at most 20,000 rows): {(time.perf_counter() - started) * 1000:.0f} ms "
              f"(once per category_refresh_seconds per process)")
        sample = rng.sample(made, args.records)
        with store.session() as s:
            work = [items.create(s, flow="products", direction="heartland→magento", entity_key=key,
                                 label=f"bench {key}", payload={}) for key, _, _ in sample]
        checks, records, verdicts = [], [], {"pass": 0, "warn": 0, "fix": 0, "hold": 0}
        for item, (key, category, values) in zip(work, sample, strict=True):
            after = next_values(values, category, rng)
            run = Run(item, Trace())
            run.entry = {"message": "", "detail": {}}
            t0 = time.perf_counter()
            checked = guard.check(run, entity_key=key, sku=key, category=category, after=after, active=True)
            t1 = time.perf_counter()
            checks.append((t1 - t0) * 1000)
            if checked.outcome is None:
                guard.record(checked)
                records.append((time.perf_counter() - t1) * 1000)
                verdicts[verdict(checked.findings)] += 1
            else:
                verdicts["hold"] += 1
        print(f"per record over {args.records:,} records ({verdicts}):")
        print(f"  quality step (history read, checks, swing count): p50 {percentile(checks, 0.5):.2f} ms, "
              f"p99 {percentile(checks, 0.99):.2f} ms")
        print(f"  history upsert after the write:                   p50 {percentile(records, 0.5):.2f} ms, "
              f"p99 {percentile(records, 0.99):.2f} ms")
        store.dispose()


# -- 2. detection on a labelled replay ---------------------------------------------------------------------
ERRORS = {"x100": 100.0, "x10": 10.0, "/10": 0.1, "/100": 0.01}


@dataclass
class Event:
    sku: int
    category: str
    before: float
    after: float
    cost: float
    label: str  # "ok", "ok-large" (a real big move), or the error kind


def category_of(sku: int) -> str:
    names = list(CATEGORIES)
    return names[sku % len(names)]


def replay_stream(skus: int, changes: int, rng: random.Random) -> list[Event]:
    vols = [CATEGORIES[category_of(n)] * rng.uniform(0.5, 1.5) for n in range(skus)]
    prices = [round(math.exp(rng.uniform(math.log(5), math.log(300))), 2) for _ in range(skus)]
    costs = [round(p * rng.uniform(0.3, 0.6), 2) for p in prices]
    events = []
    for _ in range(changes):
        n = rng.randrange(skus)
        category, vol, price, cost = category_of(n), vols[n], prices[n], costs[n]
        roll = rng.random()
        label = "ok"
        if roll < 0.03:
            label = rng.choice(list(ERRORS))
            after = round(price * ERRORS[label], 2)
        elif roll < 0.035:
            label, after = "digit dropped", float(int(price / 10)) or 0.5
        elif roll < 0.04:
            label, after = "cost as price", cost
        elif roll < 0.045:
            label, after = "zero price", 0.0
        elif roll < 0.06:
            label, after = "ok-large", round(price * rng.choice((0.5, 2.0)), 2)
        else:
            after = round(price * math.exp(rng.gauss(0, vol)), 2)
        events.append(Event(n, category, price, after, cost, label))
        if label.startswith("ok"):
            prices[n] = after  # errors are not written: they are corrected at the source
    return events


def replay(events: list[Event], pol: QualityPolicy, thresholds: dict[str, float] | None,
           warmup: int) -> tuple[dict[str, list[int]], list[tuple[str, float]]]:
    """Per label [held, seen] after ``warmup`` events, and the (label, score) of every change hold."""
    history: dict[int, list[float]] = {}
    categories: dict[tuple[str, str], Any] = {}
    tally: dict[str, list[int]] = {}
    holds: list[tuple[str, float]] = []
    for n, event in enumerate(events):
        if n % 2000 == 0:  # as the guard's per-process cache: recomputed now and then
            categories = category_spreads((category_of(sku), "price", changes) for sku, changes in history.items())
        before, after = {"price": event.before}, {"price": event.after}
        found = check_values(pol, {"price": event.after, "cost": event.cost}, active=True)
        found += check_changes(pol, before, after, {"price": history.get(event.sku, [])},
                               {"price": categories[(event.category, "price")]}
                               if (event.category, "price") in categories else {}, thresholds, category=event.category)
        held = verdict(found) == "hold"
        if n >= warmup:
            pair = tally.setdefault(event.label, [0, 0])
            pair[0] += int(held)
            pair[1] += 1
            holds += [(event.label, f.score) for f in found if f.check == "change" and f.score is not None]
        if not held or event.label.startswith("ok"):
            # What went through (or a person released) is the next change's history.
            change = math.log(event.after / event.before) if event.before > 0 and event.after > 0 else None
            history[event.sku] = appended(history.get(event.sku, []), change)
    return tally, holds


def fixed_rule(events: list[Event], warmup: int) -> dict[str, list[int]]:
    tally: dict[str, list[int]] = {}
    for event in events[warmup:]:
        held = event.after <= 0 or abs(math.log(event.after / event.before)) > math.log(1.5)
        pair = tally.setdefault(event.label, [0, 0])
        pair[0] += int(held)
        pair[1] += 1
    return tally


def show(name: str, tally: dict[str, list[int]]) -> None:
    errors = {k: v for k, v in tally.items() if not k.startswith("ok")}
    caught = sum(v[0] for v in errors.values())
    total = sum(v[1] for v in errors.values())
    ok_held = sum(v[0] for k, v in tally.items() if k.startswith("ok"))
    ok_total = sum(v[1] for k, v in tally.items() if k.startswith("ok"))
    held = caught + ok_held
    print(f"  {name:34} recall {caught / total:6.1%} ({caught}/{total})  precision {caught / max(held, 1):6.1%}  "
          f"legitimate held {ok_held / ok_total:6.2%} ({ok_held}/{ok_total}); big real moves held "
          f"{tally.get('ok-large', [0, 1])[0]}/{tally.get('ok-large', [0, 1])[1]}")
    print("    per error kind: " + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(errors.items())))


def detection(args: argparse.Namespace, rng: random.Random) -> None:
    pol = policy()
    events = replay_stream(args.skus, args.changes, rng)
    warmup = len(events) // 5
    print(f"\ndetection on a labelled replay (SYNTHETIC data): {args.skus:,} SKUs in {len(CATEGORIES)} categories, "
          f"{len(events):,} price changes, the first {warmup:,} as history only")
    show("fixed rule (±50 %, zero price)", fixed_rule(events, warmup))
    tally, _ = replay(events, pol, None, warmup)
    show("quality guard (shipped thresholds)", tally)
    half = warmup + (len(events) - warmup) // 2
    _, holds = replay(events[:half], pol, None, warmup)
    released = [s for label, s in holds if label.startswith("ok")]
    rejected = [s for label, s in holds if not label.startswith("ok")]
    tuned = tuned_threshold(pol.changes["price"].threshold, released, rejected, pol.tuning)
    print(f"  people decided the first half's {len(holds)} change holds ({len(released)} released, {len(rejected)} "
          f"rejected): price threshold {pol.changes['price'].threshold:g} → {tuned:.2f}")
    later = events[:warmup] + events[half:]
    before_tally, _ = replay(later, pol, None, warmup)
    after_tally, _ = replay(later, pol, {"price": tuned}, warmup)
    show("second half, shipped threshold", before_tally)
    show("second half, tuned threshold", after_tally)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=100_000, help="history rows in the store")
    parser.add_argument("--records", type=int, default=2_000, help="records to time")
    parser.add_argument("--skus", type=int, default=4_000, help="SKUs of the detection replay")
    parser.add_argument("--changes", type=int, default=60_000, help="price changes of the detection replay")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-overhead", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    if not args.skip_overhead:
        overhead(args, rng)
    detection(args, rng)


if __name__ == "__main__":
    main()
