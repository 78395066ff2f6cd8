"""Collection queries as Heartland reads them: filters, sorting, paging, field selection.

Filters come in three forms, all ANDed together:

* ``_filter=<json>`` (object or array) and repeated ``_filter[]=<json>``;
* ``~[field]=value`` and ``~[field][$op]=value`` (``$in``/``$nin`` take repeated values or a
  comma-separated list);
* plain ``field=value`` for any parameter that is not reserved.

A filter object is an AND of ``field: condition``; a condition is a value (equality, ``null`` for
"is null") or an object of operators ``$eq $neq $gt $gte $lt $lte $in $nin $like``; ``$and`` and
``$or`` take lists of filter objects. ``custom@key`` (and ``item_custom@key`` on grids) reaches
into the record's custom values.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from werkzeug.datastructures import MultiDict

from service.sandbox.heartland.state import ApiError, Collection, bad_request, invalid

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 5000
RESERVED = {"page", "per_page", "sort", "sort[]", "query", "group", "group[]", "exclude_empty_locations"}
FIELD_OPERATORS = {"$eq", "$neq", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$like"}
BRACKET = re.compile(r"^~\[([^\]]+)\](?:\[(\$[a-z]+)\])?(?:\[\])?$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass
class ListQuery:
    filters: list[Any] = field(default_factory=list)
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    page: int = 1
    per_page: int | None = DEFAULT_PER_PAGE  # None: all
    only: list[str] = field(default_factory=list)
    include: list[str] = field(default_factory=list)
    group: list[str] = field(default_factory=list)
    search: str = ""


def _list_arg(args: MultiDict[str, str], name: str) -> list[str]:
    return [v for v in args.getlist(f"{name}[]") + args.getlist(name) if v != ""]


def parse_list_query(args: MultiDict[str, str], *, allow_all: bool, plain_filters: bool = True) -> ListQuery:
    query = ListQuery()
    for raw in args.getlist("_filter") + args.getlist("_filter[]"):
        try:
            query.filters.append(json.loads(raw))
        except ValueError as exc:
            raise bad_request(f"_filter is not valid JSON: {exc}", {"_filter": [raw[:200]]}) from exc
    for key in args:
        match = BRACKET.match(key)
        if match:
            name, op = match.group(1), match.group(2) or "$eq"
            values = args.getlist(key)
            if op in ("$in", "$nin"):
                operand: Any = [part for v in values for part in v.split(",")] if len(values) == 1 else values
            else:
                operand = values[-1]
            query.filters.append({name: {op: operand}})
        elif plain_filters and not key.startswith("_") and key not in RESERVED and "[" not in key:
            query.filters.append({key: {"$eq": args.get(key)}})
    for spec in _list_arg(args, "sort"):
        name, _, direction = spec.partition(",")
        query.sort.append((name.strip(), direction.strip().lower() == "desc"))
    query.page = _positive_int(args.get("page", "1"), "page")
    per_page = args.get("per_page", str(DEFAULT_PER_PAGE))
    if per_page == "all":
        if not allow_all:
            raise invalid({"per_page": ["must be a number from 1 to 5000 (all is not accepted here)"]})
        query.per_page = None
    else:
        query.per_page = _positive_int(per_page, "per_page")
        if query.per_page > MAX_PER_PAGE:
            raise invalid({"per_page": [f"must be at most {MAX_PER_PAGE}"]})
    query.only = _list_arg(args, "_only")
    query.include = _list_arg(args, "_include")
    query.group = _list_arg(args, "group")
    query.search = args.get("query", "").strip().lower()
    for flt in query.filters:
        check_filter(flt)
    return query


def _positive_int(raw: str, name: str) -> int:
    try:
        value = int(raw)
    except ValueError as exc:
        raise invalid({name: ["must be a positive whole number"]}) from exc
    if value < 1:
        raise invalid({name: ["must be a positive whole number"]})
    return value


def check_filter(flt: Any) -> None:
    """Refuse malformed filters up front, so a bad one is a 400, not an empty result."""
    if isinstance(flt, list):
        for part in flt:
            check_filter(part)
        return
    if not isinstance(flt, dict):
        raise bad_request("a filter must be a JSON object or an array of objects", {"_filter": [repr(flt)[:200]]})
    for key, cond in flt.items():
        if key in ("$and", "$or"):
            if not isinstance(cond, list):
                raise bad_request(f"{key} takes an array of filter objects", {"_filter": [key]})
            check_filter(cond)
        elif key.startswith("$"):
            raise bad_request(f"unknown filter operator {key}", {"_filter": [key]})
        elif _is_operator_object(cond):
            for op, operand in cond.items():
                if op not in FIELD_OPERATORS:
                    raise bad_request(f"unknown filter operator {op} on {key}", {"_filter": [f"{key}.{op}"]})
                if op in ("$in", "$nin") and not isinstance(operand, list):
                    raise bad_request(f"{op} on {key} takes an array", {"_filter": [f"{key}.{op}"]})


def _is_operator_object(cond: Any) -> bool:
    return isinstance(cond, dict) and bool(cond) and all(str(k).startswith("$") for k in cond)


def field_value(row: dict[str, Any], name: str) -> Any:
    if "@" in name:
        container, _, key = name.partition("@")
        values = row.get(container)
        return values.get(key) if isinstance(values, dict) else None
    return row.get(name)


def matches(row: dict[str, Any], flt: Any) -> bool:
    if isinstance(flt, list):
        return all(matches(row, part) for part in flt)
    for key, cond in flt.items():
        if key == "$and":
            if not all(matches(row, part) for part in cond):
                return False
        elif key == "$or":
            if not any(matches(row, part) for part in cond):
                return False
        elif not _condition(field_value(row, key), cond):
            return False
    return True


def _condition(value: Any, cond: Any) -> bool:
    if _is_operator_object(cond):
        return all(_operator(op, value, operand) for op, operand in cond.items())
    return _equals(value, cond)


def _operator(op: str, value: Any, operand: Any) -> bool:
    if op == "$eq":
        return _equals(value, operand)
    if op == "$neq":
        return not _equals(value, operand)
    if op == "$in":
        return any(_equals(value, o) for o in operand)
    if op == "$nin":
        return not any(_equals(value, o) for o in operand)
    if op == "$like":
        return value is not None and _like(str(operand)).match(str(value)) is not None
    left, right = _comparable(value, operand)
    if left is None or right is None:
        return False
    try:
        if op == "$gt":
            return bool(left > right)
        if op == "$gte":
            return bool(left >= right)
        if op == "$lt":
            return bool(left < right)
        return bool(left <= right)
    except TypeError:
        return False


def _like(pattern: str) -> re.Pattern[str]:
    """SQL LIKE, case-insensitive: ``%`` any run, ``_`` one character."""
    parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern]
    return re.compile("^" + "".join(parts) + "$", re.IGNORECASE | re.DOTALL)


def coerce(operand: Any, like: Any) -> Any:
    """Read a query-string operand as the type of the stored value it is compared with."""
    if not isinstance(operand, str) or isinstance(like, str) or like is None:
        return operand
    text = operand.strip()
    if text.lower() == "null":
        return None
    if isinstance(like, bool):
        return text.lower() in ("true", "1", "t", "yes")
    if isinstance(like, int | float):
        try:
            number = float(text)
        except ValueError:
            return operand
        return int(number) if number.is_integer() else number
    return operand


def _equals(value: Any, operand: Any) -> bool:
    if operand is None:
        return value is None
    operand = coerce(operand, value)
    if isinstance(value, str) and isinstance(operand, int | float) and not isinstance(operand, bool):
        return value == str(operand)
    if isinstance(value, bool) != isinstance(operand, bool):
        return False
    return bool(value == operand)


def _parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _comparable(value: Any, operand: Any) -> tuple[Any, Any]:
    if value is None or operand is None:
        return None, None
    operand = coerce(operand, value)
    if isinstance(value, str) and isinstance(operand, str) and ISO_DATE.match(value) and ISO_DATE.match(operand):
        left, right = _parse_time(value), _parse_time(operand)
        if left is not None and right is not None:
            return left, right
    if isinstance(value, int | float) and isinstance(operand, str):
        return None, None
    if isinstance(value, str) and isinstance(operand, int | float):
        try:
            return float(value), operand
        except ValueError:
            return None, None
    return value, operand


def equality_terms(filters: list[Any]) -> Iterable[tuple[str, list[Any]]]:
    """The top-level ``field == value`` / ``field in [...]`` terms an index can answer."""
    for flt in filters:
        parts = flt if isinstance(flt, list) else [flt]
        for part in parts:
            if not isinstance(part, dict):
                continue
            for key, cond in part.items():
                if key.startswith("$"):
                    if key == "$and":
                        yield from equality_terms(cond)
                    continue
                if _is_operator_object(cond):
                    if set(cond) == {"$eq"} and cond["$eq"] is not None:
                        yield key, _variants(cond["$eq"])
                    elif set(cond) == {"$in"}:
                        yield key, [v for o in cond["$in"] if o is not None for v in _variants(o)]
                elif cond is not None and not isinstance(cond, dict | list):
                    yield key, _variants(cond)


def candidate_ids(collection: Collection, filters: list[Any]) -> list[int] | None:
    """Ids an index narrows the filters to (a superset of the matches), or None to scan all."""
    found: set[int] | None = None
    for name, values in equality_terms(filters):
        ids: set[int] = set()
        for value in values:
            hit = collection.ids_where(name, value)
            if hit is None:
                break
            ids |= hit
        else:
            found = ids if found is None else found & ids
    return None if found is None else sorted(found)


def _variants(value: Any) -> list[Any]:
    """The stored values an operand may equal (query strings carry numbers as text)."""
    out = [value]
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
            out.append(int(number) if number.is_integer() else number)
        except ValueError:
            pass
        if text.lower() in ("true", "false"):
            out.append(text.lower() == "true")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        out.append(str(value))
    return out


def sort_rows(rows: list[dict[str, Any]], sort: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    ordered = sorted(rows, key=lambda r: _sort_key(r.get("id")))
    for name, descending in reversed(sort):
        ordered.sort(key=lambda r, n=name: _sort_key(field_value(r, n)), reverse=descending)  # type: ignore[misc]
    return ordered


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (1, value)
    return (2, str(value))


def page_of(rows: list[dict[str, Any]], query: ListQuery) -> tuple[list[dict[str, Any]], int, int]:
    """The page's rows, the total, and the page count (at least 1, even when empty)."""
    total = len(rows)
    if query.per_page is None:
        return rows, total, 1
    pages = max(1, math.ceil(total / query.per_page))
    start = (query.page - 1) * query.per_page
    return rows[start:start + query.per_page], total, pages


def select_fields(row: dict[str, Any], only: list[str], keep: Iterable[str]) -> dict[str, Any]:
    wanted = set(only) | set(keep)
    return {k: v for k, v in row.items() if k in wanted}


def unknown_include(name: str, known: Iterable[str]) -> ApiError:
    return invalid({"_include": [f"unknown association {name!r}; this collection embeds: {', '.join(sorted(known))}"]})


Predicate = Callable[[dict[str, Any]], bool]
