"""Anomaly scoring on labelled public data that ships with scikit-learn, ours beside the baselines.

The sets are the classic outlier-detection conversions (as in the ODDS collection) of data bundled in
scikit-learn's wheel, so nothing is downloaded: breast cancer (malignant tumours as the rare class)
and handwritten digits (the digit 0), the rare class cut down to `--rate` of rows. (Wine and iris
are too small to leave more than one rare row in a test split.)

Each repeat splits the rows at random (stratified) into train (60 %), tune (20 %) and test (20 %).
Only test rows are scored for the figures; the tune rows choose the tuned forest's settings; the
review labels are simulated on the train rows the way a risk team produces them: the `--reviewed`
share that a default Isolation Forest ranks highest gets its true label, and a rare-class row that
slipped through comes back labelled (a chargeback) with probability 0.3.

    python -m bench.anomaly_public                  # 5 repeats per set (seeds 0-4)
    python -m bench.anomaly_public --seed 100 --repeats 20

Seeds 0-4 (the default) are the development repeats: the model's design (the density view, the
review forest's settings, the review rank deciding) was chosen looking at them. Figures to quote
come from repeats the design never saw: ``--seed 100`` and up (other rare-class rows, other splits,
other simulated reviews; the same two data sets, which is the weakness: no other labelled anomaly
data ships inside a package here).

Rows: unsupervised (no labels) — default IF, tuned IF, ours (forest + per-feature density,
standardised); with review labels — gradient boosting on the labelled rows alone, ours (the review
forest's rank, the unsupervised rank breaking its ties). Figures: mean AUC-PR, AUC-ROC and precision
at a budget equal to the rare-class rate, over the repeats, and the fit+score time.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.ensemble import HistGradientBoostingClassifier, IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split

from service.ai.anomaly.scorer import AnomalyRules
from training.anomaly import train_anomaly
from training.data import Dataset
from training.synthetic import simulate_reviews

Matrix = NDArray[np.float64]


def public_sets(rate: float, seed: int) -> Iterator[tuple[str, Matrix, NDArray[np.int_]]]:
    """(name, X, y) with y = 1 for the rare class, kept at ``rate`` of rows."""
    rng = np.random.default_rng(seed)
    cancer = load_breast_cancer()
    digits = load_digits()
    for name, X, rare in (("breast cancer (sklearn)", cancer.data, cancer.target == 0),
                          ("digits (sklearn)", digits.data, digits.target == 0)):
        normal = np.flatnonzero(~rare)
        keep = max(3, int(round(rate * len(normal) / (1 - rate))))
        outliers = rng.choice(np.flatnonzero(rare), size=min(keep, int(rare.sum())), replace=False)
        rows = np.sort(np.concatenate([normal, outliers]))
        yield name, np.asarray(X[rows], dtype=np.float64), rare[rows].astype(int)


@dataclass
class Scores:
    auc_pr: list[float] = field(default_factory=list)
    auc_roc: list[float] = field(default_factory=list)
    precision: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def add(self, y: NDArray[np.int_], score: Matrix, seconds: float) -> None:
        k = max(1, int(y.sum()))
        top = np.argsort(-score, kind="stable")[:k]
        self.auc_pr.append(float(average_precision_score(y, score)))
        self.auc_roc.append(float(roc_auc_score(y, score)))
        self.precision.append(float(y[top].mean()))
        self.seconds.append(seconds)


def default_forest(X: Matrix, seed: int) -> Callable[[Matrix], Matrix]:
    forest = IsolationForest(random_state=seed, n_jobs=1).fit(X)
    return lambda Z: -forest.score_samples(Z)


def tuned_forest(X: Matrix, X_tune: Matrix, y_tune: NDArray[np.int_], seed: int) -> Callable[[Matrix], Matrix]:
    best, best_ap = None, -1.0
    for trees, samples, features in itertools.product((100, 300), (64, 128, 256), (0.5, 1.0)):
        forest = IsolationForest(n_estimators=trees, max_samples=min(samples, len(X)), max_features=features,
                                 random_state=seed, n_jobs=1).fit(X)
        ap = average_precision_score(y_tune, -forest.score_samples(X_tune)) if y_tune.any() else 0.0
        if ap > best_ap:
            best, best_ap = forest, ap
    assert best is not None
    chosen = best
    return lambda Z: -chosen.score_samples(Z)


def boosting_on_labels(X: Matrix, labels: Matrix, seed: int) -> Callable[[Matrix], Matrix]:
    known = ~np.isnan(labels)
    y = labels[known].astype(int)
    if y.min() == y.max():  # one class only: it can say nothing
        return lambda Z: np.zeros(len(Z))
    # Leaves sized for a few dozen labelled rows (the default 20 rows per leaf would not split at all).
    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, min_samples_leaf=max(2, len(y) // 20),
                                           random_state=seed).fit(X[known], y)
    return lambda Z: model.predict_proba(Z)[:, 1]


def ours(X: Matrix, labels: Matrix | None, seed: int) -> Callable[[Matrix], Matrix]:
    rules = AnomalyRules(review_budget=0.05, min_labels=10, min_fraud_labels=3, test_share=0.0, seed=seed)
    dataset = Dataset(X=X, feature_names=[f"x{j}" for j in range(X.shape[1])], kind="table",
                      source="public", sha256="", labels=labels)
    model = train_anomaly(dataset, rules, version="bench").model
    return model.score_matrix


METHODS = ("IF default", "IF tuned (on tune split)", "ours, no labels", "GBM on review labels", "ours, review labels")


def run(rate: float, repeats: int, reviewed: float, seed: int = 0) -> dict[str, dict[str, Scores]]:
    results: dict[str, dict[str, Scores]] = {}
    for repeat in range(seed, seed + repeats):
        for name, X, y in public_sets(rate, seed=repeat):
            X_train, X_rest, y_train, y_rest = train_test_split(X, y, test_size=0.4, stratify=y, random_state=repeat)
            X_tune, X_test, y_tune, y_test = train_test_split(X_rest, y_rest, test_size=0.5, stratify=y_rest,
                                                              random_state=repeat)
            first = IsolationForest(random_state=repeat, n_jobs=1).fit(X_train)
            labels = np.array([{"fraud": 1.0, "legitimate": 0.0}.get(v, np.nan) for v in simulate_reviews(
                -first.score_samples(X_train), list(y_train), review_share=reviewed, seed=repeat)])
            for method in METHODS:
                started = time.perf_counter()
                if method == "IF default":
                    scorer = default_forest(X_train, repeat)
                elif method == "IF tuned (on tune split)":
                    scorer = tuned_forest(X_train, X_tune, y_tune, repeat)
                elif method == "ours, no labels":
                    scorer = ours(X_train, None, repeat)
                elif method == "GBM on review labels":
                    scorer = boosting_on_labels(X_train, labels, repeat)
                else:
                    scorer = ours(X_train, labels, repeat)
                score = scorer(X_test)
                results.setdefault(name, {}).setdefault(method, Scores()).add(
                    y_test, score, time.perf_counter() - started)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=0.05, help="share of rare-class rows kept")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--reviewed", type=float, default=0.1, help="share of train rows the risk team reviewed")
    parser.add_argument("--seed", type=int, default=0,
                        help="first repeat's seed; 0-4 were used to design the model, quote 100 and up")
    args = parser.parse_args(argv)
    results = run(args.rate, args.repeats, args.reviewed, args.seed)
    print(f"repeats: seeds {args.seed}-{args.seed + args.repeats - 1}, rare class {args.rate:.0%} of rows, "
          f"{args.reviewed:.0%} of train rows reviewed")
    print(f"{'set':<24} {'method':<26} {'AUC-PR':>7} {'AUC-ROC':>8} {'P@rate':>7} {'secs':>6}")
    for name, methods in results.items():
        for method, s in methods.items():
            print(f"{name:<24} {method:<26} {np.mean(s.auc_pr):7.3f} {np.mean(s.auc_roc):8.3f} "
                  f"{np.mean(s.precision):7.3f} {np.mean(s.seconds):6.2f}")


if __name__ == "__main__":
    main()
