"""Sample records for the mapping page: the latest live orders (as Magento sends them and as the
orders flow makes them canonical) or a file the integrator uploads (JSON or CSV).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from service.rules.templates import set_path

if TYPE_CHECKING:
    from service.flows.context import Context
from service.flows.templates import TemplateError

SAMPLE_LIMIT = 5


@dataclass
class Samples:
    """Real records to preview with, the context the flow would pass with each, and where they came from."""

    records: list[dict[str, Any]]
    contexts: list[dict[str, Any]]
    labels: list[str]
    origin: str
    system: str = ""  # magento | heartland | "" (applies that system's field naming)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _store_code(runtime: Context) -> str:
    return runtime.settings.TILLBRIDGE_MAGENTO_STORE_CODE or "default"


def _magento_orders(runtime: Context, limit: int) -> Samples:
    found = runtime.magento.search_orders(sort=[("entity_id", "DESC")], page_size=limit)
    records = [dict(r) for r in found.get("items") or []]
    store_code = _store_code(runtime)
    return Samples(records, [{"store_code": store_code} for _ in records],
                   [f"Magento order #{r.get('increment_id', r.get('entity_id'))}" for r in records],
                   "recent Magento orders", "magento")


def _canonical_orders(runtime: Context, limit: int) -> Samples:
    """Recent Magento orders as canonical orders, with the Heartland ids the flow would look up (read only)."""
    from service.flows.orders import OrdersFlow, order_ref
    from service.kernel.errors import SyncError

    magento = _magento_orders(runtime, limit)
    flow = OrdersFlow(runtime)
    heartland = runtime.heartland
    out = Samples([], [], [], "recent Magento orders, normalised, with Heartland ids looked up", "")
    for raw, label in zip(magento.records, magento.labels, strict=True):
        store_code = _store_code(runtime)
        try:
            order, _ = flow.normalize(raw, store_code)
            items = heartland.find_items_by_public_ids(sorted({line.sku for line in order.lines}))
            location_id, station_id = flow.selling_context()
            customers = heartland.find_customers_by_email(order.email) if order.email else []
        except SyncError as exc:
            out.notes.append(f"{label}: {exc}")
            continue
        lines = [{"item_id": (items.get(line.sku) or {}).get("id"), "qty": line.qty,
                  "net_unit_price": line.net_unit_price} for line in order.lines]
        # A customer or address that does not exist yet is created at sync time; the preview shows that.
        customer_id: Any = int(min(customers, key=lambda c: int(c["id"]))["id"]) if customers else "(created at sync)"
        out.records.append(asdict(order))
        out.contexts.append({"customer_id": customer_id, "station_id": station_id, "location_id": location_id,
                             "billing_address_id": "(looked up at sync)", "shipping_address_id": "(looked up at sync)",
                             "ref": order_ref(store_code, order.number), "lines": lines})
        out.labels.append(label)
    return out


SAMPLE_SOURCES: dict[str, Callable[[Context, int], Samples]] = {
    "orders.magento_to_canonical": _magento_orders,
    "orders.canonical_to_heartland": _canonical_orders,
}


def live_samples(runtime: Context, template: str, limit: int = SAMPLE_LIMIT) -> Samples:
    """Recent real records for ``template``'s source side, fetched now from the connected system."""
    fetch = SAMPLE_SOURCES.get(template)
    if fetch is None:
        return Samples([], [], [], "none", notes=[f"no live source is known for {template}: upload sample "
                                                    "records (JSON or CSV)"])
    return fetch(runtime, limit)


def uploaded_samples(text: str, filename: str = "") -> Samples:
    """Sample records from an upload: JSON (a record, a list of records, or {"records": [...]}) or CSV."""
    stripped = text.strip()
    if not stripped:
        raise TemplateError("the sample file is empty: upload JSON records or a CSV with a header row")
    records: list[dict[str, Any]]
    if filename.lower().endswith(".csv") or stripped[0] not in "[{":
        rows = list(csv.DictReader(io.StringIO(stripped)))
        records = []
        for row in rows:
            record: dict[str, Any] = {}
            for key, value in row.items():
                if key:
                    set_path(record, key.strip(), value)
            records.append(record)
    else:
        try:
            data = json.loads(stripped)
        except ValueError as exc:
            raise TemplateError(f"the sample file is not valid JSON ({exc}): upload JSON records or a CSV") from None
        if isinstance(data, Mapping) and isinstance(data.get("records"), list):
            data = data["records"]
        elif isinstance(data, Mapping) and isinstance(data.get("items"), list):
            data = data["items"]  # a Magento search result
        records = [dict(data)] if isinstance(data, Mapping) else list(data) if isinstance(data, list) else []
        if not records or not all(isinstance(r, Mapping) for r in records):
            raise TemplateError("the JSON must be a record or a list of records (objects)")
    records = [dict(r) for r in records[:SAMPLE_LIMIT * 4]]
    context = [dict(r.pop("$", {}) or {}) for r in records]
    return Samples(records, context, [f"uploaded record {i + 1}" for i in range(len(records))],
                   f"uploaded {filename or 'samples'}")
