"""Thresholds tuned by people's decisions: a held change released says "this was fine", one
rejected says "right to hold it". Per field, the threshold moves from the shipped one toward the
score that best separates the two, as far as the number of decisions warrants."""

from __future__ import annotations

from collections.abc import Sequence

from service.ai.quality.policy import TuningRule


def separating_threshold(base: float, released: Sequence[float], rejected: Sequence[float]) -> float:
    """The threshold with the fewest wrong calls (a released score at or above it, a rejected one
    below it); among equals, the one nearest ``base``."""
    scores = sorted(set(released) | set(rejected))
    candidates = {base, *scores, *((a + b) / 2 for a, b in zip(scores, scores[1:], strict=False))}
    if scores:
        candidates.add(scores[-1] + 1e-6)

    def cost(t: float) -> tuple[int, float]:
        wrong = sum(1 for s in released if s >= t) + sum(1 for s in rejected if s < t)
        return wrong, abs(t - base)

    return min(candidates, key=cost)


def tuned_threshold(base: float, released: Sequence[float], rejected: Sequence[float], rule: TuningRule) -> float:
    """``base`` until the field has ``rule.min_labels`` decisions; then pulled toward the separating
    threshold by n / (n + prior), within [lowest, highest]."""
    n = len(released) + len(rejected)
    if n < rule.min_labels:
        return base
    target = separating_threshold(base, released, rejected)
    weight = n / (n + rule.prior)
    return min(max(base + weight * (target - base), rule.lowest), rule.highest)
