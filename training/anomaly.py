"""Training the anomaly model: split by time, fit, learn from reviews, evaluate, write artifact and card.

    dataset = load_dataset("orders.json", label_column="review_label")
    result = train_anomaly(dataset, AnomalyRules.load("rules"))
    version = save_anomaly(result, "models", promote=False)

The Isolation Forest and a per-feature histogram density learn from every training row; their
scores, each standardised on the training rows, add up to the unsupervised score. When the risk
team's decisions give enough labels (rules/anomaly.yaml: min_labels, min_fraud_labels), a review
model (random forest) learns fraud from them, with the unlabelled rows as down-weighted "probably
legitimate" evidence (UNLABELLED_WEIGHT each): reviews only cover the few orders that were flagged,
so the unlabelled majority is what tells the model what ordinary orders look like, but some of it
is fraud nobody caught, so it must not outvote the labels. The review model takes the unsupervised
score as one of its inputs, so it learns itself how far to trust it; the final score is its rank,
with the unsupervised rank ordering the rows it cannot tell apart (most ordinary rows score 0).
The weight is not chosen on the training rows: the reviewed rows were picked by an unsupervised
score in the first place, so any in-sample comparison favours that score (on the seeded synthetic
history a weight chosen so put all of it on the unsupervised score: held-out AUC-PR 0.22, not 0.87). Orders stranger
than every training order are held whatever the blend says (service/ai/anomaly/scorer.py). The
held-out (latest) rows report precision before and after.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import IsolationForest, RandomForestClassifier
from sklearn.metrics import average_precision_score, roc_auc_score

from service.ai.anomaly.density import HistogramDensity
from service.ai.anomaly.features import FEATURE_SPECS
from service.ai.anomaly.forest import ForestClassifierScorer, IsolationForestScorer
from service.ai.anomaly.scorer import (
    FAMILY,
    QUANTILE_LEVELS,
    AnomalyModel,
    AnomalyRules,
    FeatureProfile,
    combine,
    standardisation,
)
from service.ai.registry import ModelVersion, Registry
from training.data import DataError, Dataset
from training.model_card import write_model_card

# Share of the final score from the review model's rank: the rest only breaks its ties.
REVIEW_WEIGHT = 0.999
ATTRIBUTION_SAMPLE = 400
UNLABELLED_PER_LABEL = 10
UNLABELLED_MIN = 2000
# An unreviewed row counts as a tenth of a reviewed legitimate one: evidence of the ordinary, not a verdict.
UNLABELLED_WEIGHT = 0.1


@dataclass
class TrainingResult:
    model: AnomalyModel
    card: dict[str, Any]
    isolation_forest: IsolationForest
    review_forest: RandomForestClassifier | None
    train: Dataset
    test: Dataset


def time_split(dataset: Dataset, test_share: float) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Oldest rows for training, the latest ``test_share`` held out (row order when there are no times)."""
    n = len(dataset)
    if dataset.times is not None:
        order = np.array(sorted(range(n), key=lambda i: dataset.times[i]), dtype=np.intp)  # type: ignore[index]
    else:
        order = np.arange(n, dtype=np.intp)
    n_test = int(round(n * test_share)) if n >= 50 else 0
    return order[: n - n_test], order[n - n_test:]


def evaluate(scores: NDArray[np.float64], labels: NDArray[np.float64] | None, budget: float) -> dict[str, Any]:
    """AUC-ROC, AUC-PR and precision/recall at the review budget; rows without a label are left out of
    the AUCs and of precision (the flagged share is still taken over all rows)."""
    n = scores.shape[0]
    k = max(1, int(math.ceil(budget * n)))
    flagged = np.argsort(-scores, kind="stable")[:k]
    out: dict[str, Any] = {"rows": n, "flagged": k}
    if labels is None:
        return out
    known = ~np.isnan(labels)
    y = labels[known]
    out["labelled"] = int(known.sum())
    out["positives"] = int(y.sum())
    if y.size and 0 < y.sum() < y.size:
        out["auc_roc"] = float(roc_auc_score(y, scores[known]))
        out["auc_pr"] = float(average_precision_score(y, scores[known]))
    flagged_known = labels[flagged][~np.isnan(labels[flagged])]
    out["precision_at_budget"] = float(flagged_known.mean()) if flagged_known.size else None
    out["recall_at_budget"] = float(flagged_known.sum() / y.sum()) if y.sum() else None
    return out


def _fit_forest(X: NDArray[np.float64], rules: AnomalyRules) -> IsolationForest:
    return IsolationForest(n_estimators=rules.n_estimators, max_samples=min(rules.max_samples, X.shape[0]),
                           random_state=rules.seed, n_jobs=1).fit(X)


def _review_rows(labels: NDArray[np.float64], seed: int) -> NDArray[np.intp]:
    """Every labelled row, and a sample of the unlabelled ones as "probably legitimate" evidence.

    Reviews cover only flagged orders; without the unlabelled rows the model would learn to tell
    fraud from flagged-but-legitimate orders only, and not from the ordinary orders it must also score.
    """
    known = np.flatnonzero(~np.isnan(labels))
    unlabelled = np.flatnonzero(np.isnan(labels))
    take = min(unlabelled.size, max(UNLABELLED_MIN, UNLABELLED_PER_LABEL * known.size))
    sample = np.random.default_rng(seed).choice(unlabelled, size=take, replace=False)
    return np.sort(np.concatenate([known, sample]))


def _fit_review_forest(X: NDArray[np.float64], raw: NDArray[np.float64], labels: NDArray[np.float64],
                       rules: AnomalyRules) -> tuple[RandomForestClassifier, NDArray[np.float64]]:
    """The review model, and an honest score for every training row: out-of-bag for the rows it was
    fitted on, a plain prediction for the unlabelled rows it never saw."""
    inputs = np.column_stack([X, raw])
    rows = _review_rows(labels, rules.seed)
    y = np.nan_to_num(labels[rows], nan=0.0).astype(int)
    weight = np.where(np.isnan(labels[rows]), UNLABELLED_WEIGHT, 1.0)
    # Leaves of one row: with a few dozen labels, a fraud pattern may be only a handful of rows.
    forest = RandomForestClassifier(n_estimators=rules.review_trees, max_depth=rules.review_depth, min_samples_leaf=1,
                                    max_features="sqrt", class_weight="balanced_subsample", oob_score=True,
                                    random_state=rules.seed, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a few rows in every bootstrap: handled below
        forest.fit(inputs[rows], y, sample_weight=weight)
    honest = ForestClassifierScorer.from_sklearn(forest).probability_batch(inputs)
    oob = forest.oob_decision_function_[:, 1]
    known = ~np.isnan(oob)
    honest[rows[known]] = oob[known]
    return forest, honest


def _rank(grid: NDArray[np.float64], values: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.interp(values, grid, QUANTILE_LEVELS, left=0.0, right=1.0)


def _label_counts(labels: NDArray[np.float64] | None) -> dict[str, int]:
    if labels is None:
        return {"labelled": 0, "fraud": 0, "legitimate": 0}
    known = ~np.isnan(labels)
    return {"labelled": int(known.sum()), "fraud": int((labels[known] == 1).sum()),
            "legitimate": int((labels[known] == 0).sum())}


def _version(dataset: Dataset) -> str:
    return f"{FAMILY}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{dataset.sha256[:8]}"


def train_anomaly(dataset: Dataset, rules: AnomalyRules, *, version: str | None = None) -> TrainingResult:
    """Fit and evaluate an anomaly model on ``dataset`` (see the module docstring)."""
    if len(dataset) < 20:
        raise DataError(f"{dataset.source} has {len(dataset)} rows; the anomaly model needs at least 20")
    train_idx, test_idx = time_split(dataset, rules.test_share)
    train, test = dataset.subset(train_idx), dataset.subset(test_idx)
    budget = rules.review_budget
    X = train.X

    forest = _fit_forest(X, rules)
    fast = IsolationForestScorer.from_sklearn(forest)
    density = HistogramDensity.fit(X, rules.density_bins)
    isolation, rarity = fast.score_batch(X), density.score_batch(X)
    standardise = standardisation(isolation, rarity)
    raw = combine(isolation, rarity, standardise)
    forest_grid = np.quantile(raw, QUANTILE_LEVELS)

    counts = _label_counts(train.labels)
    review_forest: RandomForestClassifier | None = None
    review_grid = None
    weight = 0.0
    final = raw
    learns_from_reviews = (train.labels is not None and counts["labelled"] >= rules.min_labels
                           and counts["fraud"] >= rules.min_fraud_labels)
    if learns_from_reviews:
        assert train.labels is not None
        review_forest, oob = _fit_review_forest(X, raw, train.labels, rules)
        review_grid = np.quantile(oob, QUANTILE_LEVELS)
        forest_rank, review_rank = _rank(forest_grid, raw), _rank(review_grid, oob)
        weight = REVIEW_WEIGHT
        final = (1 - weight) * forest_rank + weight * review_rank

    sample = X[np.linspace(0, X.shape[0] - 1, min(ATTRIBUTION_SAMPLE, X.shape[0])).astype(int)]
    baseline = np.mean([fast.attribution(x) for x in sample], axis=0)
    model = AnomalyModel(
        version=version or _version(dataset), feature_names=list(dataset.feature_names), input_kind=dataset.kind,
        forest=fast, forest_grid=forest_grid, score_grid=np.quantile(final, QUANTILE_LEVELS),
        profiles=[FeatureProfile.of(X[:, j]) for j in range(X.shape[1])], baseline_attribution=baseline,
        review_budget=budget,
        review_model=ForestClassifierScorer.from_sklearn(review_forest) if review_forest is not None else None,
        review_grid=review_grid, review_weight=weight, density=density, standardise=standardise,
        isolation_grid=np.quantile(isolation, QUANTILE_LEVELS),
    )

    eval_labels = test.truth if test.truth is not None else test.labels
    eval_name = "ground truth" if test.truth is not None else ("review labels" if test.labels is not None else None)
    metrics: dict[str, Any] = {}
    if len(test):
        metrics["held_out, isolation forest only"] = evaluate(model.forest.score_batch(test.X), eval_labels, budget)
        metrics["held_out, no labels (forest + density)"] = evaluate(model.unsupervised(test.X), eval_labels, budget)
        if model.review_model is not None:
            metrics["held_out, with review labels"] = evaluate(model.score_matrix(test.X), eval_labels, budget)
    card = _card(model, dataset, train, test, rules, counts, metrics, eval_name)
    model.card = card
    return TrainingResult(model, card, forest, review_forest, train, test)


def _card(model: AnomalyModel, dataset: Dataset, train: Dataset, test: Dataset, rules: AnomalyRules,
          counts: dict[str, int], metrics: dict[str, Any], eval_name: str | None) -> dict[str, Any]:
    if dataset.kind == "orders":
        features = [{"name": n, "description": FEATURE_SPECS[n].doc, "kind": FEATURE_SPECS[n].kind}
                    for n in model.feature_names]
    else:
        features = [{"name": n, "description": f"column {n} of {Path(dataset.source).name}", "kind": "number"}
                    for n in model.feature_names]
    before = metrics.get("held_out, no labels (forest + density)", {}).get("precision_at_budget")
    after = metrics.get("held_out, with review labels", {}).get("precision_at_budget")
    summary = (f"Isolation Forest ({rules.n_estimators} trees) and per-feature density ({rules.density_bins} bins) "
               f"on {len(train)} rows"
               + (f", joined by a review model trained on {counts['labelled']} review labels "
                  f"(blend weight {model.review_weight:g})" if model.review_model is not None else "")
               + f"; flags the top {rules.review_budget:.2%} of orders.")
    if before is not None and after is not None:
        summary += f" Precision at the review budget on held-out data: {before:.3f} before, {after:.3f} after."
    notes = [
        "Scores: higher = more anomalous. Without a review model the score is the unsupervised score: "
        "-IsolationForest.score_samples and the histogram density's -log bin shares, each standardised on the "
        "training rows, added; with one it is the rank blend (1 - w) * rank(unsupervised score) "
        "+ w * rank(review probability).",
        "The threshold follows rules/anomaly.yaml review_budget when the service loads the model.",
        f"Held-out rows are the latest {len(test)} rows by time" + (f", evaluated against {eval_name}." if eval_name
                                                                   else "; no labels to evaluate against."),
    ]
    if train.labels is not None and model.review_model is None:
        notes.append(f"Not enough review labels for a review model (have {counts['labelled']} labelled, "
                     f"{counts['fraud']} fraud; need {rules.min_labels} and {rules.min_fraud_labels}).")
    return {
        "family": FAMILY, "version": model.version, "created_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
        "summary": summary,
        "data": {"source": Path(dataset.source).name, "sha256": dataset.sha256, "kind": dataset.kind,
                 "rows": len(dataset), "train_rows": len(train), "held_out_rows": len(test),
                 "train_window": train.window(), "held_out_window": test.window(), "train_labelled_rows": counts["labelled"],
                 "train_fraud_labels": counts["fraud"], "train_legitimate_labels": counts["legitimate"]},
        "features": features,
        "threshold": {"review_budget": rules.review_budget, "score": model.threshold_for(rules.review_budget),
                      "rule": "rules/anomaly.yaml review_budget"},
        "metrics": metrics,
        "training": {"isolation_forest": {"n_estimators": rules.n_estimators, "max_samples": rules.max_samples,
                                          "seed": rules.seed},
                     "density": {"bins": rules.density_bins, "standardise": [float(v) for v in model.standardise]}
                     if model.standardise is not None else None,
                     "review_model": ({"n_estimators": rules.review_trees, "max_depth": rules.review_depth,
                                       "unlabelled_weight": UNLABELLED_WEIGHT,
                                       "blend_weight": model.review_weight}
                                      if model.review_model is not None else None)},
        "notes": notes,
    }


def save_anomaly(result: TrainingResult, out_dir: str | Path, *, promote: bool = False) -> ModelVersion:
    """Write ``<out>/anomaly/<version>/`` (model.joblib, card.json, card.md) and register it."""
    root = Path(out_dir)
    base, n = result.model.version, 1
    while (root / FAMILY / result.model.version).exists():  # trained twice within a second
        n += 1
        result.model.version = result.card["version"] = f"{base}-{n}"
    directory = root / FAMILY / result.model.version
    artifact = directory / "model.joblib"
    result.model.save(artifact)
    card_json, _ = write_model_card(directory, result.card)
    headline = {name: {k: v for k, v in values.items() if k in ("auc_roc", "auc_pr", "precision_at_budget")}
                for name, values in result.card["metrics"].items()}
    return Registry(root).add(FAMILY, result.model.version, artifact, card=card_json, metrics=headline,
                              promote=promote)


def compare_with_promoted(result: TrainingResult, registry: Registry) -> dict[str, Any] | None:
    """Held-out metrics of the promoted model next to the new one's, on the new model's held-out rows."""
    current = registry.promoted(FAMILY)
    if current is None or not len(result.test):
        return None
    promoted = AnomalyModel.load(registry.artifact_path(current))
    if promoted.feature_names != result.model.feature_names:
        return {"promoted": current.version, "comparable": False,
                "reason": "the promoted model uses other features"}
    test = result.test
    labels = test.truth if test.truth is not None else test.labels
    budget = result.model.review_budget
    return {"promoted": current.version, "comparable": True,
            "promoted_metrics": evaluate(promoted.score_matrix(test.X), labels, budget),
            "new_metrics": evaluate(result.model.score_matrix(test.X), labels, budget)}
