"""The checks a record passes before it is written, each a pure function of the record, the SKU's
history and the policy, answering with :class:`Finding` s; :func:`verdict` says what to do.

    findings = check_changes(policy, before, after, histories, categories, thresholds, category="Tees")
    findings += check_values(policy, after, active=True)
    verdict(findings)  # "hold" | "fix" | "warn" | "pass"
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from service.ai.quality.policy import ChangeRule, QualityPolicy, SwingRule
from service.ai.quality.stats import Spread, log_change, robust_z, spread_for, usual_range

SEVERITY = {"pass": 0, "warn": 1, "fix": 2, "hold": 3}


@dataclass(frozen=True)
class Finding:
    field: str
    check: str  # change | negative_stock | price_below_cost | zero_price | swing | blanked | order_line
    action: str  # hold | warn | fix
    reason: str
    before: Any = None
    after: Any = None
    score: float | None = None  # the robust z-score of a change
    threshold: float | None = None
    usual: tuple[float, float] | None = None  # the values the change could have taken unflagged
    fixed: Any = None  # what a fix writes instead of ``after``

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["usual"] = list(self.usual) if self.usual is not None else None
        for key in ("score", "threshold"):
            if out[key] is not None and not math.isfinite(out[key]):
                out[key] = 1e9  # JSON has no infinity
        if out["usual"] is not None:
            out["usual"] = [v if math.isfinite(v) else None for v in out["usual"]]
        return out


def verdict(findings: Sequence[Finding]) -> str:
    """The most severe action of the findings; "pass" for none."""
    return max((f.action for f in findings), key=SEVERITY.__getitem__, default="pass")


def _number(value: float) -> str:
    return f"{value:,.2f}" if abs(value) < 1e6 else f"{value:,.0f}"


def _range(usual: tuple[float, float]) -> str:
    lo, hi = usual
    return f"{_number(lo)}–{_number(hi) if math.isfinite(hi) else '∞'}"


def check_change(rule: ChangeRule, before: float, after: float, spread: Spread, threshold: float,
                 category: str = "") -> Finding | None:
    """A change far outside the SKU's (or its category's) usual: |z| above the threshold and a
    change above the rule's minimum, in the rule's direction."""
    change = log_change(rule.field, before, after)
    if change is None or abs(change) <= rule.min_change:
        return None
    if rule.direction == "up" and change < 0 or rule.direction == "down" and change > 0:
        return None
    z = robust_z(change, spread)
    if abs(z) <= threshold:
        return None
    usual = usual_range(rule, before, spread, threshold)
    factor = (after / before) if before > 0 else math.inf
    times = f"×{factor:.3g}" if factor >= 1 else f"÷{1 / factor:.3g}" if factor > 0 else ""
    reason = (f"{rule.field} {_number(before)} → {_number(after)}{f' ({times})' if times else ''} is far outside "
              f"the usual: robust z {abs(z):.1f} over {threshold:.1f} from {spread.basis(category)}; "
              f"usual range {_range(usual)}")
    return Finding(rule.field, "change", rule.action, reason, before, after, abs(z), threshold, usual)


def check_changes(policy: QualityPolicy, before: Mapping[str, float], after: Mapping[str, float],
                  histories: Mapping[str, Sequence[float]], categories: Mapping[str, Spread],
                  thresholds: Mapping[str, float] | None = None, *, category: str = "") -> list[Finding]:
    """Every changed field with a rule and a value before: is its change usual?"""
    findings = []
    for field, rule in policy.changes.items():
        if field not in before or field not in after:
            continue
        spread = spread_for(rule, histories.get(field) or (), categories.get(field))
        threshold = (thresholds or {}).get(field, rule.threshold)
        found = check_change(rule, before[field], after[field], spread, threshold, category)
        if found is not None:
            findings.append(found)
    return findings


def check_values(policy: QualityPolicy, values: Mapping[str, float], *, active: bool = True) -> list[Finding]:
    """Values that cannot be right whatever the history: negative stock, a price below cost, an
    active product at price 0."""
    rules, findings = policy.impossible, []
    stock, price, cost = values.get("stock"), values.get("price"), values.get("cost")
    if "negative_stock" in rules and stock is not None and stock < 0:
        action = rules["negative_stock"]
        fixed = 0.0 if action == "fix" else None
        said = "; written as 0" if fixed is not None else ""
        findings.append(Finding("stock", "negative_stock", action, f"salable stock {stock:g} is below 0{said}",
                                None, stock, fixed=fixed))
    if "zero_price" in rules and active and price is not None and price <= 0:
        findings.append(Finding("price", "zero_price", rules["zero_price"],
                                f"price {_number(price)} on an active product", None, price))
    if ("price_below_cost" in rules and price is not None and cost is not None and cost > 0
            and 0 < price < cost):
        findings.append(Finding("price", "price_below_cost", rules["price_below_cost"],
                                f"price {_number(price)} is below cost {_number(cost)}", cost, price))
    return findings


def is_swing(rule: SwingRule, changed: int, catalogue: int) -> bool:
    """Whether ``changed`` of ``catalogue`` SKUs within the window is a bulk change, not a day's work."""
    return catalogue >= rule.min_skus and changed / catalogue >= rule.share


def check_swing(rule: SwingRule, field: str, before: float, after: float, changed: int, catalogue: int,
                window_minutes: float) -> Finding | None:
    """This record's change held with the bulk change it belongs to (when the window has one)."""
    change = log_change(field, before, after)
    if field not in rule.fields or change is None or abs(change) <= rule.min_change:
        return None
    if not is_swing(rule, changed, catalogue):
        return None
    reason = (f"{field} {_number(before)} → {_number(after)} is one of {changed} of {catalogue} SKUs "
              f"({changed / catalogue:.0%}) changed within {window_minutes:g} minutes, over the "
              f"{rule.share:.0%} that a bulk import trips")
    return Finding(field, "swing", rule.action, reason, before, after, changed / catalogue, rule.share)


def blanked_fields(before: Mapping[str, Any], after: Mapping[str, Any], owned: Sequence[str]) -> list[str]:
    """The owned fields an edit empties: they had a value and the edit leaves none."""
    def empty(value: Any) -> bool:
        return value is None or (isinstance(value, str) and not value.strip())

    return [name for name in owned if not empty(before.get(name)) and name in after and empty(after.get(name))]


def check_blanked(policy: QualityPolicy, before: Mapping[str, Any], after: Mapping[str, Any],
                  editor: str) -> list[Finding]:
    """A customer edit from ``editor`` that blanks fields another system owns (rules/quality.yaml
    customers.owned)."""
    findings = []
    for system, fields in policy.owned.items():
        if system == editor:
            continue
        for name in blanked_fields(before, after, fields):
            findings.append(Finding(name, "blanked", policy.customers_action,
                                    f"{name} blanked by an edit in {editor}, but {system} owns it "
                                    f"(was {before.get(name)!r})", before.get(name), after.get(name)))
    return findings


def check_order_lines(policy: QualityPolicy, lines: Sequence[Mapping[str, Any]], grand_total: float) -> list[Finding]:
    """Order quantities and amounts that cannot be right: a line quantity at or below 0 or above
    the rule's maximum, a negative price or total."""
    rule, findings = policy.orders, []
    for n, line in enumerate(lines, start=1):
        sku, qty, price = line.get("sku"), float(line.get("qty") or 0), float(line.get("price") or 0)
        if qty <= 0 or qty > rule.max_line_qty:
            why = "at or below 0" if qty <= 0 else f"above the {rule.max_line_qty:g} a line may order"
            findings.append(Finding("qty", "order_line", rule.action,
                                    f"line {n} ({sku}): quantity {qty:g} is {why}", None, qty))
        if price < 0:
            findings.append(Finding("price", "order_line", rule.action,
                                    f"line {n} ({sku}): price {price:.2f} is below 0", None, price))
    if grand_total < 0:
        findings.append(Finding("grand_total", "order_line", rule.action,
                                f"grand total {grand_total:.2f} is below 0", None, grand_total))
    return findings
