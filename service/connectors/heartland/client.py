"""The Heartland Retail REST client: Bearer auth, paging, filters, creates that read ``Location``.

``base_url`` is the account's API root, ``https://{sub}.retail.heartland.us/api`` (``/api`` is
added when missing). Paths are relative to it: ``items``, ``sales/orders/100123/lines``.

Writes are sequential per account within a process by default (``sequential_writes=True``):
Heartland throttles parallel writes (parallel adjustment lines fail where sequential ones pass), so
concurrent jobs queue on one lock per base URL instead of provoking errors. Reads run in parallel.
Failed reads that are safe to repeat (network errors, 5xx, 429) are retried ``read_retries`` times
with the engine's RetryPolicy (full jitter, ``Retry-After`` as a floor) when the wait is short;
longer waits and all writes are left to the engine, which retries a write only after a lookup.
"""

from __future__ import annotations

import builtins
import json
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from service.connectors.http import HttpConnector, Response
from service.kernel.errors import DestinationUnavailable, FatalError, NotFoundInTargetError, RetryableError
from service.kernel.exchanges import ExchangeHook
from service.kernel.retry import RetryPolicy
from service.settings import Settings

Record = dict[str, Any]
Filters = dict[str, Any] | list[dict[str, Any]] | None
# Aliases, because HeartlandClient.list shadows the builtin inside the class body.
RecordList = list[Record]
FilterList = list[dict[str, Any]]
QueryPairs = list[tuple[str, Any]]

DEFAULT_PER_PAGE = 20
SCAN_PER_PAGE = 200
REPORT_PER_PAGE = 5000  # the analyzer answers one report in pages; the largest page Heartland serves
MAX_IN_VALUES = 200  # values per ``$in`` query, to keep URLs well under server limits
DEFAULT_KEY_FIELD = "tillbridge_key"
MAX_READ_WAIT_SECONDS = 10.0
READ_RETRY_POLICY = RetryPolicy(base_seconds=0.2, cap_seconds=2.0)

_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


def _write_lock(base_url: str) -> threading.Lock:
    with _write_locks_guard:
        return _write_locks.setdefault(base_url, threading.Lock())


@dataclass
class Page:
    results: list[Record]
    total: int
    pages: int
    page: int


def api_root(base_url: str) -> str:
    root = base_url.rstrip("/")
    return root if urlparse(root).path.endswith("/api") else f"{root}/api"


def normalise_webhook_payload(payload: Record) -> Record:
    """A webhook record with its ``?``-suffixed booleans (``active?``) renamed as REST names them."""
    return {(k[:-1] if k.endswith("?") else k): v for k, v in payload.items()}


def _combine(*filters: Filters) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for flt in filters:
        if flt is None:
            continue
        out.extend(flt if isinstance(flt, list) else [flt])
    return out


def _chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


class HeartlandClient(HttpConnector):
    destination = "heartland"

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 15.0,
        connect_timeout: float = 5.0,
        rate_per_second: float = 0.0,
        on_exchange: ExchangeHook | None = None,
        sequential_writes: bool = True,
        read_retries: int = 2,
        key_field: str = DEFAULT_KEY_FIELD,
    ) -> None:
        super().__init__(api_root(base_url), timeout=timeout, connect_timeout=connect_timeout,
                         rate_per_second=rate_per_second, on_exchange=on_exchange)
        if not token:
            raise ValueError("a Heartland API token is required: set TILLBRIDGE_HEARTLAND_TOKEN")
        self.token = token
        self.sequential_writes = sequential_writes
        self.read_retries = read_retries
        self.key_field = key_field

    @classmethod
    def from_settings(cls, s: Settings, **options: Any) -> HeartlandClient:
        """A client of the Heartland ``s`` names (URL, token, timeouts); ``options`` as for the constructor."""
        return cls(s.TILLBRIDGE_HEARTLAND_URL, s.TILLBRIDGE_HEARTLAND_TOKEN, timeout=s.HTTP_TIMEOUT_SECONDS,
                   connect_timeout=s.HTTP_CONNECT_TIMEOUT_SECONDS, **options)

    def prepare_request(self, method: str, url: str, headers: dict[str, str]) -> None:
        headers["Authorization"] = f"Bearer {self.token}"

    # -- generic verbs -----------------------------------------------------------------------------
    def _read(self, method: str, path: str, params: Any = None) -> Response:
        attempt = 0
        while True:
            try:
                return self.send(method, path, params=params)
            except DestinationUnavailable:
                raise  # the breaker is open: waiting here would only hold a worker
            except RetryableError as exc:
                attempt += 1
                wait = READ_RETRY_POLICY.delay(attempt, exc.retry_after)
                if attempt > self.read_retries or wait > MAX_READ_WAIT_SECONDS:
                    raise  # long waits belong to the engine's schedule, not to a blocked worker
                time.sleep(wait)

    def _writing(self) -> AbstractContextManager[Any]:
        return _write_lock(self.base_url) if self.sequential_writes else nullcontext()

    def get(self, path: str, *, include: Iterable[str] = (), only: Iterable[str] = ()) -> Record:
        params = [("_include[]", name) for name in include] + [("_only[]", name) for name in only]
        body = self._read("GET", path, params or None).json()
        if not isinstance(body, dict):
            raise FatalError(f"heartland GET {path} answered {type(body).__name__}, not an object")
        return body

    def exists(self, path: str) -> bool:
        try:
            self._read("HEAD", path)
        except NotFoundInTargetError:
            return False
        return True

    def list(self, path: str, filters: Filters = None, sort: Iterable[str] = (), *, page: int = 1,
             per_page: int | str = DEFAULT_PER_PAGE, include: Iterable[str] = (), only: Iterable[str] = (),
             params: dict[str, Any] | None = None) -> Page:
        """One page; ``filters`` is a filter object or a list of them (ANDed), sent as ``_filter``."""
        query: QueryPairs = [("page", page), ("per_page", per_page)]
        combined = _combine(filters)
        if combined:
            query.append(("_filter", json.dumps(combined[0] if len(combined) == 1 else combined,
                                                separators=(",", ":"))))
        query += [("sort[]", s) for s in sort]
        query += [("_include[]", name) for name in include] + [("_only[]", name) for name in only]
        for key, value in (params or {}).items():
            if isinstance(value, list | tuple):
                query += [(key if key.endswith("[]") else f"{key}[]", v) for v in value]
            else:
                query.append((key, value))
        body = self._read("GET", path, query).json()
        if not isinstance(body, dict) or "results" not in body:
            raise FatalError(f"heartland GET {path} did not answer a collection (no 'results')")
        return Page(results=body["results"], total=int(body.get("total", len(body["results"]))),
                    pages=int(body.get("pages", 1)), page=page)

    def list_all(self, path: str, filters: Filters = None, sort: Iterable[str] = (), **kwargs: Any) -> RecordList:
        """Every page of a small collection, by page number (use ``iterate`` for large ones)."""
        out: RecordList = []
        per_page = kwargs.pop("per_page", SCAN_PER_PAGE)
        page = 1
        while True:
            got = self.list(path, filters, sort, page=page, per_page=per_page, **kwargs)
            out.extend(got.results)
            if page >= got.pages or not got.results:
                return out
            page += 1

    def iterate(self, path: str, filters: Filters = None, *, per_page: int = SCAN_PER_PAGE,
                include: Iterable[str] = (), only: Iterable[str] = ()) -> Iterator[Record]:
        """Every matching record, oldest id first, by keyset (``sort=id`` and ``id > last``).

        Unlike page numbers, a keyset scan neither skips nor repeats records while others are
        created or deleted during the scan.
        """
        fields = list(only)
        if fields and "id" not in fields:
            fields.append("id")
        last: int | None = None
        while True:
            keyset = {"id": {"$gt": last}} if last is not None else None
            got = self.list(path, _combine(filters, keyset), ["id"], per_page=per_page, include=include, only=fields)
            yield from got.results
            if len(got.results) < per_page:
                return
            last = got.results[-1]["id"]

    def count(self, path: str, filters: Filters = None) -> int:
        return self.list(path, filters, per_page=1).total

    def create(self, path: str, body: Record) -> Record:
        """POST, then read the new record from its ``Location`` (Heartland answers 201 with no body)."""
        with self._writing():
            response = self.send("POST", path, json_body=body)
        location = response.headers.get("Location")
        if location:
            return self.get(self._relative(location))
        return self._created_body(path, response)

    def create_id(self, path: str, body: Record) -> int:
        """POST and return the new id from ``Location``, without reading the record back."""
        with self._writing():
            response = self.send("POST", path, json_body=body)
        location = response.headers.get("Location")
        if location:
            return self.id_from_location(location)
        return int(self._created_body(path, response)["id"])

    @staticmethod
    def _created_body(path: str, response: Response) -> Record:
        """The record a create answered in its body, for the few resources that send one."""
        created = response.json() if response.content else None
        if isinstance(created, dict) and "id" in created:
            return created
        raise FatalError(f"heartland POST {path} answered {response.status_code} with neither a Location nor an id",
                         hint="the record may exist: look it up by its external reference before creating again")

    def update(self, path: str, body: Record) -> Record:
        """Partial PUT; answers the record (read back when Heartland sends no body)."""
        with self._writing():
            response = self.send("PUT", path, json_body=body)
        if response.content:
            updated = response.json()
            if isinstance(updated, dict) and "id" in updated:
                return updated
        return self.get(path)

    def delete(self, path: str) -> None:
        with self._writing():
            self.send("DELETE", path)

    def _relative(self, location: str) -> str:
        """The API path of a ``Location`` header, read against our base URL (the host may differ)."""
        path = urlparse(location).path
        marker = "/api/"
        index = path.find(marker)
        if index < 0:
            raise FatalError(f"heartland answered a Location outside the API: {location}")
        return path[index + len(marker):]

    @staticmethod
    def id_from_location(location: str) -> int:
        return int(urlparse(location).path.rstrip("/").rsplit("/", 1)[-1])

    # -- locations, stations, settings --------------------------------------------------------------
    def locations(self) -> RecordList:
        return self.list("locations", per_page="all", include=["stations"]).results

    def stations(self, location_id: int) -> RecordList:
        return self.list(f"locations/{location_id}/stations", per_page="all").results

    def setting(self, key: str) -> Any:
        return self.get(f"settings/{key}").get("value")

    # -- items ----------------------------------------------------------------------------------------
    def item(self, item_id: int, include: Iterable[str] = ()) -> Record:
        return self.get(f"items/{item_id}", include=include)

    def find_item_by_public_id(self, public_id: str) -> Record | None:
        found = self.list("items", {"public_id": public_id}, per_page=2).results
        return found[0] if found else None

    def find_items_by_public_ids(self, public_ids: Iterable[str]) -> dict[str, Record]:
        """Items by Item # (= Magento SKU); one ``$in`` query per 200 numbers. Missing ones are absent."""
        wanted = list(dict.fromkeys(public_ids))
        out: dict[str, Record] = {}
        for chunk in _chunks(wanted, MAX_IN_VALUES):
            for item in self.list("items", {"public_id": {"$in": list(chunk)}}, per_page=len(chunk)).results:
                out[item["public_id"]] = item
        return out

    def create_item(self, body: Record) -> Record:
        return self.create("items", body)

    def update_item(self, item_id: int, body: Record) -> Record:
        return self.update(f"items/{item_id}", body)

    def iterate_items(self, updated_since: str | None = None) -> Iterator[Record]:
        return self.iterate("items", {"updated_at": {"$gte": updated_since}} if updated_since else None)

    def item_grid(self, grid_id: int, include: Iterable[str] = ()) -> Record:
        return self.get(f"item_grids/{grid_id}", include=include)

    def update_item_grid(self, grid_id: int, body: Record) -> Record:
        return self.update(f"item_grids/{grid_id}", body)

    # -- inventory ------------------------------------------------------------------------------------
    def inventory_values(self, item_ids: Iterable[int] | None = None, location_ids: Iterable[int] | None = None,
                         group: Sequence[str] = ("item_id", "location_id")) -> RecordList:
        """Stock rows summed per ``group`` (``qty_on_hand``, ``qty_committed``, ``qty_available``)."""
        filters: FilterList = []
        locations = list(location_ids) if location_ids is not None else None
        if locations is not None:
            filters.append({"location_id": {"$in": locations}})
        rows: RecordList = []
        items = list(dict.fromkeys(item_ids)) if item_ids is not None else None
        chunks: Iterable[Sequence[int] | None] = _chunks(items, MAX_IN_VALUES) if items is not None else [None]
        for chunk in chunks:
            extra = [{"item_id": {"$in": list(chunk)}}] if chunk is not None else []
            rows += self.list_all("inventory/values", filters + extra or None, params={"group": list(group)})
        return rows

    def available_by_item(self, item_ids: Iterable[int], location_ids: Iterable[int]) -> dict[int, float]:
        """``qty_available`` per item summed over the given (selling) locations; 0 for unseen items."""
        wanted = list(item_ids)
        out: dict[int, float] = dict.fromkeys(wanted, 0)
        for row in self.inventory_values(wanted, list(location_ids), group=("item_id",)):
            out[row["item_id"]] = row["qty_available"]
        return out

    def stock_changed_item_ids(self, since: str, location_ids: Iterable[int] | None = None) -> builtins.set[int]:
        """Items whose stock moved since ``since`` (ISO-8601), read from the inventory ledger.

        Filtering ``inventory/values`` by ``updated_at`` and grouping by item would sum only the
        locations that changed; read the ledger for the ids, then ``available_by_item`` for totals.
        """
        flt: Record = {"created_at": {"$gte": since}}
        if location_ids is not None:
            flt["location_id"] = {"$in": list(location_ids)}
        return {row["item_id"] for row in self.iterate("inventory/transactions", flt, only=["item_id"])}

    # -- reporting ------------------------------------------------------------------------------------
    def daily_sales(self, start_date: str, end_date: str) -> RecordList:
        """Net units and sales per day, item and location from the analyzer (``reporting/analyzer``),
        ``start_date``..``end_date`` inclusive (``YYYY-MM-DD``); days without a sale are left out."""
        return self.list_all("reporting/analyzer", per_page=REPORT_PER_PAGE, params={
            "metrics[]": ["source_sales.net_qty_sold", "source_sales.net_sales"],
            "group[]": ["date.date", "item.id", "item.public_id", "location.id"],
            "start_date": start_date, "end_date": end_date, "exclude_zeroes": "true",
            "subtotal": "false", "grand_total": "false",
        })

    def adjustment_reasons(self) -> RecordList:
        return self.list("reason_codes/inventory_adjustment_reasons", per_page="all").results

    def find_adjustment_set_by_key(self, key: str) -> Record | None:
        found = self.list("inventory/adjustment_sets", {f"custom@{self.key_field}": key}, per_page=2).results
        return found[0] if found else None

    def adjustment_set_lines(self, set_id: int) -> RecordList:
        return self.list_all(f"inventory/adjustment_sets/{set_id}/lines")

    def adjust_inventory(self, location_id: int, reason_id: int, lines: Sequence[Record], *,
                         key: str | None = None, description: str | None = None) -> Record:
        """Apply stock deltas as one adjustment set: create, post lines one by one, complete.

        ``lines`` are ``{"item_id", "qty" (delta), "unit_cost"?}``. With ``key`` the set carries it
        as a custom value and a repeat finds it: a complete set is returned untouched, a pending
        one (a crash mid-way) gets its missing lines and is completed — the deltas apply once.
        """
        existing = self.find_adjustment_set_by_key(key) if key else None
        if existing is not None and existing["status"] == "complete":
            return existing
        if existing is None:
            body: Record = {"location_id": location_id, "adjustment_reason_id": reason_id}
            if description:
                body["description"] = description
            if key:
                body["custom"] = {self.key_field: key}
            existing = self.create("inventory/adjustment_sets", body)
        posted = {line["item_id"] for line in self.adjustment_set_lines(existing["id"])}
        for line in lines:
            if line["item_id"] not in posted:
                self.create(f"inventory/adjustment_sets/{existing['id']}/lines", dict(line))
        return self.update(f"inventory/adjustment_sets/{existing['id']}", {"status": "complete"})

    # -- custom fields --------------------------------------------------------------------------------
    def custom_fields(self, group_id: str | None = None) -> RecordList:
        return self.list("custom_fields", {"group_id": group_id} if group_id else None, per_page="all").results

    def create_custom_field(self, body: Record) -> Record:
        return self.create("custom_fields", body)

    # -- customers ------------------------------------------------------------------------------------
    def customer(self, customer_id: int, include: Iterable[str] = ()) -> Record:
        return self.get(f"customers/{customer_id}", include=include)

    def find_customers_by_email(self, email: str, include: Iterable[str] = ()) -> RecordList:
        """Customers with this email, oldest first; Heartland does not keep emails unique.
        ``include=["addresses"]`` brings their addresses in the same call."""
        return self.list("customers", {"email": email.strip()}, ["id"], per_page=50, include=include).results

    def create_customer(self, body: Record) -> Record:
        return self.create("customers", body)

    def create_customer_id(self, body: Record) -> int:
        """Create a customer; only its id (no second call to read it back)."""
        return self.create_id("customers", body)

    def update_customer(self, customer_id: int, body: Record) -> Record:
        return self.update(f"customers/{customer_id}", body)

    def customer_addresses(self, customer_id: int) -> RecordList:
        return self.list(f"customers/{customer_id}/addresses", per_page="all").results

    def add_customer_address(self, customer_id: int, body: Record) -> Record:
        return self.create(f"customers/{customer_id}/addresses", body)

    def add_customer_address_id(self, customer_id: int, body: Record) -> int:
        """Add an address; only its id (no second call to read it back)."""
        return self.create_id(f"customers/{customer_id}/addresses", body)

    def update_customer_address(self, customer_id: int, address_id: int, body: Record) -> Record:
        return self.update(f"customers/{customer_id}/addresses/{address_id}", body)

    def iterate_customers(self, updated_since: str | None = None) -> Iterator[Record]:
        return self.iterate("customers", {"updated_at": {"$gte": updated_since}} if updated_since else None)

    # -- payment types --------------------------------------------------------------------------------
    def payment_types(self) -> RecordList:
        return self.list("payment_types", per_page="all").results

    def payment_type_by_name(self, name: str) -> Record | None:
        found = self.list("payment_types", {"name": name}, per_page=2).results
        return found[0] if found else None

    # -- sales orders ---------------------------------------------------------------------------------
    def find_sales_order_by_custom(self, key: str, value: Any) -> Record | None:
        found = self.list("sales/orders", {f"custom@{key}": value}, ["id"], per_page=2).results
        return found[0] if found else None

    def find_sales_order_by_public_id(self, public_id: str) -> Record | None:
        found = self.list("sales/orders", {"public_id": public_id}, per_page=2).results
        return found[0] if found else None

    def create_sales_order(self, body: Record) -> Record:
        return self.create("sales/orders", body)

    def create_sales_order_id(self, body: Record) -> int:
        """Create a sales order; only its id (no second call to read it back)."""
        return self.create_id("sales/orders", body)

    def sales_order(self, order_id: int, include: Iterable[str] = ()) -> Record:
        return self.get(f"sales/orders/{order_id}", include=include)

    def update_sales_order(self, order_id: int, body: Record) -> Record:
        return self.update(f"sales/orders/{order_id}", body)

    def sales_order_lines(self, order_id: int) -> RecordList:
        return self.list_all(f"sales/orders/{order_id}/lines")

    def add_sales_order_line(self, order_id: int, body: Record) -> Record:
        return self.create(f"sales/orders/{order_id}/lines", body)

    def update_sales_order_line(self, order_id: int, line_id: int, body: Record) -> Record:
        return self.update(f"sales/orders/{order_id}/lines/{line_id}", body)

    def add_sales_order_payment(self, order_id: int, body: Record) -> int:
        """Record a payment (e.g. a deposit) on the order; returns the payment's id."""
        return self.create_id(f"sales/orders/{order_id}/payments", body)

    def sales_order_payments(self, order_id: int) -> RecordList:
        return self.list_all(f"sales/orders/{order_id}/payments")

    def set_sales_order_status(self, order_id: int, status: str) -> Record:
        return self.update(f"sales/orders/{order_id}", {"status": status})

    def iterate_sales_orders(self, filters: Filters = None) -> Iterator[Record]:
        return self.iterate("sales/orders", filters)

    # -- invoices (fulfilment) ------------------------------------------------------------------------
    def create_invoice(self, order_id: int, station_id: int, source_location_id: int,
                       lines: Sequence[Record] | None = None, custom: Record | None = None) -> Record:
        """Invoice an open order from one location (all it ships from there unless ``lines`` say)."""
        body: Record = {"order_id": order_id, "station_id": station_id, "source_location_id": source_location_id}
        if lines is not None:
            body["lines"] = list(lines)
        if custom:
            body["custom"] = custom
        return self.create("sales/invoices", body)

    def complete_invoice(self, invoice_id: int) -> Record:
        return self.update(f"sales/invoices/{invoice_id}", {"status": "complete"})

    def invoice(self, invoice_id: int, include: Iterable[str] = ()) -> Record:
        return self.get(f"sales/invoices/{invoice_id}", include=include)

    def invoices_for_order(self, order_id: int) -> RecordList:
        return self.list_all("sales/invoices", {"order_id": order_id}, ["id"])

    def invoice_lines(self, invoice_id: int) -> RecordList:
        return self.list_all(f"sales/invoices/{invoice_id}/lines")

    def invoices_with_payments(self, order_id: int) -> RecordList:
        """The order's invoices, each with its ``payments`` embedded, in one read."""
        return self.list_all("sales/invoices", {"order_id": order_id}, ["id"], include=["payments"])

    def add_invoice_payment(self, invoice_id: int, body: Record) -> int:
        """Record a payment on an invoice (money taken after the order was fulfilled); returns its id."""
        return self.create_id(f"sales/invoices/{invoice_id}/payments", body)

    def iterate_invoices(self, completed_since: str | None = None) -> Iterator[Record]:
        flt = {"status": "complete", "completed_at": {"$gte": completed_since}} if completed_since else None
        return self.iterate("sales/invoices", flt)

    # -- tickets and returns --------------------------------------------------------------------------
    def ticket(self, ticket_id: int, include: Iterable[str] = ("lines", "payments")) -> Record:
        return self.get(f"sales/tickets/{ticket_id}", include=include)

    def create_ticket(self, body: Record) -> Record:
        return self.create("sales/tickets", body)

    def complete_ticket(self, ticket_id: int) -> Record:
        return self.update(f"sales/tickets/{ticket_id}", {"status": "complete"})

    def ticket_lines(self, ticket_id: int) -> RecordList:
        return self.list_all(f"sales/tickets/{ticket_id}/lines")

    def returns_for(self, transaction_id: int) -> RecordList:
        """Return tickets whose ``parent_transaction_id`` is this ticket or invoice."""
        return self.list_all("sales/tickets", {"type": "Return", "parent_transaction_id": transaction_id}, ["id"])

    def iterate_tickets(self, completed_since: str | None = None, ticket_type: str | None = None) -> Iterator[Record]:
        flt: Record = {"status": "complete"}
        if completed_since:
            flt["completed_at"] = {"$gte": completed_since}
        if ticket_type:
            flt["type"] = ticket_type
        return self.iterate("sales/tickets", flt)

    # -- gift cards -----------------------------------------------------------------------------------
    def gift_card(self, card_id: int) -> Record:
        return self.get(f"gift_cards/{card_id}")

    def find_gift_card(self, number: str) -> Record | None:
        found = self.list("gift_cards", {"number": "".join(number.split())}, per_page=2).results
        return found[0] if found else None

    def create_gift_card(self, body: Record) -> Record:
        return self.create("gift_cards", body)

    def gift_card_reasons(self) -> RecordList:
        return self.list("reason_codes/gift_card_adjustment_reasons", per_page="all").results

    def gift_card_adjustments(self, card_id: int) -> RecordList:
        return self.list_all("gift_card_adjustments", {"gift_card_id": card_id}, ["id"])

    def adjust_gift_card(self, card_id: int, amount: float, reason_id: int, *, key: str | None = None,
                         description: str | None = None) -> Record:
        """Move a balance by ``amount``; with ``key``, a repeat returns the first adjustment instead."""
        if key:
            found = self.list("gift_card_adjustments", {f"custom@{self.key_field}": key}, per_page=2).results
            if found:
                return found[0]
        body: Record = {"gift_card_id": card_id, "amount": amount, "reason_id": reason_id}
        if description:
            body["description"] = description
        if key:
            body["custom"] = {self.key_field: key}
        return self.create("gift_card_adjustments", body)

    # -- webhooks -------------------------------------------------------------------------------------
    def webhooks(self) -> RecordList:
        return self.list("webhooks", per_page="all").results

    def register_webhook(self, url: str, events: Sequence[str]) -> Record:
        return self.create("webhooks", {"url": url, "events": list(events)})

    def delete_webhook(self, webhook_id: int) -> None:
        self.delete(f"webhooks/{webhook_id}")
