"""Anomaly (fraud) scoring of orders: the trained model, its explanations and the serving scorer.

A model is an Isolation Forest fitted on order history and a per-feature histogram density
(service/ai/anomaly/density.py), their scores standardised on the training rows and added, optionally
joined by a review model (a random forest on the risk team's decisions). The forests are evaluated
from their tree arrays (service/ai/anomaly/forest.py), so one order scores in microseconds. The threshold comes from the
review budget in rules/anomaly.yaml: flag the share of orders the risk team can look at.

    scorer = AnomalyScorer.load("models")          # the promoted model; reloads when it changes
    assessment = scorer.score(order, history)       # order as GET /V1/orders/{id} returns it
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from service.ai.anomaly.density import HistogramDensity
from service.ai.anomaly.features import FEATURE_SPECS, FeatureSpec, OrderHistory, order_features
from service.ai.anomaly.forest import ForestClassifierScorer, IsolationForestScorer
from service.ai.anomaly.threshold import DEFAULT_GUARDS, Guard, StoreBaseline, parse_guards
from service.ai.artifacts import load_artifact, save_artifact
from service.rules.loader import RuleError, Rules
from service.settings import repo_path

log = logging.getLogger(__name__)

FAMILY = "anomaly"
ARTIFACT_FORMAT = 1
RULES_FILE = "anomaly.yaml"
# Quantile levels kept from training: coarse in the body, fine in the upper tail where flags live.
QUANTILE_LEVELS = np.unique(np.concatenate([np.linspace(0.0, 0.95, 96), np.linspace(0.95, 1.0, 501)]))
MAX_DISCRETE_VALUES = 48


@dataclass(frozen=True)
class AnomalyRules:
    """rules/anomaly.yaml: how many orders the risk team reviews, and how training uses labels."""

    review_budget: float = 0.005
    max_reasons: int = 3
    min_labels: int = 40
    min_fraud_labels: int = 10
    n_estimators: int = 100
    max_samples: int = 256
    density_bins: int = 10
    review_trees: int = 100
    review_depth: int = 8
    test_share: float = 0.2
    seed: int = 7
    reload_check_seconds: float = 1.0
    # Store-relative threshold (service/ai/anomaly/threshold.py).
    window_orders: int = 2000
    min_history: int = 200
    floor_budget: float = 0.2
    baseline_refresh_seconds: float = 5.0
    guards: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_GUARDS))

    def guard_rules(self) -> tuple[Guard, ...]:
        return parse_guards(self.guards)

    @classmethod
    def load(cls, rules_dir: str | Path = "rules") -> AnomalyRules:
        data = Rules(str(rules_dir)).load(RULES_FILE) or {}
        if not isinstance(data, dict):
            raise RuleError(f"rules file {Path(rules_dir) / RULES_FILE} must be a mapping of settings")
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise RuleError(f"rules file {RULES_FILE}: unknown settings {sorted(unknown)}; known ones: {sorted(known)}")
        defaults = cls()
        values = {}
        for name, value in data.items():
            kind = type(getattr(defaults, name))
            try:
                values[name] = kind(value)
            except (TypeError, ValueError):
                raise RuleError(f"rules file {RULES_FILE}: {name} must be a {kind.__name__}, got {value!r}") from None
        rules = cls(**values)
        if not 0 < rules.review_budget < 1:
            raise RuleError(f"rules file {RULES_FILE}: review_budget is a share of orders between 0 and 1 "
                            f"(0.005 flags the top 0.5%), got {rules.review_budget}")
        if not rules.review_budget <= rules.floor_budget < 1:
            raise RuleError(f"rules file {RULES_FILE}: floor_budget (the share of training orders whose score "
                            f"is the lowest threshold) must be between review_budget and 1, got {rules.floor_budget}")
        if rules.window_orders < 1 or rules.min_history < 1:
            raise RuleError(f"rules file {RULES_FILE}: window_orders and min_history are counts of orders (1 or more)")
        rules.guard_rules()  # refuses bad guards at load, not at the first order
        return rules


@dataclass
class Assessment:
    """The verdict on one order."""

    score: float  # higher = more anomalous
    flagged: bool
    threshold: float
    explanation: list[str]
    features: dict[str, float]
    model_version: str
    basis: str = "trained threshold"  # how the threshold was set
    guards: list[str] = field(default_factory=list)  # absolute guards that hold the order on their own

    @property
    def held_by_guard(self) -> bool:
        return bool(self.guards)


@dataclass
class FeatureProfile:
    """Where a feature's values lay in the training data, to say how unusual a value is."""

    quantiles: NDArray[np.float64]  # values at QUANTILE_LEVELS
    values: NDArray[np.float64] | None = None  # distinct values, when there are few
    shares: NDArray[np.float64] | None = None  # share of rows with each of those values

    @classmethod
    def of(cls, column: NDArray[np.float64]) -> FeatureProfile:
        quantiles = np.quantile(column, QUANTILE_LEVELS)
        distinct, counts = np.unique(column, return_counts=True)
        if distinct.size <= MAX_DISCRETE_VALUES:
            return cls(quantiles, distinct, counts / counts.sum())
        return cls(quantiles)

    def shares_around(self, value: float) -> tuple[float, float, float]:
        """Shares of training rows below, equal to and above ``value``."""
        if self.values is not None and self.shares is not None:
            below = float(self.shares[self.values < value].sum())
            equal = float(self.shares[self.values == value].sum())
            above = 1.0 - below - equal
            return below, equal, above if above > 1e-9 else 0.0
        below = float(np.interp(value, self.quantiles, QUANTILE_LEVELS, left=0.0, right=1.0))
        return below, 0.0, 1.0 - below

    def to_dict(self) -> dict[str, Any]:
        return {"quantiles": self.quantiles, "values": self.values, "shares": self.shares}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureProfile:
        return cls(np.asarray(data["quantiles"]), data.get("values"), data.get("shares"))


def _quantile_grid(scores: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.quantile(scores, QUANTILE_LEVELS)


def _rank(grid: NDArray[np.float64], value: NDArray[np.float64] | float) -> NDArray[np.float64]:
    return np.interp(value, grid, QUANTILE_LEVELS, left=0.0, right=1.0)


@dataclass
class AnomalyModel:
    """A trained anomaly model: what training writes to models/ and serving loads."""

    version: str
    feature_names: list[str]
    input_kind: str  # "orders": Magento orders + history; "table": a numeric feature table
    forest: IsolationForestScorer
    forest_grid: NDArray[np.float64]  # training unsupervised scores at QUANTILE_LEVELS
    score_grid: NDArray[np.float64]  # final training scores at QUANTILE_LEVELS (sets the threshold)
    profiles: list[FeatureProfile]
    baseline_attribution: NDArray[np.float64]
    review_budget: float
    review_model: ForestClassifierScorer | None = None
    review_grid: NDArray[np.float64] | None = None
    review_weight: float = 0.0  # share of the final score that comes from the review model
    card: dict[str, Any] = field(default_factory=dict)
    # The density view, and the (mean, standard deviation) of the forest's and the density's training
    # scores. Without it (models trained before it) the unsupervised score is the forest's alone.
    density: HistogramDensity | None = None
    standardise: NDArray[np.float64] | None = None  # [forest mean, forest sd, density mean, density sd]
    # The forest's own training scores at QUANTILE_LEVELS: an order beyond all of them is held whatever the
    # blend says. (The density's alone would call every value outside the training range the strangest.)
    isolation_grid: NDArray[np.float64] | None = None

    def unsupervised(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        """The score without labels, for rows of X: the forest's and the density's scores, each as
        standard deviations above its training mean, added (the forest's score alone without a density)."""
        raw = self.forest.score_batch(X)
        if self.density is None or self.standardise is None:
            return raw
        return combine(raw, self.density.score_batch(X), self.standardise)

    def unsupervised_one(self, x: NDArray[np.float64], isolation: float | None = None) -> float:
        raw = self.forest.score(x) if isolation is None else isolation
        if self.density is None or self.standardise is None:
            return raw
        return float(combine(np.array([raw]), np.array([self.density.score(x)]), self.standardise)[0])

    def threshold_for(self, budget: float) -> float:
        """The score above which ``budget`` of the training orders lie."""
        return float(np.interp(1.0 - budget, QUANTILE_LEVELS, self.score_grid))

    def vector(self, features: Mapping[str, float]) -> NDArray[np.float64]:
        try:
            x = np.array([float(features[name]) for name in self.feature_names])
        except KeyError as exc:
            raise ValueError(f"feature {exc.args[0]!r} is missing; model {self.version} needs "
                             f"{', '.join(self.feature_names)}") from None
        if not np.isfinite(x).all():
            bad = [name for name, value in zip(self.feature_names, x, strict=True) if not np.isfinite(value)]
            raise ValueError(f"features {bad} are not finite numbers; fill them before scoring")
        return x

    def score_vector(self, x: NDArray[np.float64]) -> tuple[float, float | None]:
        """(final score, review-model probability or None) of one feature vector."""
        final, probability, _ = self.score_parts(x)
        return final, probability

    def score_parts(self, x: NDArray[np.float64]) -> tuple[float, float | None, float]:
        """(final score, review-model probability or None, the Isolation Forest's rank among training rows)."""
        isolation = self.forest.score(x)
        raw = self.unsupervised_one(x, isolation)
        isolation_grid = self.isolation_grid if self.isolation_grid is not None else self.forest_grid
        forest_rank = float(_rank(isolation_grid, isolation))
        if self.review_model is None or self.review_grid is None:
            return raw, None, forest_rank
        probability = self.review_model.probability(np.append(x, raw))
        final = (1.0 - self.review_weight) * float(_rank(self.forest_grid, raw)) \
            + self.review_weight * float(_rank(self.review_grid, probability))
        return final, probability, forest_rank

    def score_matrix(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        raw = self.unsupervised(X)
        if self.review_model is None or self.review_grid is None:
            return raw
        probability = self.review_model.probability_batch(np.column_stack([X, raw]))
        return (1.0 - self.review_weight) * _rank(self.forest_grid, raw) \
            + self.review_weight * _rank(self.review_grid, probability)

    def explain(self, x: NDArray[np.float64], review_probability: float | None = None,
                max_reasons: int = 3) -> list[str]:
        """Why this row scored high, in words: the features that isolated it, and how rare each value is."""
        excess = self.forest.attribution(x) - self.baseline_attribution
        noun = "orders" if self.input_kind == "orders" else "training rows"
        reasons: list[tuple[float, str]] = []
        for index in np.argsort(-excess):
            if excess[index] <= 0 or len(reasons) >= max_reasons:
                break
            name = self.feature_names[index]
            rarity, text = describe(name, float(x[index]), self.profiles[index], noun)
            if rarity <= 0.2:  # a common value did not make this row odd, however often it split
                reasons.append((rarity, text))
        if not reasons:
            index = int(np.argmax(excess))
            reasons.append(describe(self.feature_names[index], float(x[index]), self.profiles[index], noun))
        lines = [text for _, text in reasons]
        if review_probability is not None and review_probability >= 0.5:
            lines.append(f"resembles orders the risk team confirmed as fraud (review model: {review_probability:.0%})")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": ARTIFACT_FORMAT, "family": FAMILY, "version": self.version,
            "feature_names": self.feature_names, "input_kind": self.input_kind,
            "forest": self.forest.to_dict(), "forest_grid": self.forest_grid, "score_grid": self.score_grid,
            "profiles": [p.to_dict() for p in self.profiles], "baseline_attribution": self.baseline_attribution,
            "review_budget": self.review_budget,
            "review_model": self.review_model.to_dict() if self.review_model else None,
            "review_grid": self.review_grid, "review_weight": self.review_weight, "card": self.card,
            "density": self.density.to_dict() if self.density is not None else None,
            "standardise": self.standardise, "isolation_grid": self.isolation_grid,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnomalyModel:
        if data.get("family") != FAMILY or data.get("format") != ARTIFACT_FORMAT:
            raise ValueError(f"not an anomaly model artifact of format {ARTIFACT_FORMAT} "
                             f"(family {data.get('family')!r}, format {data.get('format')!r}): retrain it with "
                             "`tillbridge models train anomaly`")
        return cls(
            version=data["version"], feature_names=list(data["feature_names"]), input_kind=data["input_kind"],
            forest=IsolationForestScorer.from_dict(data["forest"]), forest_grid=np.asarray(data["forest_grid"]),
            score_grid=np.asarray(data["score_grid"]), profiles=[FeatureProfile.from_dict(p) for p in data["profiles"]],
            baseline_attribution=np.asarray(data["baseline_attribution"]), review_budget=float(data["review_budget"]),
            review_model=ForestClassifierScorer.from_dict(data["review_model"]) if data.get("review_model") else None,
            review_grid=None if data.get("review_grid") is None else np.asarray(data["review_grid"]),
            review_weight=float(data.get("review_weight", 0.0)), card=dict(data.get("card") or {}),
            density=HistogramDensity.from_dict(data["density"]) if data.get("density") else None,
            standardise=None if data.get("standardise") is None else np.asarray(data["standardise"]),
            isolation_grid=None if data.get("isolation_grid") is None else np.asarray(data["isolation_grid"]),
        )

    def save(self, path: Path) -> None:
        save_artifact(self.to_dict(), path, retrain="retrain it: tillbridge models train anomaly --promote")

    @classmethod
    def load(cls, path: Path) -> AnomalyModel:
        return cls.from_dict(load_artifact(path, what="anomaly model"))


def standardisation(forest: NDArray[np.float64], density: NDArray[np.float64]) -> NDArray[np.float64]:
    """[mean, sd] of the forest's and of the density's scores on the training rows (sd 1 when flat)."""
    return np.array([forest.mean(), forest.std() or 1.0, density.mean(), density.std() or 1.0])


def combine(forest: NDArray[np.float64], density: NDArray[np.float64],
            standardise: NDArray[np.float64]) -> NDArray[np.float64]:
    """Both scores as standard deviations above their training means, added: neither view's scale
    decides, and an order far out in either view stays far out (a rank would cap it at 1)."""
    m_f, s_f, m_d, s_d = standardise
    return np.asarray((forest - m_f) / s_f + (density - m_d) / s_d, dtype=np.float64)


def _percent(share: float) -> str:
    if share >= 0.999 or share <= 0.001:
        return f"{share:.2%}"
    return f"{share:.1%}"


def _format(spec: FeatureSpec | None, value: float) -> str:
    kind = spec.kind if spec else "number"
    if kind == "money":
        return f"${value:,.2f}"
    if kind == "share":
        return f"{value:.0%}"
    if kind == "count":
        return f"{value:g}"
    return f"{value:.4g}"


def describe(name: str, value: float, profile: FeatureProfile, noun: str = "orders") -> tuple[float, str]:
    """(rarity, sentence): how a risk analyst reads this feature value against the training data.

    Rarity is the share of training rows at least as extreme (for flags and hours: as common).
    """
    spec = FEATURE_SPECS.get(name) if noun == "orders" else None
    below, equal, above = profile.shares_around(value)
    if spec and spec.kind == "flag":
        phrase = spec.when_true if value >= 0.5 else spec.when_false
        return equal, f"{phrase}: only {_percent(equal)} of {noun}"
    if spec and spec.kind == "hour":
        return equal, f"placed at {int(value):02d}:00, an hour with only {_percent(equal)} of {noun}"
    label = spec.label if spec else name
    shown = _format(spec, value)
    subject = f"{label}: {shown}," if spec and spec.kind == "count" else f"{label} {shown} is"
    if above <= below:
        if above == 0.0:
            if equal == 0.0:
                return 0.0, f"{subject} higher than any of the {noun} the model was trained on"
            return equal, f"{subject} the highest seen in training, as in only {_percent(equal)} of {noun}"
        return above + equal, f"{subject} above {_percent(below)} of {noun}"
    if below == 0.0:
        if equal == 0.0:
            return 0.0, f"{subject} lower than any of the {noun} the model was trained on"
        return equal, f"{subject} the lowest seen in training, as in only {_percent(equal)} of {noun}"
    return below + equal, f"{subject} below {_percent(above)} of {noun}"


class AnomalyScorer:
    """Scores orders with a model; when built from a registry, follows its promoted version.

    At most every ``reload_check_seconds`` the scorer stats the registry index and the rules file
    (two ``stat`` calls): a newly promoted model, or a changed review budget, takes effect without
    a restart.
    """

    def __init__(self, model: AnomalyModel, *, budget: float | None = None, max_reasons: int = 3,
                 registry_root: Path | None = None, rules_dir: str | Path | None = None,
                 reload_check_seconds: float = 1.0, rules: AnomalyRules | None = None) -> None:
        self._budget = budget if budget is not None else model.review_budget
        self.rules = rules if rules is not None else AnomalyRules(review_budget=self._budget, max_reasons=max_reasons)
        # Swapped as one tuple so a reload never pairs one model with another's threshold.
        self._current = (model, model.threshold_for(self._budget))
        self.max_reasons = max_reasons
        self._registry_root = registry_root
        self._rules_file = repo_path(str(rules_dir)) / RULES_FILE if rules_dir is not None else None
        self._reload_check_seconds = reload_check_seconds
        self._next_check = time.monotonic() + reload_check_seconds
        self._index_signature = self._signature()
        self._rules_signature = self._rules_stat()
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str | Path = "models", *, rules_dir: str | Path = "rules",
             reload_check_seconds: float | None = None) -> AnomalyScorer:
        """A scorer from a models directory (its promoted anomaly model, followed) or an artifact file."""
        rules = AnomalyRules.load(rules_dir)
        interval = rules.reload_check_seconds if reload_check_seconds is None else reload_check_seconds
        target = repo_path(str(path))
        registry_root = None
        if target.is_dir():
            from service.ai.registry import Registry

            registry = Registry(target)
            version = registry.promoted(FAMILY)
            if version is None:
                raise FileNotFoundError(f"no promoted anomaly model in {registry.index_path}: train one with "
                                        "`tillbridge models train anomaly` and `tillbridge models promote`")
            registry_root, target = target, registry.artifact_path(version)
        return cls(AnomalyModel.load(target), budget=rules.review_budget, max_reasons=rules.max_reasons,
                   registry_root=registry_root, rules_dir=rules_dir, reload_check_seconds=interval, rules=rules)

    @property
    def model(self) -> AnomalyModel:
        self._maybe_reload()
        return self._current[0]

    @property
    def threshold(self) -> float:
        self._maybe_reload()
        return self._current[1]

    @property
    def budget(self) -> float:
        return self._budget

    def baseline(self, recent: Sequence[Mapping[str, float]],
                 scored: Sequence[tuple[float | None, str]] | None = None) -> StoreBaseline:
        """The store-relative threshold and guard maxima from the features of the store's latest
        orders (newest first), as the current model scores them. ``scored`` (aligned with ``recent``):
        the score each order was given when it was checked and by which model version; those of the
        current model are taken as they are, the others scored again."""
        self._maybe_reload()
        rules = self.rules
        model = self._current[0]
        known = [score if version == model.version else None for score, version in scored] if scored else None
        return StoreBaseline.build(model, budget=self._budget, window_orders=rules.window_orders,
                                   min_history=rules.min_history, floor_budget=rules.floor_budget,
                                   guards=rules.guard_rules(), recent=recent, known_scores=known)

    def score(self, order: Mapping[str, Any], history: OrderHistory,
              baseline: StoreBaseline | None = None) -> Assessment:
        """Assess one Magento order (as GET /V1/orders/{id} returns it) against its customer's history
        and, when given, the store's baseline (threshold from its recent orders, and the guards)."""
        model = self.model
        if model.input_kind != "orders":
            raise ValueError(f"model {model.version} was trained on a feature table, not on orders: "
                             "use score_features, or promote a model trained on order history")
        return self.score_features(order_features(order, history), baseline)

    def score_features(self, features: Mapping[str, float], baseline: StoreBaseline | None = None) -> Assessment:
        """Assess one row given its features by name."""
        self._maybe_reload()
        model, threshold = self._current
        basis = "trained threshold"
        if baseline is not None:
            threshold, basis = baseline.threshold, baseline.basis
        x = model.vector(features)
        score, review_probability, forest_rank = model.score_parts(x)
        # A blend with the review model can pull an order of a kind reviewers never met below the
        # threshold. The review model has no basis for an order stranger to the forest than every
        # training order, so such an order is held as well; within the training range the learned
        # blend decides.
        outlier = model.review_model is not None and forest_rank >= 1.0
        guards = baseline.guard_reasons(features) if baseline is not None else []
        flagged = score >= threshold or outlier or bool(guards)
        explanation = model.explain(x, review_probability, self.max_reasons) if flagged else []
        if outlier and score < threshold:
            explanation.insert(0, "stranger than any order the model was trained on")
        return Assessment(score=score, flagged=flagged, threshold=threshold, explanation=guards + explanation,
                          features={name: float(v) for name, v in zip(model.feature_names, x, strict=True)},
                          model_version=model.version, basis=basis, guards=guards)

    def score_rows(self, rows: Sequence[Mapping[str, float]] | NDArray[np.float64]) -> NDArray[np.float64]:
        """Scores of many rows (feature dicts, or a matrix in the model's feature order)."""
        model = self.model
        if isinstance(rows, np.ndarray):
            return model.score_matrix(rows)
        return model.score_matrix(np.array([model.vector(row) for row in rows]).reshape(-1, len(model.feature_names)))

    def _signature(self) -> tuple[int, int, int] | None:
        if self._registry_root is None:
            return None
        from service.ai.registry import Registry

        return Registry(self._registry_root).signature()

    def _rules_stat(self) -> tuple[int, int, int] | None:
        if self._rules_file is None:
            return None
        try:
            stat = self._rules_file.stat()
        except FileNotFoundError:
            return None
        return stat.st_mtime_ns, stat.st_ino, stat.st_size

    def _maybe_reload(self) -> None:
        if self._registry_root is None and self._rules_file is None:
            return
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + self._reload_check_seconds
        index, rules = self._signature(), self._rules_stat()
        if index == self._index_signature and rules == self._rules_signature:
            return
        with self._lock:
            if rules != self._rules_signature:
                self._rules_signature = rules
                self._reload_rules()
            if index != self._index_signature:
                self._index_signature = index
                self._reload_model()

    def _reload_rules(self) -> None:
        assert self._rules_file is not None
        try:
            rules = AnomalyRules.load(self._rules_file.parent)
        except RuleError as exc:
            log.warning("keeping review budget %s: %s", self._budget, exc)
            return
        self._budget, self.max_reasons, self.rules = rules.review_budget, rules.max_reasons, rules
        model = self._current[0]
        self._current = (model, model.threshold_for(self._budget))
        log.info("anomaly review budget now %s", self._budget)

    def _reload_model(self) -> None:
        from service.ai.registry import Registry

        if self._registry_root is None:
            return
        registry = Registry(self._registry_root)
        try:
            version = registry.promoted(FAMILY)
            if version is None or version.version == self._current[0].version:
                return
            model = AnomalyModel.load(registry.artifact_path(version))
        except (OSError, ValueError, KeyError) as exc:
            log.warning("keeping anomaly model %s: the promoted model could not be loaded (%s)",
                        self._current[0].version, exc)
            return
        self._current = (model, model.threshold_for(self._budget))
        log.info("anomaly model %s promoted; now scoring with it", model.version)
