"""How each collection reads: its rendering, what ``_include[]`` can embed, and list/get.

Records leave the state lock only as copies made here, so handlers can serialise them freely.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from service.sandbox.heartland.customers import render_customer
from service.sandbox.heartland.inventory import value_row
from service.sandbox.heartland.query import (
    ListQuery,
    candidate_ids,
    matches,
    page_of,
    parse_list_query,
    select_fields,
    sort_rows,
    unknown_include,
)
from service.sandbox.heartland.sales import render_invoice, render_line, render_order, render_ticket
from service.sandbox.heartland.state import Collection, Record, State, not_found

Render = Callable[[State, Record, list[str]], Record]
Embed = Callable[[State, Record], Any]


def copy_record(state: State, record: Record, include: list[str]) -> Record:
    return {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v) for k, v in record.items()}


@dataclass(frozen=True)
class Resource:
    kind: str
    path: str  # under /api, for Location headers
    collection: Callable[[State], Collection]
    render: Render = copy_record
    includes: dict[str, Embed] = field(default_factory=dict)
    allow_all: bool = False  # per_page=all accepted
    search: tuple[str, ...] = ()  # fields the free-text ``query=`` looks in


def _one(coll: Callable[[State], Collection], key: str | tuple[str, ...], resource: Callable[[], Resource]) -> Embed:
    keys = (key,) if isinstance(key, str) else key

    def embed(state: State, row: Record) -> Any:
        ident = next((row[k] for k in keys if row.get(k) is not None), None)
        record = coll(state).get(ident) if ident is not None else None
        return None if record is None else resource().render(state, record, [])
    return embed


def _many(coll: Callable[[State], Collection], key: str, resource: Callable[[], Resource]) -> Embed:
    def embed(state: State, row: Record) -> Any:
        return [resource().render(state, r, []) for r in coll(state).where(key, row["id"])]
    return embed


def _lines_render(state: State, record: Record, include: list[str]) -> Record:
    return render_line(record)


def _row_value(name: str) -> Embed:
    return lambda state, row: row.get(name)


def _embed_customer(state: State, row: Record) -> Any:
    customer = state.customers.get(row["customer_id"]) if row.get("customer_id") else None
    return render_customer(customer) if customer else None


def _location() -> Embed:
    return _one(lambda s: s.locations, ("location_id", "source_location_id"), lambda: LOCATIONS)


def _item() -> Embed:
    return _one(lambda s: s.items, "item_id", lambda: ITEMS)


LOCATIONS: Resource
ITEMS: Resource
INVOICES: Resource
STATIONS = Resource("station", "stations", lambda s: s.stations, includes={"location": _location()}, allow_all=True)
LOCATIONS = Resource("location", "locations", lambda s: s.locations, allow_all=True,
                     includes={"stations": _many(lambda s: s.stations, "location_id", lambda: STATIONS)})
ITEM_GRIDS = Resource("item grid", "item_grids", lambda s: s.item_grids,
                      includes={"items": _many(lambda s: s.items, "grid_id", lambda: ITEMS)})
ITEMS = Resource("item", "items", lambda s: s.items, search=("public_id", "description", "long_description"),
                 includes={"grid": _one(lambda s: s.item_grids, "grid_id", lambda: ITEM_GRIDS)})
ADDRESSES = Resource("address", "customers/{parent}/addresses", lambda s: s.addresses, allow_all=True)
CUSTOMERS = Resource("customer", "customers", lambda s: s.customers,
                     render=lambda state, record, include: render_customer(record),
                     search=("public_id", "first_name", "last_name", "email", "name"),
                     includes={"addresses": _many(lambda s: s.addresses, "customer_id", lambda: ADDRESSES)})
CUSTOM_FIELDS = Resource("custom field", "custom_fields", lambda s: s.custom_fields, allow_all=True)
PAYMENT_TYPES = Resource("payment type", "payment_types", lambda s: s.payment_types, allow_all=True)
ADJUSTMENT_REASONS = Resource("inventory adjustment reason", "reason_codes/inventory_adjustment_reasons",
                              lambda s: s.adjustment_reasons, allow_all=True)
GIFT_CARD_REASONS = Resource("gift card adjustment reason", "reason_codes/gift_card_adjustment_reasons",
                             lambda s: s.gift_card_reasons, allow_all=True)
ADJUSTMENT_LINES = Resource("inventory adjustment line", "inventory/adjustment_sets/{parent}/lines",
                            lambda s: s.adjustment_lines, includes={"item": _item()})
ADJUSTMENT_SETS = Resource(
    "inventory adjustment set", "inventory/adjustment_sets", lambda s: s.adjustment_sets,
    includes={"lines": _many(lambda s: s.adjustment_lines, "adjustment_set_id", lambda: ADJUSTMENT_LINES),
              "location": _location()})
INVENTORY_TRANSACTIONS = Resource("inventory transaction", "inventory/transactions",
                                  lambda s: s.inventory_transactions,
                                  includes={"item": _item(), "location": _location()})
ORDER_LINES = Resource("sales order line", "sales/orders/{parent}/lines", lambda s: s.order_lines,
                       render=_lines_render, includes={"item": _item()})
ORDER_PAYMENTS = Resource("sales order payment", "sales/orders/{parent}/payments", lambda s: s.order_payments)
ORDERS = Resource(
    "sales order", "sales/orders", lambda s: s.orders,
    render=lambda state, record, include: render_order(state, record),
    includes={
        "customer": _embed_customer, "location": _location(),
        "station": _one(lambda s: s.stations, "station_id", lambda: STATIONS),
        "billing_address": _one(lambda s: s.addresses, "billing_address_id", lambda: ADDRESSES),
        "shipping_address": _one(lambda s: s.addresses, "shipping_address_id", lambda: ADDRESSES),
        "lines": _many(lambda s: s.order_lines, "order_id", lambda: ORDER_LINES),
        "payments": _many(lambda s: s.order_payments, "order_id", lambda: ORDER_PAYMENTS),
        "invoices": _many(lambda s: s.invoices, "order_id", lambda: INVOICES),
    })
INVOICE_LINES = Resource("sales invoice line", "sales/invoices/{parent}/lines", lambda s: s.invoice_lines,
                         render=_lines_render, includes={"item": _item()})
INVOICE_PAYMENTS = Resource("sales invoice payment", "sales/invoices/{parent}/payments",
                            lambda s: s.invoice_payments)
INVOICES = Resource(
    "sales invoice", "sales/invoices", lambda s: s.invoices,
    render=lambda state, record, include: render_invoice(state, record),
    includes={
        "customer": _embed_customer, "location": _location(),
        "order": _one(lambda s: s.orders, "order_id", lambda: ORDERS),
        "lines": _many(lambda s: s.invoice_lines, "invoice_id", lambda: INVOICE_LINES),
        "payments": _many(lambda s: s.invoice_payments, "invoice_id", lambda: INVOICE_PAYMENTS),
    })
TICKET_LINES = Resource("sales ticket line", "sales/tickets/{parent}/lines", lambda s: s.ticket_lines,
                        render=_lines_render, includes={"item": _item()})
TICKET_PAYMENTS = Resource("sales ticket payment", "sales/tickets/{parent}/payments", lambda s: s.ticket_payments)
TICKETS = Resource(
    "sales ticket", "sales/tickets", lambda s: s.tickets, render=render_ticket,
    includes={
        "customer": _embed_customer, "location": _location(),
        "lines": _many(lambda s: s.ticket_lines, "ticket_id", lambda: TICKET_LINES),
        "payments": _many(lambda s: s.ticket_payments, "ticket_id", lambda: TICKET_PAYMENTS),
        "subtotal": _row_value("subtotal"), "tax_total": _row_value("tax_total"),
    })
GIFT_CARDS = Resource("gift card", "gift_cards", lambda s: s.gift_cards, search=("number",),
                      includes={"customer": _embed_customer})
GIFT_CARD_ADJUSTMENTS = Resource(
    "gift card adjustment", "gift_card_adjustments", lambda s: s.gift_card_adjustments,
    includes={"gift_card": _one(lambda s: s.gift_cards, "gift_card_id", lambda: GIFT_CARDS)})
WEBHOOKS = Resource("webhook", "webhooks", lambda s: s.webhooks, allow_all=True)
INVENTORY_VALUES_INCLUDES: dict[str, Embed] = {"item": _item(), "location": _location()}


def _check_includes(resource: Resource, query: ListQuery) -> None:
    for name in query.include:
        if name not in resource.includes:
            raise unknown_include(name, resource.includes)


def _finish(state: State, resource: Resource, row: Record, query: ListQuery) -> Record:
    for name in query.include:
        row[name] = resource.includes[name](state, row)
    return row


def list_records(state: State, resource: Resource, args: MultiDict[str, str],
                 scope: dict[str, Any] | None = None) -> dict[str, Any]:
    """A page of a collection: ``{"results", "total", "pages"}``."""
    query = parse_list_query(args, allow_all=resource.allow_all)
    _check_includes(resource, query)
    filters = [*query.filters, scope] if scope else query.filters
    with state.lock:
        coll = resource.collection(state)
        ids = candidate_ids(coll, filters)
        records = coll.records.values() if ids is None else [coll.records[i] for i in ids if i in coll.records]
        rows = [resource.render(state, r, query.include) for r in records]
        rows = [r for r in rows if matches(r, filters)]
        if query.search and resource.search:
            rows = [r for r in rows if any(query.search in str(r.get(f) or "").lower() for f in resource.search)]
        rows = sort_rows(rows, query.sort)
        page, total, pages = page_of(rows, query)
        page = [_finish(state, resource, row, query) for row in page]
    if query.only:
        page = [select_fields(row, query.only, query.include) for row in page]
    return {"results": page, "total": total, "pages": pages}


def get_record(state: State, resource: Resource, ident: Any, args: MultiDict[str, str],
               scope: dict[str, Any] | None = None) -> Record:
    query = parse_list_query(args, allow_all=True, plain_filters=False)
    _check_includes(resource, query)
    with state.lock:
        record = resource.collection(state).get(ident)
        if record is None or (scope and any(record.get(k) != v for k, v in scope.items())):
            raise not_found(resource.kind, ident)
        row = _finish(state, resource, resource.render(state, record, query.include), query)
    return select_fields(row, query.only, query.include) if query.only else row


def render(state: State, resource: Resource, record: Record) -> Record:
    with state.lock:
        return resource.render(state, record, [])


def render_inventory_value(state: State, row: Record, include: list[str]) -> Record:
    out = value_row(row) if "qty_available" not in row else dict(row)
    for name in include:
        out[name] = INVENTORY_VALUES_INCLUDES[name](state, out)
    return out
