"""rules/quality.yaml as typed, checked values: a mistake names the entry and what to fix."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ACTIONS = ("hold", "warn", "fix")
DIRECTIONS = ("both", "up", "down")
IMPOSSIBLE = ("negative_stock", "price_below_cost", "zero_price")
CHANGE_FIELDS = ("price", "cost", "weight", "stock")


class QualityRuleError(ValueError):
    """rules/quality.yaml cannot be used; the message names the entry and what to put there."""


@dataclass(frozen=True)
class ChangeRule:
    field: str
    threshold: float = 6.0  # robust z-score above which a change is flagged
    floor: float = 0.10  # smallest spread assumed, in log units
    min_change: float = 0.25  # smaller changes (log units) are never flagged
    min_history: int = 5  # fewer of the SKU's own changes: its category's spread is used
    direction: str = "both"
    action: str = "hold"


@dataclass(frozen=True)
class SwingRule:
    fields: tuple[str, ...] = ("price",)
    window_minutes: float = 10.0
    share: float = 0.3
    min_skus: int = 10
    min_change: float = 0.01
    action: str = "hold"


@dataclass(frozen=True)
class OrderRule:
    max_line_qty: float = 500.0
    action: str = "hold"


@dataclass(frozen=True)
class TuningRule:
    min_labels: int = 4
    prior: float = 8.0
    lowest: float = 3.0
    highest: float = 30.0


@dataclass(frozen=True)
class QualityPolicy:
    changes: dict[str, ChangeRule] = field(default_factory=dict)
    impossible: dict[str, str] = field(default_factory=dict)  # check → action
    swing: SwingRule = field(default_factory=SwingRule)
    orders: OrderRule = field(default_factory=OrderRule)
    owned: dict[str, tuple[str, ...]] = field(default_factory=dict)  # system → customer fields it owns
    customers_action: str = "hold"
    tuning: TuningRule = field(default_factory=TuningRule)
    category_refresh_seconds: float = 300.0


def _action(value: Any, where: str) -> str:
    action = str(value or "")
    if action not in ACTIONS:
        raise QualityRuleError(f"rules/quality.yaml {where}: action {action!r} is unknown; use one of "
                               f"{', '.join(ACTIONS)}")
    return action


def _number(entry: Mapping[str, Any], key: str, default: float, where: str, *, low: float = 0.0) -> float:
    raw = entry.get(key, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise QualityRuleError(f"rules/quality.yaml {where}.{key}: {raw!r} is not a number") from None
    if value < low:
        raise QualityRuleError(f"rules/quality.yaml {where}.{key}: {value:g} is below {low:g}")
    return value


def _mapping(raw: Any, where: str) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise QualityRuleError(f"rules/quality.yaml {where} must be a mapping (key: value lines)")
    return raw


def load_policy(raw: Any) -> QualityPolicy:
    """The policy from the YAML document's data (a mapping); defaults for what it leaves out."""
    doc = _mapping(raw, "(the file)")
    changes: dict[str, ChangeRule] = {}
    for name, entry in _mapping(doc.get("changes"), "changes").items():
        where = f"changes.{name}"
        if name not in CHANGE_FIELDS:
            raise QualityRuleError(f"rules/quality.yaml {where}: unknown field; use one of {', '.join(CHANGE_FIELDS)}")
        entry = _mapping(entry, where)
        direction = str(entry.get("direction") or "both")
        if direction not in DIRECTIONS:
            raise QualityRuleError(f"rules/quality.yaml {where}.direction: {direction!r}; use one of "
                                   f"{', '.join(DIRECTIONS)}")
        changes[name] = ChangeRule(
            field=name, threshold=_number(entry, "threshold", 6.0, where, low=0.5),
            floor=_number(entry, "floor", 0.10, where, low=0.001),
            min_change=_number(entry, "min_change", 0.25, where),
            min_history=int(_number(entry, "min_history", 5, where, low=1)), direction=direction,
            action=_action(entry.get("action", "hold"), where))
    impossible = {}
    for name, action in _mapping(doc.get("impossible"), "impossible").items():
        if name not in IMPOSSIBLE:
            raise QualityRuleError(f"rules/quality.yaml impossible.{name}: unknown check; use one of "
                                   f"{', '.join(IMPOSSIBLE)}")
        impossible[name] = _action(action, f"impossible.{name}")
    if impossible.get("zero_price") == "fix" or impossible.get("price_below_cost") == "fix":
        raise QualityRuleError("rules/quality.yaml impossible: only negative_stock has a fix (clamp to 0); "
                               "use hold or warn for prices")
    swing_raw = _mapping(doc.get("swing"), "swing")
    fields = tuple(str(f) for f in (swing_raw.get("fields") or ("price",)))
    unknown = [f for f in fields if f not in CHANGE_FIELDS]
    if unknown:
        raise QualityRuleError(f"rules/quality.yaml swing.fields: {', '.join(unknown)} unknown; use "
                               f"{', '.join(CHANGE_FIELDS)}")
    share = _number(swing_raw, "share", 0.3, "swing")
    if not 0 < share <= 1:
        raise QualityRuleError("rules/quality.yaml swing.share must be a share between 0 and 1, e.g. 0.3")
    swing = SwingRule(fields=fields, window_minutes=_number(swing_raw, "window_minutes", 10, "swing", low=0.1),
                      share=share, min_skus=int(_number(swing_raw, "min_skus", 10, "swing", low=1)),
                      min_change=_number(swing_raw, "min_change", 0.01, "swing"),
                      action=_action(swing_raw.get("action", "hold"), "swing"))
    if swing.action == "fix":
        raise QualityRuleError("rules/quality.yaml swing.action: a swing has no fix; use hold or warn")
    orders_raw = _mapping(doc.get("orders"), "orders")
    orders = OrderRule(max_line_qty=_number(orders_raw, "max_line_qty", 500, "orders", low=1),
                       action=_action(orders_raw.get("action", "hold"), "orders"))
    customers = _mapping(doc.get("customers"), "customers")
    owned = {str(system): tuple(str(f) for f in (names or ()))
             for system, names in _mapping(customers.get("owned"), "customers.owned").items()}
    tuning_raw = _mapping(doc.get("tuning"), "tuning")
    tuning = TuningRule(min_labels=int(_number(tuning_raw, "min_labels", 4, "tuning", low=1)),
                        prior=_number(tuning_raw, "prior", 8, "tuning"),
                        lowest=_number(tuning_raw, "lowest", 3.0, "tuning", low=0.5),
                        highest=_number(tuning_raw, "highest", 30.0, "tuning", low=0.5))
    if tuning.lowest > tuning.highest:
        raise QualityRuleError("rules/quality.yaml tuning: lowest is above highest")
    return QualityPolicy(changes=changes, impossible=impossible, swing=swing, orders=orders, owned=owned,
                         customers_action=_action(customers.get("action", "hold"), "customers"), tuning=tuning,
                         category_refresh_seconds=_number(doc, "category_refresh_seconds", 300, "(the file)"))
