"""``searchCriteria`` and ``fields=``, the way Magento's collections apply them.

Filters inside one filter group are OR'ed, groups are AND'ed; the condition type defaults to ``eq``.
Comparisons follow MySQL: strings compare case-insensitively, numbers numerically, ``like`` takes
``%`` and ``_``; NULL matches only ``null``. Without ``pageSize`` every match is returned; a page past
the end has empty ``items`` and the full ``total_count`` (2.4 behaviour). Query keys may be camelCase
or snake_case with any indices, as Magento's input processor accepts both.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from service.sandbox.magento.errors import MagentoError, required_field

_BRACKETS = re.compile(r"\[([^\]]*)\]")
_ROOTS = {"searchcriteria"}
_KEYS = {
    "filtergroups": "filter_groups",
    "filters": "filters",
    "field": "field",
    "value": "value",
    "conditiontype": "condition_type",
    "sortorders": "sort_orders",
    "direction": "direction",
    "pagesize": "page_size",
    "currentpage": "current_page",
}
CONDITIONS = {
    "eq", "neq", "gt", "gteq", "lt", "lteq", "moreq", "in", "nin", "like", "nlike", "null", "notnull",
    "finset", "nfinset", "from", "to",
}


@dataclass
class Filter:
    field: str
    value: str
    condition_type: str = "eq"


@dataclass
class Criteria:
    filter_groups: list[list[Filter]] = field(default_factory=list)
    sort_orders: list[tuple[str, str]] = field(default_factory=list)
    page_size: int | None = None
    current_page: int | None = None

    def echo(self) -> dict[str, Any]:
        """The ``search_criteria`` object Magento puts back in the answer."""
        out: dict[str, Any] = {
            "filter_groups": [
                {"filters": [{"field": f.field, "value": f.value, "condition_type": f.condition_type} for f in group]}
                for group in self.filter_groups
            ]
        }
        if self.sort_orders:
            out["sort_orders"] = [{"field": f, "direction": d} for f, d in self.sort_orders]
        if self.page_size is not None:
            out["page_size"] = self.page_size
        if self.current_page is not None:
            out["current_page"] = self.current_page
        return out


def _normal(key: str) -> str:
    return key.replace("_", "").lower()


def _tree(args: Iterable[tuple[str, str]]) -> tuple[bool, dict[str, Any]]:
    seen = False
    root: dict[str, Any] = {}
    for raw_key, value in args:
        head = raw_key.split("[", 1)[0]
        if _normal(head) not in _ROOTS:
            continue
        seen = True
        parts = _BRACKETS.findall(raw_key[len(head):])
        node = root
        for n, part in enumerate(parts):
            key = _KEYS.get(_normal(part), part)
            if n == len(parts) - 1:
                node[key] = value
            else:
                child = node.get(key)
                if not isinstance(child, dict):
                    child = {}
                    node[key] = child
                node = child
    return seen, root


def _ordered(node: Any) -> list[Any]:
    if not isinstance(node, dict):
        return []

    def index(key: str) -> tuple[int, str]:
        return (int(key), "") if key.isdigit() else (1 << 30, key)

    return [node[k] for k in sorted(node, key=index)]


def _int_arg(raw: Any, name: str) -> int:
    try:
        return int(str(raw).strip())
    except ValueError:
        raise MagentoError(
            'The "%value" value\'s type is invalid. The "%type" type was expected. Verify and try again.',
            {"value": raw, "type": "int"},
        ) from None


def parse(args: Iterable[tuple[str, str]], *, required: bool = True) -> Criteria:
    seen, tree = _tree(args)
    if not seen and required:
        raise required_field("searchCriteria")
    criteria = Criteria()
    for group in _ordered(tree.get("filter_groups")):
        filters = []
        for raw in _ordered(group.get("filters") if isinstance(group, dict) else None):
            if not isinstance(raw, dict) or "field" not in raw:
                continue
            condition = str(raw.get("condition_type") or "eq").lower()
            if condition not in CONDITIONS:
                raise MagentoError('Invalid condition type "%1".', [condition])
            filters.append(Filter(field=raw["field"], value=raw.get("value", ""), condition_type=condition))
        if filters:
            criteria.filter_groups.append(filters)
    for raw in _ordered(tree.get("sort_orders")):
        if isinstance(raw, dict) and raw.get("field"):
            direction = str(raw.get("direction") or "ASC").upper()
            criteria.sort_orders.append((raw["field"], "DESC" if direction == "DESC" else "ASC"))
    if "page_size" in tree:
        criteria.page_size = _int_arg(tree["page_size"], "pageSize")
    if "current_page" in tree:
        criteria.current_page = _int_arg(tree["current_page"], "currentPage")
    return criteria


# -- matching ---------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _compare(left: Any, right: str) -> int:
    """-1/0/1 as MySQL compares a column with a string literal: numeric columns numerically,
    text columns as case-insensitive text."""
    if not isinstance(left, str):
        a, b = _number(left), _number(right)
        if a is not None and b is not None:
            return (a > b) - (a < b)
    sa, sb = str(left).lower(), right.lower()
    return (sa > sb) - (sa < sb)


@functools.lru_cache(maxsize=64)
def _text_members(target: str) -> frozenset[str]:
    return frozenset(v.strip().lower() for v in target.split(","))


def _like(pattern: str) -> re.Pattern[str]:
    out = []
    for ch in pattern:
        if ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("^" + "".join(out) + "$", re.IGNORECASE | re.DOTALL)


def _as_column(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    return value


def matches(record: Mapping[str, Any], flt: Filter, getter: Callable[[Mapping[str, Any], str], Any]) -> bool:
    value = _as_column(getter(record, flt.field))
    cond = flt.condition_type
    if cond == "null":
        return value is None
    if cond == "notnull":
        return value is not None
    if value is None or isinstance(value, (dict, list)):
        return False
    target = str(flt.value)
    if cond == "eq":
        return _compare(value, target) == 0
    if cond == "neq":
        return _compare(value, target) != 0
    if cond == "gt":
        return _compare(value, target) > 0
    if cond in ("gteq", "moreq", "from"):
        return _compare(value, target) >= 0
    if cond == "lt":
        return _compare(value, target) < 0
    if cond in ("lteq", "to"):
        return _compare(value, target) <= 0
    if cond in ("in", "nin"):
        if isinstance(value, str):
            # A text column equals a member as case-insensitive text: one set lookup, not a scan of the list.
            found = value.lower() in _text_members(target)
        else:
            found = any(_compare(value, v.strip()) == 0 for v in target.split(","))
        return found if cond == "in" else not found
    if cond in ("like", "nlike"):
        hit = bool(_like(target).match(str(value)))
        return hit if cond == "like" else not hit
    if cond in ("finset", "nfinset"):
        members = [m.strip().lower() for m in str(value).split(",")]
        hit = target.lower() in members
        return hit if cond == "finset" else not hit
    return False


def _sort_key(value: Any) -> tuple[int, float, str]:
    value = _as_column(value)
    if value is None:
        return (0, 0.0, "")
    if isinstance(value, (int, float)):
        return (1, float(value), "")
    return (2, 0.0, str(value).lower())


def top_level(record: Mapping[str, Any], name: str) -> Any:
    return record.get(name)


def apply(
    records: Iterable[Mapping[str, Any]],
    criteria: Criteria,
    *,
    fields: Collection[str] | None = None,
    getter: Callable[[Mapping[str, Any], str], Any] = top_level,
    default_sort: str | None = None,
) -> tuple[list[Mapping[str, Any]], int]:
    """Filter, sort and page; return the page and the total number of matches.

    ``fields`` lists the searchable field names; a filter or sort on another name is refused.
    """
    for group in criteria.filter_groups:
        for flt in group:
            _check_field(flt.field, fields)
    for name, _ in criteria.sort_orders:
        _check_field(name, fields)
    selected = [r for r in records if all(any(matches(r, f, getter) for f in group) for group in criteria.filter_groups)]
    sort_orders = criteria.sort_orders or ([(default_sort, "ASC")] if default_sort else [])
    for name, direction in reversed(sort_orders):
        selected.sort(key=_sorter(getter, name), reverse=direction == "DESC")
    total = len(selected)
    if criteria.page_size:
        page = max(1, criteria.current_page or 1)
        start = (page - 1) * criteria.page_size
        selected = selected[start : start + criteria.page_size]
    return selected, total


def _sorter(getter: Callable[[Mapping[str, Any], str], Any], name: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda record: _sort_key(getter(record, name))


def _check_field(name: str, fields: Collection[str] | None) -> None:
    if fields is not None and name not in fields:
        raise MagentoError('Invalid attribute name: %1', [name])


# -- fields= ----------------------------------------------------------------------------------------

FieldTree = dict[str, "FieldTree | None"]


def parse_fields(spec: str) -> FieldTree:
    """``items[increment_id,items[sku]],total_count`` → a tree of kept names."""
    pos = 0

    def parse_list() -> FieldTree:
        nonlocal pos
        out: FieldTree = {}
        name = ""
        while pos < len(spec):
            ch = spec[pos]
            pos += 1
            if ch == ",":
                if name.strip():
                    out.setdefault(name.strip(), None)
                name = ""
            elif ch == "[":
                out[name.strip()] = parse_list()
                name = ""
            elif ch == "]":
                break
            else:
                name += ch
        if name.strip():
            out.setdefault(name.strip(), None)
        return out

    return parse_list()


def trim(value: Any, tree: FieldTree) -> Any:
    if isinstance(value, list):
        return [trim(v, tree) for v in value]
    if isinstance(value, dict):
        out = {}
        for name, sub in tree.items():
            if name in value:
                out[name] = trim(value[name], sub) if sub else value[name]
        return out
    return value
