"""JSONata for conditions, values and text: one safe language, never Python's eval.

Expressions are compiled once (cached by their text) and evaluated with a time and a depth limit,
so a runaway expression (a recursion, a huge loop) stops with a clear error instead of holding a
worker. Text templates put expressions in ``{{ … }}``: ``"order {{order.number}} is over $1,000"``.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

import jsonata
from jsonata.jexception import JException

TIME_LIMIT_MS = 250
DEPTH_LIMIT = 200
MAX_LENGTH = 4000
TEMPLATE = re.compile(r"\{\{(.+?)\}\}", re.S)

# jsonata-python keeps per-thread state on the compiled expression; one lock per expression keeps
# a compiled expression safe to share between the worker's threads (the heartbeat is one).
_locks: dict[int, threading.Lock] = {}


class ExpressionError(ValueError):
    """An expression that does not compile or failed to evaluate; the message names it and says why."""


@lru_cache(maxsize=2048)
def compiled(expression: str) -> jsonata.Jsonata:
    text = expression.strip()
    if not text:
        raise ExpressionError("the expression is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is {len(text)} characters long; keep it under {MAX_LENGTH}")
    try:
        expr = jsonata.Jsonata(text)
    except JException as exc:
        raise ExpressionError(f"{text!r} is not valid JSONata: {exc}") from None
    # The documents are JSON already (records as the APIs returned them, canonical records as
    # dicts): checking each one again costs 20-40 times the evaluation of a short condition.
    expr.set_validate_input(False)
    return expr


def check(expression: str) -> None:
    """Raise ExpressionError if ``expression`` does not compile."""
    compiled(expression)


def evaluate(expression: str, document: Any) -> Any:
    """The value of ``expression`` over ``document`` (None when it selects nothing)."""
    expr = compiled(expression)
    frame = jsonata.Jsonata.Frame(None)
    frame.set_runtime_bounds(TIME_LIMIT_MS, DEPTH_LIMIT)  # the clock starts here, per evaluation
    lock = _locks.setdefault(id(expr), threading.Lock())
    try:
        with lock:
            return expr.evaluate(document, frame)
    except JException as exc:
        raise ExpressionError(f"{expression.strip()!r} failed: {exc}") from None
    except RecursionError:
        raise ExpressionError(f"{expression.strip()!r} nests too deeply") from None


def truthy(expression: str, document: Any) -> bool:
    """A condition: JSONata's boolean of the value (nothing selected is false)."""
    value = evaluate(expression, document)
    if isinstance(value, list):
        return any(bool(v) for v in value)
    return bool(value)


def render(template: str, document: Any) -> str:
    """Text with each ``{{ expression }}`` replaced by its value (empty when it selects nothing)."""

    def fill(match: re.Match[str]) -> str:
        value = evaluate(match.group(1), document)
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value)

    return TEMPLATE.sub(fill, template)


def check_template(template: str) -> None:
    for match in TEMPLATE.finditer(template):
        check(match.group(1))
