"""The Heartland sandbox's in-memory account: collections with indexes, the clock, and errors.

Every request runs its logic while holding ``State.lock`` (a re-entrant lock), so a request sees
and leaves a consistent account; records leave the lock only as fresh copies (see resources.py).
"""

from __future__ import annotations

import threading
import uuid as uuid_module
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from service.sandbox.harness import SandboxError

if TYPE_CHECKING:
    from service.sandbox.heartland.history import SalesHistory

Record = dict[str, Any]
EventSink = Callable[[str, Record], None]


class ApiError(SandboxError):
    """An error answered as ``{"error", "message", "details"}`` with an HTTP status."""

    def __init__(self, status: int, error: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.details = details or {}

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "message": self.message, "details": self.details}


def not_found(kind: str, ident: Any) -> ApiError:
    return ApiError(404, "not_found", f"{kind} {ident} not found")


def invalid(details: dict[str, list[str]], message: str = "") -> ApiError:
    if not message:
        first = next(iter(details.items()))
        message = f"Validation failed: {first[0]} {first[1][0]}"
    return ApiError(422, "validation_error", message, details)


def bad_request(message: str, details: dict[str, Any] | None = None) -> ApiError:
    return ApiError(400, "bad_request", message, details)


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


class Sequence:
    """Ids for one table; sales orders, invoices and tickets share one, as sales transactions."""

    def __init__(self, first: int = 100001) -> None:
        self.next = first

    def take(self) -> int:
        value = self.next
        self.next += 1
        return value

    def seen(self, value: int) -> None:
        self.next = max(self.next, value + 1)


class Collection:
    """Records by id, with equality indexes on chosen fields and, optionally, on custom values."""

    def __init__(self, name: str, indexed: Iterable[str] = (), custom_index: bool = False,
                 sequence: Sequence | None = None) -> None:
        self.name = name
        self.records: dict[int, Record] = {}
        self.sequence = sequence or Sequence()
        self.indexed = tuple(indexed)
        self.indexes: dict[str, defaultdict[Any, set[int]]] = {f: defaultdict(set) for f in self.indexed}
        self.custom_index: defaultdict[str, defaultdict[Any, set[int]]] | None = (
            defaultdict(lambda: defaultdict(set)) if custom_index else None
        )

    def __len__(self) -> int:
        return len(self.records)

    def add(self, record: Record) -> Record:
        if "id" not in record:
            fields = dict(record)
            record.clear()
            record["id"] = self.sequence.take()  # first, as Heartland lists it
            record.update(fields)
        self.sequence.seen(record["id"])
        self.records[record["id"]] = record
        self._index(record, +1)
        return record

    def get(self, ident: Any) -> Record | None:
        key = as_int(ident)
        return None if key is None else self.records.get(key)

    def require(self, ident: Any, kind: str) -> Record:
        record = self.get(ident)
        if record is None:
            raise not_found(kind, ident)
        return record

    def update(self, record: Record, changes: dict[str, Any]) -> Record:
        self._index(record, -1)
        record.update(changes)
        self._index(record, +1)
        return record

    def remove(self, record: Record) -> None:
        self._index(record, -1)
        del self.records[record["id"]]

    def ids_where(self, field: str, value: Any) -> set[int] | None:
        """Ids whose ``field`` equals ``value``, or None when the field has no index."""
        if field.startswith("custom@"):
            if self.custom_index is None:
                return None
            bucket = self.custom_index.get(field[len("custom@"):])
            return set(bucket.get(value, ())) if bucket is not None and _hashable(value) else set()
        index = self.indexes.get(field)
        if index is None:
            return None
        return set(index.get(value, ())) if _hashable(value) else set()

    def where(self, field: str, value: Any) -> list[Record]:
        ids = self.ids_where(field, value)
        if ids is None:
            return [r for r in self.records.values() if r.get(field) == value]
        return [self.records[i] for i in sorted(ids)]

    def first_where(self, field: str, value: Any) -> Record | None:
        found = self.where(field, value)
        return found[0] if found else None

    def _index(self, record: Record, sign: int) -> None:
        for field in self.indexed:
            self._touch(self.indexes[field], record.get(field), record["id"], sign)
        if self.custom_index is not None:
            for key, value in (record.get("custom") or {}).items():
                self._touch(self.custom_index[key], value, record["id"], sign)

    @staticmethod
    def _touch(index: defaultdict[Any, set[int]], value: Any, ident: int, sign: int) -> None:
        if value is None or not _hashable(value):
            return
        if sign > 0:
            index[value].add(ident)
            return
        bucket = index.get(value)
        if bucket is not None:
            bucket.discard(ident)
            if not bucket:
                del index[value]


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


class State:
    """One sandbox account. Domain modules read and change it while holding ``lock``."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.emit: EventSink = lambda event, record: None
        self.make_uuid: Callable[[], str] = lambda: uuid_module.uuid4().hex
        self.settings: dict[str, Any] = {}
        self.public_counters: dict[str, int] = {}
        c = Collection
        self.locations = c("location", ["public_id"])
        self.stations = c("station", ["location_id"])
        self.items = c("item", ["public_id", "grid_id", "uuid"], custom_index=True)
        self.item_grids = c("item grid", ["public_id"])
        self.custom_fields = c("custom field", ["key", "group_id"])
        self.customers = c("customer", ["public_id", "email"], custom_index=True)
        self.addresses = c("address", ["customer_id"])
        self.payment_types = c("payment type", ["name"])
        self.inventory = c("inventory value", ["item_id", "location_id"])
        self.inventory_transactions = c("inventory transaction", ["item_id", "location_id"])
        self.adjustment_reasons = c("inventory adjustment reason", ["name"])
        self.adjustment_sets = c("inventory adjustment set", ["location_id", "status"], custom_index=True)
        self.adjustment_lines = c("inventory adjustment line", ["adjustment_set_id", "item_id"])
        transactions = Sequence()
        self.orders = c("sales order", ["public_id", "customer_id", "status"], custom_index=True,
                        sequence=transactions)
        self.order_lines = c("sales order line", ["order_id", "item_id"])
        self.order_payments = c("sales order payment", ["order_id"])
        self.invoices = c("sales invoice", ["public_id", "order_id", "status"], custom_index=True,
                          sequence=transactions)
        self.invoice_lines = c("sales invoice line", ["invoice_id", "order_line_id"])
        self.invoice_payments = c("sales invoice payment", ["invoice_id"])
        self.tickets = c("sales ticket", ["public_id", "customer_id", "parent_transaction_id", "type"],
                         custom_index=True, sequence=transactions)
        self.ticket_lines = c("sales ticket line", ["ticket_id", "item_id"])
        self.ticket_payments = c("sales ticket payment", ["ticket_id"])
        self.gift_cards = c("gift card", ["number", "customer_id"], custom_index=True)
        self.gift_card_reasons = c("gift card adjustment reason", ["name"])
        self.gift_card_adjustments = c("gift card adjustment", ["gift_card_id"], custom_index=True)
        self.webhooks = c("webhook", [])
        self.inventory_keys: dict[tuple[int, int], int] = {}
        self.sales_history: SalesHistory | None = None  # seeded daily sales totals (history.py)
        self.report_cache: dict[Any, Any] = {}  # the analyzer's last answer (reports.py)

    def now(self) -> str:
        return timestamp(self.clock())

    def next_public_id(self, counter: str, collection: Collection, start: int) -> str:
        """The next free human number (Item #, Customer #, order #) of a collection."""
        value = self.public_counters.get(counter, start)
        while collection.ids_where("public_id", str(value)):
            value += 1
        self.public_counters[counter] = value + 1
        return str(value)

    def new_uuid(self) -> str:
        return self.make_uuid()


def find_item(state: State, item_id: Any = None, lookup: Any = None) -> Record | None:
    """An item by id, or by ``item_lookup`` (Item #, then UUID), as write endpoints accept."""
    if item_id not in (None, ""):
        return state.items.get(item_id)
    if lookup not in (None, ""):
        text = str(lookup).strip()
        return state.items.first_where("public_id", text) or state.items.first_where("uuid", text)
    return None
