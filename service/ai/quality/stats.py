"""Robust statistics of a field's changes: log changes, median and MAD, per SKU and per category.

A change is measured in log units (log of new/old), so ×2 and ÷2 weigh the same whatever the price;
stock uses log(1 + qty), which stays defined at 0. The spread of a SKU's own changes is its median
absolute deviation scaled to a standard deviation (×1.4826), never below the rule's floor.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from service.ai.quality.policy import ChangeRule

MAD_SCALE = 1.4826  # MAD → standard deviation for normally distributed changes
MAX_CHANGES = 32  # a SKU keeps its last changes per field; older ones stop counting


@dataclass(frozen=True)
class Spread:
    """The usual change of a field: its center and spread in log units, and what they come from."""

    center: float
    scale: float
    n: int
    source: str  # "sku" | "category" | "floor"

    def basis(self, category: str = "") -> str:
        if self.source == "sku":
            return f"this SKU's last {self.n} changes"
        if self.source == "category":
            return f"{self.n} changes in category {category or '(none)'}"
        return f"short history ({self.n} change{'s' if self.n != 1 else ''}): the rule's floor"


def log_change(field: str, before: float, after: float) -> float | None:
    """The change in log units; None when it has no measure (a price to or from 0 or below)."""
    if field == "stock":
        return math.log1p(max(after, 0.0)) - math.log1p(max(before, 0.0))
    if before <= 0 or after <= 0:
        return None
    return math.log(after / before)


def from_log(field: str, before: float, change: float) -> float:
    """The value ``change`` log units away from ``before``."""
    if field == "stock":
        return math.expm1(math.log1p(max(before, 0.0)) + change)
    return before * math.exp(change)


def robust_spread(changes: Sequence[float]) -> tuple[float, float]:
    """(median, MAD × 1.4826) of the changes; (0, 0) for none."""
    if not len(changes):
        return 0.0, 0.0
    values = np.asarray(changes, dtype=float)
    center = float(np.median(values))
    return center, float(np.median(np.abs(values - center))) * MAD_SCALE


def spread_for(rule: ChangeRule, sku_changes: Sequence[float], category: Spread | None) -> Spread:
    """The SKU's own spread with enough history, else its category's, else the rule's floor."""
    if len(sku_changes) >= rule.min_history:
        center, scale = robust_spread(sku_changes)
        return Spread(center, max(scale, rule.floor), len(sku_changes), "sku")
    if category is not None and category.n >= rule.min_history:
        return Spread(category.center, max(category.scale, rule.floor), category.n, "category")
    return Spread(0.0, rule.floor, len(sku_changes), "floor")


def category_spreads(rows: Iterable[tuple[str, str, Sequence[float]]]) -> dict[tuple[str, str], Spread]:
    """(category, field) → the spread of every change of every SKU in it (rows: category, field,
    that SKU's changes)."""
    pooled: dict[tuple[str, str], list[float]] = {}
    for category, field, changes in rows:
        if changes:
            pooled.setdefault((category, field), []).extend(float(c) for c in changes)
    out = {}
    for key, changes in pooled.items():
        center, scale = robust_spread(changes)
        out[key] = Spread(center, scale, len(changes), "category")
    return out


def robust_z(change: float, spread: Spread) -> float:
    return (change - spread.center) / spread.scale if spread.scale > 0 else math.inf


def usual_range(rule: ChangeRule, before: float, spread: Spread, threshold: float) -> tuple[float, float]:
    """The values the next change may take without being flagged (both ends included)."""
    low = min(spread.center - threshold * spread.scale, -rule.min_change)
    high = max(spread.center + threshold * spread.scale, rule.min_change)
    if rule.direction == "up":
        low = -math.inf
    elif rule.direction == "down":
        high = math.inf
    lo = 0.0 if low == -math.inf else from_log(rule.field, before, low)
    hi = math.inf if high == math.inf else from_log(rule.field, before, high)
    return lo, hi


def appended(changes: Sequence[float], change: float | None) -> list[float]:
    """The SKU's changes after one more write. A write that left the field as it was adds nothing:
    the spread is that of the field's moves, not of how often it stays put."""
    kept = [float(c) for c in changes]
    if change is not None and abs(change) > 1e-9:
        kept.append(round(change, 6))
    return kept[-MAX_CHANGES:]


def known_values(values: Mapping[str, object]) -> dict[str, float]:
    """The numeric fields of a record (missing or non-numeric ones left out)."""
    out = {}
    for name, value in values.items():
        if value is None or value == "" or isinstance(value, bool):
            continue
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out[name] = number
    return out
