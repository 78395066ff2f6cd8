"""Duplicate-customer resolution: quality and speed on generated customers.

Two scenarios, both on seeded data from training/dedup_data.py (seeds the shipped model never saw):

1. *Known customers.* Index the primary record of ``--known`` people, then resolve ``--queries``
   incoming records one at a time: half are other records of known people (duplicates), half are
   new people (among them household members of known people). Prints precision, recall and F1 of
   ``match`` decisions, the review share, pair completeness of blocking (the true record is among the
   candidates), index build time and p50/p95/p99 single-record latency.
2. *Batch.* Deduplicate a ``--batch``-record CSV through the batch tool's code path (read, normalise,
   block, score, write) and print its time with pairwise precision, recall, F1 and completeness.

Default sizes finish in about a minute; ``--full`` runs 1,000,000 known customers and a
100,000-record batch (a few minutes, ~6 GB of memory with the memory backend).

    .venv/bin/python bench/dedup.py [--full] [--known N] [--batch N] [--backend memory|redis]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.ai.dedup.batch import candidate_pairs, dedupe, read_customers, write_pairs  # noqa: E402
from service.ai.dedup.index import CustomerIndex, MemoryIndex, RedisIndex  # noqa: E402
from service.ai.dedup.model import MatchModel  # noqa: E402
from service.ai.dedup.normalise import FIELDS, normalise  # noqa: E402
from service.ai.dedup.resolver import Resolver, load_rules  # noqa: E402
from training.dedup_data import generate  # noqa: E402


def rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def prf(tp: int, predicted: int, actual: int) -> tuple[float, float, float]:
    precision = tp / predicted if predicted else 1.0
    recall = tp / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def known_customers(known: int, queries: int, backend: str, seed: int, model: MatchModel) -> None:
    rules = load_rules()
    started = time.perf_counter()
    extra = max(queries, 1000)
    data = generate(known + extra, seed=seed)
    print(f"generated {len(data):,} records of {known + extra:,} people in {time.perf_counter() - started:.1f}s")
    index: CustomerIndex
    if backend == "redis":
        import redis

        from service.app.embedded import embedded_redis_url

        url = os.environ.get("REDIS_URL") or embedded_redis_url(tempfile.mkdtemp(prefix="tb-bench-redis-"))
        shared = RedisIndex(redis.Redis.from_url(url), rules.blocking, prefix="tb:bench:dedup:")
        shared.clear()
        index = shared
    else:
        index = MemoryIndex(rules.blocking)
    resolver = Resolver(index, model, rules)
    known_rows = np.flatnonzero(data.primary & (data.entity < known))
    started = time.perf_counter()
    resolver.add_many(data.records(known_rows))
    build = time.perf_counter() - started
    print(f"indexed {len(index):,} known customers ({backend}) in {build:.1f}s, {len(known_rows) / build:,.0f}/s; "
          f"peak RSS {rss_gb():.1f} GB")

    rng = np.random.default_rng(seed + 1)
    duplicates = np.flatnonzero(~data.primary & (data.entity < known))
    newcomers = np.flatnonzero(data.primary & (data.entity >= known))
    picks = np.concatenate([
        rng.choice(duplicates, size=min(queries // 2, len(duplicates)), replace=False),
        rng.choice(newcomers, size=min(queries - queries // 2, len(newcomers)), replace=False),
    ])
    rng.shuffle(picks)
    primary_of = {int(e): data.ids[int(r)] for r, e in zip(known_rows, data.entity[known_rows], strict=True)}
    latencies = []
    tp = fp = reviews = found = dup_count = households = household_matches = 0
    for r in picks:
        record = data.record(int(r))
        t0 = time.perf_counter()
        decision = resolver.resolve(record)
        latencies.append(time.perf_counter() - t0)
        truth = primary_of.get(int(data.entity[r]))
        if truth is not None:
            dup_count += 1
            candidates = {cid for cid, _ in index.candidates(normalise(record, rules.vocabulary))}
            found += truth in candidates
        else:
            head = int(data.household[r])  # the household's first member, known when indexed
            if head != int(data.entity[r]) and head in primary_of:
                households += 1
                household_matches += decision.kind == "match"
        if decision.kind == "match":
            tp += decision.candidate_id == truth
            fp += decision.candidate_id != truth
        reviews += decision.kind == "review"
    lat = np.array(latencies) * 1000
    precision, recall, f1 = prf(tp, tp + fp, dup_count)
    print(f"resolved {len(picks):,} records ({dup_count:,} duplicates of known customers, "
          f"{len(picks) - dup_count:,} new people of whom {households} household members of known ones)")
    print(f"  match precision {precision:.4f}  recall {recall:.4f}  F1 {f1:.4f}  review share {reviews / len(picks):.3f}  "
          f"household members matched {household_matches}")
    print(f"  pair completeness of blocking {found / max(dup_count, 1):.4f}")
    print(f"  latency p50 {np.percentile(lat, 50):.2f} ms  p95 {np.percentile(lat, 95):.2f} ms  "
          f"p99 {np.percentile(lat, 99):.2f} ms  (index of {len(index):,})")
    if isinstance(index, RedisIndex):
        index.clear()


def batch(records: int, seed: int, model: MatchModel) -> None:
    rules = load_rules()
    data = generate(int(records / 1.4), seed=seed)
    with tempfile.TemporaryDirectory(prefix="tb-bench-dedup-") as tmp:
        src, out = Path(tmp) / "customers.csv", Path(tmp) / "pairs.csv"
        data.write_csv(src)
        started = time.perf_counter()
        ids, rows = read_customers(src, {f: f for f in FIELDS}, "id")
        written = write_pairs(out, dedupe(rows, ids, rules, model))
        elapsed = time.perf_counter() - started
        import csv

        with open(out, newline="") as fh:
            result = [(r["left_id"], r["right_id"], r["decision"]) for r in csv.DictReader(fh)]
    index_of = {cid: i for i, cid in enumerate(data.ids)}
    truth = data.true_pairs()
    matched = {tuple(sorted((index_of[a], index_of[b]))) for a, b, d in result if d == "match"}
    tp = len(matched & truth)
    precision, recall, f1 = prf(tp, len(matched), len(truth))
    profiles = [normalise(data.record(i), rules.vocabulary) for i in range(len(data))]
    pairs = candidate_pairs(profiles, rules.blocking)
    completeness = len({(int(i), int(j)) for i, j in pairs} & truth) / max(len(truth), 1)
    household = sum(1 for i, j in matched if data.household[i] == data.household[j] and data.entity[i] != data.entity[j])
    print(f"batch of {len(data):,} records: {elapsed:.1f}s ({len(data) / elapsed:,.0f} records/s), "
          f"{len(pairs):,} candidate pairs, {written:,} pairs written")
    print(f"  match precision {precision:.4f}  recall {recall:.4f}  F1 {f1:.4f}  pair completeness {completeness:.4f}  "
          f"household pairs matched {household}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="1,000,000 known customers and a 100,000-record batch")
    parser.add_argument("--known", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--backend", choices=("memory", "redis"), default="memory")
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--skip-known", action="store_true")
    parser.add_argument("--skip-batch", action="store_true")
    args = parser.parse_args()
    if args.full:
        args.known, args.batch = 1_000_000, 100_000
    model = MatchModel.load()
    print(f"model {model.version}; thresholds {load_rules().thresholds}")
    if not args.skip_known:
        known_customers(args.known, args.queries, args.backend, args.seed, model)
    if not args.skip_batch:
        batch(args.batch, args.seed + 7, model)
    print(f"peak RSS {rss_gb():.1f} GB")


if __name__ == "__main__":
    main()
