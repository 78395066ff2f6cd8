"""Store-relative thresholds and absolute guards for the anomaly scorer.

A threshold fixed at training time flags the share of *training* orders the budget names, which
says nothing about a store whose orders look different: it may flag none of them, or too many.
Here the threshold is the (1 - budget) quantile of the current model's scores on *this store's*
last N orders (rules/anomaly.yaml `window_orders`), so the risk team gets the share it asked for.
While the store has fewer than `min_history` scored orders the trained threshold applies, and the
threshold never falls below `score_floor` (the score of the top `floor_budget` of training orders),
so a store of uniformly ordinary orders does not flag ordinary ones.

Guards hold an order on their own, whatever its score: a quantity, total or velocity beyond
anything the store has seen (a multiple of the largest value in its window), or beyond an absolute
limit, or a card-testing pattern. Each guard says so in the order's reasons.

    baseline = StoreBaseline.build(model, rules, recent_features)   # the store's last N orders
    baseline.threshold, baseline.basis
    baseline.guard_reasons(features)                                 # [] or ["guard: ...", ...]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from service.rules.loader import RuleError


class ScoringModel(Protocol):
    """What a store baseline needs of a model (service/ai/anomaly/scorer.py's AnomalyModel)."""

    feature_names: list[str]

    def threshold_for(self, budget: float) -> float: ...

    def score_matrix(self, matrix: NDArray[np.float64]) -> NDArray[np.float64]: ...

GUARD_PREFIX = "guard: "


@dataclass(frozen=True)
class Guard:
    """Hold an order whose ``feature`` reaches ``limit``, or exceeds ``beyond_seen`` times the
    store's largest value (once the store has history) while being at least ``at_least``."""

    feature: str
    label: str
    limit: float | None = None
    beyond_seen: float | None = None
    at_least: float = 0.0
    money: bool = False

    @classmethod
    def from_rule(cls, feature: str, rule: Mapping[str, Any]) -> Guard:
        known = {"label", "limit", "beyond_seen", "at_least", "money"}
        unknown = set(rule) - known
        if unknown:
            raise RuleError(f"rules file anomaly.yaml: guard {feature!r} has unknown settings {sorted(unknown)}; "
                            f"known ones: {sorted(known)}")
        try:
            guard = cls(feature=feature, label=str(rule.get("label") or feature.replace("_", " ")),
                        limit=None if rule.get("limit") is None else float(rule["limit"]),
                        beyond_seen=None if rule.get("beyond_seen") is None else float(rule["beyond_seen"]),
                        at_least=float(rule.get("at_least") or 0.0), money=bool(rule.get("money", False)))
        except (TypeError, ValueError):
            raise RuleError(f"rules file anomaly.yaml: guard {feature!r} needs numbers for limit, beyond_seen "
                            f"and at_least, got {dict(rule)!r}") from None
        if guard.limit is None and guard.beyond_seen is None:
            raise RuleError(f"rules file anomaly.yaml: guard {feature!r} needs a limit, a beyond_seen factor "
                            "or both")
        if guard.beyond_seen is not None and guard.beyond_seen < 1:
            raise RuleError(f"rules file anomaly.yaml: guard {feature!r}: beyond_seen is a factor over the "
                            f"largest value seen (1 or more), got {guard.beyond_seen}")
        return guard

    def show(self, value: float) -> str:
        return f"${value:,.2f}" if self.money else f"{value:,.0f}"

    def reason(self, value: float, seen_max: float | None, window: int) -> str | None:
        """The guard's reason when ``value`` trips it, else None."""
        if self.limit is not None and value >= self.limit:
            return (f"{GUARD_PREFIX}{self.label} {self.show(value)} reaches the absolute limit "
                    f"{self.show(self.limit)}")
        if self.beyond_seen is not None and seen_max is not None and value >= self.at_least \
                and value > self.beyond_seen * seen_max:
            return (f"{GUARD_PREFIX}{self.label} {self.show(value)} is beyond anything this store has seen "
                    f"(largest in its last {window:,} orders: {self.show(seen_max)})")
        return None


DEFAULT_GUARDS: dict[str, dict[str, Any]] = {
    "total_qty": {"label": "units ordered", "limit": 500, "beyond_seen": 2.0, "at_least": 20},
    "max_line_qty": {"label": "units on one line", "limit": 300, "beyond_seen": 2.0, "at_least": 20},
    "grand_total": {"label": "grand total", "limit": 25000, "beyond_seen": 2.0, "at_least": 1000, "money": True},
    "orders_email_24h": {"label": "earlier orders from this email in 24 hours", "limit": 10,
                         "beyond_seen": 2.0, "at_least": 5},
    "orders_address_24h": {"label": "earlier orders to this address in 24 hours", "limit": 15,
                           "beyond_seen": 2.0, "at_least": 6},
    "cards_email_24h": {"label": "distinct cards from this email in 24 hours (card testing)", "limit": 4},
}


def parse_guards(rules: Mapping[str, Any] | None) -> tuple[Guard, ...]:
    if rules is None:
        rules = DEFAULT_GUARDS
    if not isinstance(rules, Mapping):
        raise RuleError("rules file anomaly.yaml: guards is a mapping of feature name to its limits")
    from service.ai.anomaly.features import FEATURE_NAMES

    unknown = set(rules) - set(FEATURE_NAMES)
    if unknown:
        raise RuleError(f"rules file anomaly.yaml: guards on unknown features {sorted(unknown)}; "
                        f"features: {', '.join(FEATURE_NAMES)}")
    return tuple(Guard.from_rule(name, rule or {}) for name, rule in rules.items())


@dataclass(frozen=True)
class StoreBaseline:
    """The store's recent orders as the current model sees them: the threshold and the maxima."""

    threshold: float
    basis: str  # how the threshold was set, for the step detail and the review page
    window: int  # scored orders it was computed from
    min_history: int = 0
    maxima: dict[str, float] = field(default_factory=dict)
    guards: tuple[Guard, ...] = ()

    @classmethod
    def build(cls, model: ScoringModel, *, budget: float, window_orders: int, min_history: int,
              floor_budget: float, guards: tuple[Guard, ...],
              recent: Sequence[Mapping[str, float]],
              known_scores: Sequence[float | None] | None = None) -> StoreBaseline:
        """From the features of the store's most recent orders (newest first; extra ones are ignored).
        ``known_scores`` (aligned with ``recent``) are the scores this very model gave those orders when
        they were checked; the others are scored now."""
        kept = [(i, row) for i, row in enumerate(recent[:window_orders])
                if all(name in row for name in model.feature_names)]
        rows = [row for _, row in kept]
        trained = model.threshold_for(budget)
        floor = model.threshold_for(floor_budget)
        if not rows:
            return cls(trained, f"trained threshold (no scored orders in this store yet; {min_history} needed)",
                       0, min_history, {}, guards)
        matrix: NDArray[np.float64] = np.array([[float(row[name]) for name in model.feature_names] for row in rows])
        maxima = {guard.feature: float(np.max(matrix[:, model.feature_names.index(guard.feature)]))
                  for guard in guards if guard.feature in model.feature_names}
        if len(rows) < min_history:
            return cls(trained, f"trained threshold (store history {len(rows)} orders, {min_history} needed)",
                       len(rows), min_history, maxima, guards)
        known = known_scores or ()
        scores = np.array([known[i] if i < len(known) and known[i] is not None else np.nan for i, _ in kept],
                          dtype=np.float64)
        unscored = np.isnan(scores)
        if unscored.any():
            scores[unscored] = model.score_matrix(matrix[unscored])
        quantile = float(np.quantile(scores, 1.0 - budget, method="higher"))
        if quantile < floor:
            return cls(floor, f"floor: top {floor_budget:.0%} of training orders (store's "
                              f"{1 - budget:.1%} quantile {quantile:.3f} is lower)", len(rows), min_history, maxima, guards)
        return cls(quantile, f"{1 - budget:.1%} quantile of this store's last {len(rows):,} orders",
                   len(rows), min_history, maxima, guards)

    def guard_reasons(self, features: Mapping[str, float]) -> list[str]:
        reasons = []
        for guard in self.guards:
            if guard.feature not in features:
                continue
            # "Beyond anything the store has seen" needs a store history; before that, limits alone.
            seen = self.maxima.get(guard.feature) if self.window >= max(self.min_history, 1) else None
            reason = guard.reason(float(features[guard.feature]), seen, self.window)
            if reason:
                reasons.append(reason)
        return reasons
