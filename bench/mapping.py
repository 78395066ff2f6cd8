"""Quality and speed of field-mapping suggestions.

Prints, on the evaluation set (real Magento 2 and Heartland field names, training/mapping_data/eval.json):
precision@1, MRR and recall@3 per schema pair and overall; coverage vs precision of the one-to-one
mapping at confidence thresholds; and the time per schema pair, including a 200 × 800 field pair.

    .venv/bin/python bench/mapping.py [--model models/mapping/combiner.joblib] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.ai.mapping.model import Combiner, load_combiner  # noqa: E402
from service.ai.mapping.schema import Field  # noqa: E402
from service.ai.mapping.suggester import suggest  # noqa: E402
from training.mapping import THRESHOLDS, PairReport, evaluate, load_eval, sandbox_pairs  # noqa: E402

_WORDS = ["order", "item", "sku", "price", "total", "tax", "shipping", "billing", "address", "street", "city",
          "region", "postcode", "country", "email", "phone", "first", "last", "name", "created", "updated",
          "status", "qty", "customer", "id", "number", "discount", "weight", "store", "location", "gift"]


def wide_schema(n: int, prefix: str, rng: random.Random) -> list[Field]:
    """A wide schema with realistic names, types, descriptions and ten sample values per field."""
    return [Field(f"{prefix}.{'_'.join(rng.sample(_WORDS, 3))}_{i}", rng.choice(["string", "number", "integer", None]),
                  " ".join(rng.sample(_WORDS, 5)),
                  tuple(rng.choice([f"{rng.randint(1, 10**6)}", f"{rng.uniform(1, 500):.2f}",
                                    f"user{rng.randint(1, 999)}@example.com", rng.choice(_WORDS).title()])
                        for _ in range(10)))
            for i in range(n)]


def timed(source: list[Field], target: list[Field], combiner: Combiner, repeat: int) -> tuple[float, float]:
    """Median wall and CPU seconds of one suggestion run (top 3 and the assignment)."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        suggest(source, target, top=3, combiner=combiner)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def print_quality(title: str, reports: list[PairReport], curve: list[dict[str, float]]) -> None:
    print(title)
    print(f"{'schema pair':<48} {'fields':>8} {'labelled':>8} {'P@1':>6} {'MRR':>6} {'R@3':>6}")
    for r in reports:
        print(f"{r.name:<48} {f'{r.sources}x{r.targets}':>8} {r.labelled:>8} {r.precision_at_1:>6.3f} "
              f"{r.mrr:>6.3f} {r.recall_at_3:>6.3f}")
    labelled = sum(r.labelled for r in reports)
    overall = {k: sum(getattr(r, k) * r.labelled for r in reports) / labelled
               for k in ("precision_at_1", "mrr", "recall_at_3")}
    print(f"{'all (micro-average)':<48} {'':>8} {labelled:>8} {overall['precision_at_1']:>6.3f} "
          f"{overall['mrr']:>6.3f} {overall['recall_at_3']:>6.3f}")
    print("One-to-one mapping vs confidence threshold (precision = right / proposed, "
          "coverage = labelled fields given their right target)")
    print(f"{'threshold':>9} {'proposed':>9} {'right':>6} {'precision':>10} {'coverage':>9}")
    for c in curve:
        print(f"{c['threshold']:>9.1f} {c['proposed']:>9.0f} {c['correct']:>6.0f} {c['precision']:>10.3f} "
              f"{c['coverage']:>9.3f}")
    misses = [(r.name, m) for r in reports for m in r.misses]
    if misses:
        print("Misses at rank 1 (source -> right target; suggested first):")
        for name, (source, right, got) in misses:
            print(f"  {name}: {source} -> {right}; got {got}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="combiner file (default models/mapping/combiner.joblib)")
    parser.add_argument("--repeat", type=int, default=3, help="timing runs per schema pair (median is shown)")
    args = parser.parse_args()

    combiner = Combiner.load(args.model) if args.model else load_combiner()
    pairs = load_eval()
    meta = combiner.meta
    print(f"combiner: {meta.get('model', '?')}, trained {meta.get('trained_at', '?')}, "
          f"default threshold {combiner.threshold:.2f}")
    reports, curve = evaluate(combiner, pairs, THRESHOLDS)
    print_quality("Evaluation set: real Magento 2 and Heartland field names (names, types, descriptions; "
                  "no samples)", reports, curve)
    sandbox_reports, sandbox_curve = evaluate(combiner, sandbox_pairs(), THRESHOLDS)
    print_quality("\nThe same labels on sample records: customers and products of one store as the "
                  "Heartland and Magento sandboxes serve them (values included)", sandbox_reports, sandbox_curve)

    print("\nTime per schema pair (median of "
          f"{args.repeat}; suggest = evidence + combiner + top 3 + assignment, one thread)")
    print(f"{'schema pair':<34} {'fields':>10} {'pairs':>8} {'wall s':>8} {'cpu s':>8}")
    for pair in pairs:
        wall, cpu = timed(pair.source, pair.target, combiner, args.repeat)
        print(f"{pair.name:<34} {f'{len(pair.source)}x{len(pair.target)}':>10} "
              f"{len(pair.source) * len(pair.target):>8} {wall:>8.3f} {cpu:>8.3f}")
    rng = random.Random(20)
    wide_source, wide_target = wide_schema(200, "source", rng), wide_schema(800, "target", rng)
    suggest(wide_source[:3], wide_target[:3], combiner=combiner)
    wall, cpu = timed(wide_source, wide_target, combiner, args.repeat)
    print(f"{'synthetic wide schemas':<34} {'200x800':>10} {200 * 800:>8} {wall:>8.3f} {cpu:>8.3f}")


if __name__ == "__main__":
    main()
