"""``GET /api/reporting/analyzer``: Heartland's sales analyzer, for the sales metrics.

As the reference (§3.13) and the integrations it cites call it: ``metrics[]`` and ``group[]`` take
dotted names, ``start_date``/``end_date`` (``YYYY-MM-DD``, both inclusive) bound the sales,
``item.filters``/``location.filters`` are JSON filter objects on the item and the location,
``exclude_zeroes`` drops rows whose metrics are all zero, rows are keyed by the dotted names, in
the usual ``{results, total, pages}`` envelope with ``page``/``per_page``.

What it sums: the seeded sales history (history.py; daily totals per item and location) and the
account's own completed tickets (returns count negative) and completed invoices, each on the UTC
day it completed, at its ``source_location_id``. Supported here, a subset of the real analyzer:

========================  ==============================================================
metrics                   ``source_sales.net_qty_sold``, ``source_sales.net_sales``,
                          ``source_sales.gross_qty_sold``, ``source_sales.gross_qty_returned``
group                     ``date.date``, ``date.year``, ``date.month_of_year``, ``item.id``,
                          ``item.public_id``, ``item.description``, ``location.id``,
                          ``location.public_id``, ``location.name``
========================  ==============================================================

Anything else is a 422 naming what is supported (the real analyzer has many more metrics, such
as ``ending_inventory.qty_owned``; they are not simulated).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import numpy as np
from werkzeug.datastructures import MultiDict

from service.sandbox.heartland.history import SalesHistory
from service.sandbox.heartland.query import MAX_PER_PAGE, _sort_key, check_filter, matches, sort_rows
from service.sandbox.heartland.state import Record, State, bad_request, invalid

METRICS = ("source_sales.net_qty_sold", "source_sales.net_sales", "source_sales.gross_qty_sold",
           "source_sales.gross_qty_returned")
GROUPS = ("date.date", "date.year", "date.month_of_year", "item.id", "item.public_id", "item.description",
          "location.id", "location.public_id", "location.name")
DEFAULT_PER_PAGE = 20

# One fact: (day, item id, location id, net qty, net sales, gross qty sold, gross qty returned)
Fact = tuple[date, int, int, float, float, float, float]


def analyzer(state: State, args: MultiDict[str, str]) -> dict[str, Any]:
    metrics = _names(args, "metrics", METRICS)
    groups = _names(args, "group", GROUPS)
    if not metrics:
        raise invalid({"metrics": [f"name at least one metric: {', '.join(METRICS)}"]})
    start, end = _day(args, "start_date"), _day(args, "end_date")
    if start and end and end < start:
        raise invalid({"end_date": ["is before start_date"]})
    item_filter, location_filter = _filter(args, "item.filters"), _filter(args, "location.filters")
    exclude_zeroes = args.get("exclude_zeroes", "false").lower() in ("true", "1")
    page = _whole(args.get("page", "1"), "page")
    per_page = _whole(args.get("per_page", str(DEFAULT_PER_PAGE)), "per_page")
    if per_page > MAX_PER_PAGE:
        raise invalid({"per_page": [f"must be at most {MAX_PER_PAGE}"]})
    # Reading a long history takes many pages of one report: sum once, serve the pages from that,
    # until a sale completes (the revision moves).
    key = (tuple(sorted((k, tuple(v)) for k, v in args.lists() if k not in ("page", "per_page"))), _revision(state))
    rows = state.report_cache.get(key)
    if rows is None:
        rows = _rows(state, args, metrics, groups, start, end, item_filter, location_filter, exclude_zeroes)
        state.report_cache.clear()
        state.report_cache[key] = rows
    pages = max(1, math.ceil(len(rows) / per_page))
    return {"results": [dict(r) for r in rows[(page - 1) * per_page:page * per_page]], "total": len(rows),
            "pages": pages}


def _revision(state: State) -> tuple[int, ...]:
    done = sum(1 for t in state.tickets.records.values() if t.get("status") == "complete")
    done += sum(1 for i in state.invoices.records.values() if i.get("status") == "complete")
    return (len(state.tickets), len(state.invoices), len(state.ticket_lines), len(state.invoice_lines), done,
            id(state.sales_history))


def _rows(state: State, args: MultiDict[str, str], metrics: list[str], groups: list[str], start: date | None,
          end: date | None, item_filter: Any, location_filter: Any, exclude_zeroes: bool) -> list[Record]:
    sums: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    items, locations = state.items.records, state.locations.records
    keep_item = _keeper(items, item_filter)
    keep_location = _keeper(locations, location_filter)
    dimension = [_dimension(name, items, locations) for name in groups]
    if state.sales_history is not None:
        sums.update(_history_sums(state.sales_history, start, end, groups, dimension, keep_item, keep_location))
    for day, item_id, location_id, qty, net, sold, returned in _transaction_facts(state, start, end):
        if not keep_item(item_id) or not keep_location(location_id):
            continue
        key = tuple(value(day, item_id, location_id) for value in dimension)
        total = sums[key]
        total[0] += qty
        total[1] += net
        total[2] += sold
        total[3] += returned
    columns = [METRICS.index(name) for name in metrics]
    rows: list[Record] = []
    for key in sorted(sums, key=lambda k: tuple(_sort_key(v) for v in k)):
        values = [round(sums[key][c], 2) for c in columns]
        if exclude_zeroes and not any(values):
            continue
        rows.append({**dict(zip(groups, key, strict=True)), **dict(zip(metrics, values, strict=True))})
    sort = [(s.split(",")[0], s.endswith(",desc")) for s in args.getlist("sort[]") + args.getlist("sort")]
    return sort_rows(rows, sort) if sort else rows


def _dimension(name: str, items: dict[int, Record], locations: dict[int, Record]) -> Any:
    """A function of (day, item id, location id) giving the value of one ``group[]`` name."""
    if name.startswith("date."):
        cache: dict[date, str] = {}

        def of_day(day: date, item_id: int, location_id: int) -> str:
            value = cache.get(day)
            if value is None:
                value = cache[day] = _date_value(name, day)
            return value
        return of_day
    source, _, attribute = name.partition(".")
    if source == "item":
        by_item = {ident: record.get(attribute) for ident, record in items.items()}
        return lambda day, item_id, location_id: by_item.get(item_id)
    by_location = {ident: record.get(attribute) for ident, record in locations.items()}
    return lambda day, item_id, location_id: by_location.get(location_id)


def _date_value(name: str, day: date) -> str:
    if name == "date.year":
        return str(day.year)
    if name == "date.month_of_year":
        return f"{day.month:02d}"
    return day.isoformat()


def _names(args: MultiDict[str, str], name: str, known: tuple[str, ...]) -> list[str]:
    asked = [v for v in args.getlist(f"{name}[]") + args.getlist(name) if v]
    unknown = [v for v in asked if v not in known]
    if unknown:
        raise invalid({f"{name}[]": [f"unknown {name} {unknown[0]!r}; the sandbox's analyzer supports: "
                                     f"{', '.join(known)}"]})
    return list(dict.fromkeys(asked))


def _day(args: MultiDict[str, str], name: str) -> date | None:
    raw = args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise invalid({name: [f"must be a date as YYYY-MM-DD, got {raw[:40]!r}"]}) from None


def _whole(raw: str, name: str) -> int:
    if not raw.strip().isdigit() or int(raw) < 1:
        raise invalid({name: ["must be a positive whole number"]})
    return int(raw)


def _filter(args: MultiDict[str, str], name: str) -> Any:
    raw = args.get(name, "").strip()
    if not raw:
        return None
    try:
        flt = json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"{name} is not valid JSON: {exc}", {name: [raw[:200]]}) from exc
    check_filter(flt)
    return flt


def _keeper(records: dict[int, Record], flt: Any) -> Any:
    if flt is None:
        return lambda ident: True
    kept = {ident for ident, record in records.items() if matches(record, flt)}
    return kept.__contains__


def _history_sums(history: SalesHistory, start: date | None, end: date | None, groups: list[str],
                  dimension: list[Any], keep_item: Any, keep_location: Any) -> dict[tuple[Any, ...], list[float]]:
    """The seeded history summed per group, with numpy: label each nonzero (series, day) cell by
    its group values' codes, then add up per distinct label."""
    first = 0 if start is None else max(0, (start - history.start).days)
    last = history.days if end is None else min(history.days, (end - history.start).days + 1)
    if first >= last:
        return {}
    kept = np.array([keep_item(i) and keep_location(loc) for i, loc in
                     zip(history.item_ids.tolist(), history.location_ids.tolist(), strict=True)], dtype=bool)
    qty = np.where(kept[:, None], history.qty[:, first:last], 0)
    rows, cols = np.nonzero(qty)
    if not len(rows):
        return {}
    days = history.dates()[first:last]
    codes: list[np.ndarray] = []
    values: list[list[Any]] = []
    for name, value in zip(groups, dimension, strict=True):
        if name.startswith("date."):
            per_cell = [value(day, 0, 0) for day in days]
            at = cols
        elif name.startswith("item."):
            per_cell = [value(days[0], i, 0) for i in history.item_ids.tolist()]
            at = rows
        else:
            per_cell = [value(days[0], 0, loc) for loc in history.location_ids.tolist()]
            at = rows
        distinct = sorted(set(per_cell), key=_sort_key)
        index = {v: n for n, v in enumerate(distinct)}
        codes.append(np.array([index[v] for v in per_cell], dtype=np.int64)[at])
        values.append(distinct)
    cells = np.stack([qty[rows, cols].astype(float), history.net_sales[rows, first + cols]])
    if codes:
        labels, inverse = np.unique(np.stack(codes, axis=1), axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
    else:
        labels, inverse = np.zeros((1, 0), dtype=int), np.zeros(len(rows), dtype=int)
    qty_sum = np.bincount(inverse, weights=cells[0], minlength=len(labels))
    net_sum = np.bincount(inverse, weights=cells[1], minlength=len(labels))
    return {tuple(values[d][code] for d, code in enumerate(label)): [q, n, q, 0.0]
            for label, q, n in zip(labels.tolist(), qty_sum.tolist(), net_sum.tolist(), strict=True)}


def _transaction_facts(state: State, start: date | None, end: date | None) -> Iterator[Fact]:
    def within(moment: str | None) -> date | None:
        if not moment:
            return None
        day = datetime.fromisoformat(moment).date()
        return day if (start is None or day >= start) and (end is None or day <= end) else None

    for ticket in state.tickets.records.values():
        day = within(ticket.get("completed_at")) if ticket.get("status") == "complete" else None
        if day is None:
            continue
        for line in state.ticket_lines.where("ticket_id", ticket["id"]):
            if line.get("type") == "ItemLine":
                yield _line_fact(day, line, int(ticket["source_location_id"]))
    for invoice in state.invoices.records.values():
        day = within(invoice.get("completed_at")) if invoice.get("status") == "complete" else None
        if day is None:
            continue
        for line in state.invoice_lines.where("invoice_id", invoice["id"]):
            yield _line_fact(day, line, int(invoice["source_location_id"]))


def _line_fact(day: date, line: Record, location_id: int) -> Fact:
    qty = float(line.get("qty") or 0)
    price = line.get("adjusted_unit_price")
    price = float(line.get("unit_price") or 0) if price is None else float(price)
    return day, int(line["item_id"]), location_id, qty, round(qty * price, 2), max(qty, 0.0), max(-qty, 0.0)
