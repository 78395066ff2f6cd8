"""The rule builder's format: field / operator / value, joined by AND (``all``) or OR (``any``),
nested as deep as needed, written out as JSONata so there is one language underneath.

    {"all": [{"field": "order.grand_total", "op": ">", "value": 1000},
             {"field": "vars.prior_orders", "op": "=", "value": 0}]}
    → (order.grand_total > 1000) and (vars.prior_orders = 0)

Fields are dotted names only and values are JSON literals, so a rule cannot smuggle an expression in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
OPERATORS: dict[str, str] = {
    "=": "equals", "!=": "differs from", ">": "is more than", ">=": "is at least", "<": "is less than",
    "<=": "is at most", "contains": "contains", "starts_with": "starts with", "in": "is one of",
    "is_empty": "is empty", "not_empty": "is not empty",
}
NO_VALUE = ("is_empty", "not_empty")


class RuleError(ValueError):
    """A rule the builder cannot write; the message says which part and what to fix."""


def to_jsonata(rule: Mapping[str, Any], where: str = "rule") -> str:
    """The JSONata condition a rule stands for."""
    if not isinstance(rule, Mapping):
        raise RuleError(f"{where} must be a mapping with all, any, or field/op/value")
    for joiner, word in (("all", "and"), ("any", "or")):
        if joiner in rule:
            parts = rule[joiner]
            if not isinstance(parts, list) or not parts:
                raise RuleError(f"{where}.{joiner} must be a non-empty list of rules")
            return f" {word} ".join(f"({to_jsonata(part, f'{where}.{joiner}[{n}]')})"
                                    for n, part in enumerate(parts))
    field = str(rule.get("field") or "")
    op = str(rule.get("op") or "")
    if not FIELD.match(field):
        raise RuleError(f"{where}.field {field!r} must be a dotted name such as order.grand_total")
    if op not in OPERATORS:
        raise RuleError(f"{where}.op {op!r} is not one of {', '.join(OPERATORS)}")
    if op in NO_VALUE:
        test = f"($exists({field}) and {field} != '' and {field} != null)"
        return f"$not{test}" if op == "is_empty" else test
    if "value" not in rule:
        raise RuleError(f"{where} needs a value for {op!r}")
    value = rule["value"]
    if op == "in":
        if not isinstance(value, list) or not value:
            raise RuleError(f"{where}.value must be a non-empty list for 'in'")
        return f"{field} in {_literal(value, where)}"
    literal = _literal(value, where)
    if op == "contains":
        return f"$contains($string({field}), {literal})"
    if op == "starts_with":
        return f"$substring($string({field}), 0, $length({literal})) = {literal}"
    return f"{field} {op} {literal}"


def _literal(value: Any, where: str) -> str:
    if isinstance(value, (dict,)):
        raise RuleError(f"{where}.value must be a number, text, true/false or a list of them")
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        raise RuleError(f"{where}.value must be a number, text, true/false or a list of them") from None


def in_words(rule: Mapping[str, Any]) -> str:
    """The rule as a sentence, for the page and the version diff."""
    for joiner, word in (("all", " and "), ("any", " or ")):
        if joiner in rule:
            parts = [in_words(part) for part in rule[joiner]]
            return word.join(f"({p})" if (" and " in p or " or " in p) else p for p in parts)
    op = str(rule.get("op"))
    said = OPERATORS.get(op, op)
    if op in NO_VALUE:
        return f"{rule.get('field')} {said}"
    return f"{rule.get('field')} {said} {json.dumps(rule.get('value'))}"
