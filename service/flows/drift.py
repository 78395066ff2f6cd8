"""Drift: where Heartland and Magento disagree although no event or poll says why, found on a
schedule (DRIFT_INTERVAL_SECONDS; 0 turns it off) and repaired through the flows.

What is compared, in batches (one Heartland list and one Magento search per batch, never a call
per record):
  stock         per SKU: Heartland's salable quantity (qty_available over the selling locations
                of rules/inventory.yaml, per MSI source in msi mode) against Magento's source items
                (source ``default`` in single-source mode, which the legacy stock API writes)
  order_status  orders bound in the last DRIFT_ORDER_DAYS days: the Magento order's state against
                the Heartland sales order's status (cancelled on one side only, or the Heartland
                order gone)

Each drifted record is repaired by the flow that owns it, through a normal sync item labelled
``drift: …`` (with what differed), so it shows, retries and dead-letters like any other:
  stock                                  an inventory item for the Heartland item: it reads the
                                         level as it is when it runs and writes it to Magento
  Magento cancelled, Heartland not       an orders item carrying the Magento order: the flow
                                         cancels the Heartland order, or sends a fulfilled one to
                                         review
  Heartland cancelled or gone, Magento   Magento owns the order, so Tillbridge does not cancel it:
  still open                             an orders item in review, saying what to do by hand

A record whose owning flow has an item waiting for it is in flight, not drifted; one with a drift
review still open is counted again but gets no second item. Each run is kept in Redis (the last one, and the last
DRIFT_RUNS_KEPT): when, how many checked and how many drifted per kind; /metrics exposes them.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from service.flows.inventory import InventoryFlow, StockRules, same_qty, source_quantities
from service.flows.inventory import entity_key as stock_key
from service.flows.order_polling import envelope as order_envelope
from service.flows.order_polling import store_code_of
from service.kernel.errors import SyncError
from service.kernel.numbers import whole_number
from service.store import items
from service.store.tables import Binding

if TYPE_CHECKING:
    from service.flows.context import Context

log = logging.getLogger(__name__)

KINDS = ("stock", "order_status")
LAST_KEY = "tb:drift:last"
RUNS_KEY = "tb:drift:runs"
LOCK_KEY = "tb:drift:lock"
FIRST_ASKED_KEY = "tb:drift:first-asked"
DEFAULT_SOURCE = "default"
PENDING = ("received", "processing")
LABEL_LIMIT = 200  # SyncItem.label's length
OPEN_IN_HEARTLAND = ("pending", "open")
ENDED_IN_MAGENTO = ("canceled", "closed")


@dataclass
class Drifted:
    kind: str
    key: str  # the owning flow's entity key
    what: str  # what differs, as a person reads it
    repair: str = ""  # what was done about it: "item 12", "review item 13", "item 9 already waiting"


@dataclass
class DriftReport:
    at: float  # epoch seconds, when the check began
    seconds: float = 0.0
    checked: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    drifted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    records: list[Drifted] = field(default_factory=list)
    repaired: list[int] = field(default_factory=list)  # item ids created (the ones to enqueue)

    def add(self, record: Drifted) -> None:
        self.records.append(record)
        self.drifted[record.kind] = self.drifted.get(record.kind, 0) + 1

    def summary(self) -> dict[str, Any]:
        return {"at": self.at, "seconds": round(self.seconds, 3), "checked": self.checked, "drifted": self.drifted,
                "repaired": len(self.repaired)}


def _chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _label(text: str) -> str:
    text = f"drift: {text}"
    return text if len(text) <= LABEL_LIMIT else text[:LABEL_LIMIT - 1] + "…"


# -- stock -----------------------------------------------------------------------------------------


def heartland_stock(runtime: Context, rules: StockRules) -> tuple[dict[str, int], dict[int, dict[str, float]]]:
    """(SKU → Heartland item id, item id → wanted quantity per Magento source code)."""
    heartland = runtime.heartland
    skus: dict[str, int] = {}
    for row in heartland.iterate("items", only=["id", "public_id"]):
        sku = str(row.get("public_id") or "").strip()
        if sku:
            skus[sku] = int(row["id"])
    wanted: dict[int, dict[str, float]] = {}
    if rules.mode == "msi":
        per_item: dict[int, list[dict[str, Any]]] = {}
        for row in heartland.inventory_values(None, rules.location_ids, group=("item_id", "location_id")):
            per_item.setdefault(int(row["item_id"]), []).append(row)
        for item_id in skus.values():
            wanted[item_id] = source_quantities(per_item.get(item_id, []), rules)
    else:
        levels = {int(row["item_id"]): float(row["qty_available"])
                  for row in heartland.inventory_values(None, rules.location_ids, group=("item_id",))}
        for item_id in skus.values():
            wanted[item_id] = {DEFAULT_SOURCE: levels.get(item_id, 0.0)}
    return skus, wanted


def magento_stock(runtime: Context, skus: Sequence[str], codes: Sequence[str],
                  batch: int) -> dict[str, dict[str, dict[str, Any]]]:
    """SKU → source code → Magento source item, for the given SKUs and sources, a batch per search."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    sources = sorted(set(codes))
    for chunk in _chunks(list(skus), batch):
        filters = [("sku", list(chunk), "in"), ("source_code", sources, "in")]
        for row in runtime.magento.iter_search("inventory/source-items", filters,
                                               page_size=min(500, len(chunk) * len(sources))):
            found.setdefault(str(row["sku"]), {})[str(row["source_code"])] = row
    return found


def stock_differences(wanted: dict[str, float], current: dict[str, dict[str, Any]]) -> list[str]:
    """What differs for one SKU, per source: quantity or in-stock status."""
    out = []
    for code, qty in sorted(wanted.items()):
        row = current.get(code)
        have = float(row.get("quantity") or 0) if row else 0.0
        status = int(row.get("status") or 0) if row else 0
        if row is None or not same_qty(have, qty) or status != (1 if qty > 0 else 0):
            where = "" if code == DEFAULT_SOURCE else f" at source {code}"
            out.append(f"Heartland {qty:g}, Magento {have:g}{' (out of stock)' if not status else ''}{where}")
    return out


def check_stock(runtime: Context, report: DriftReport, batch: int) -> None:
    flow = runtime.flow("inventory")
    assert isinstance(flow, InventoryFlow)
    rules = flow.stock_rules()
    skus, wanted = heartland_stock(runtime, rules)
    codes = [code or DEFAULT_SOURCE for code in rules.sources.values()]
    current = magento_stock(runtime, sorted(skus), codes, batch)
    found = []
    for sku in sorted(skus):
        if sku not in current:
            continue  # not in Magento (or in none of its selling sources): the products flow's concern
        report.checked["stock"] += 1
        item_id = skus[sku]
        differences = stock_differences(wanted[item_id], current[sku])
        if differences:
            found.append(Drifted("stock", stock_key(item_id), f"stock of {sku}: " + "; ".join(differences)))
    for record in settled(runtime, InventoryFlow.name, found):
        report.add(record)


def settled(runtime: Context, flow: str, found: Sequence[Drifted]) -> list[Drifted]:
    """The records whose owning flow has no item waiting for them: a difference an item is about to
    settle (a stock change waiting out its settle time, an event in the queue) is in flight, not drift."""
    with runtime.store.session() as session:
        newest = items.latest_by_key(session, flow, [r.key for r in found])
    return [r for r in found if r.key not in newest or newest[r.key].state not in PENDING]


def repair_stock(runtime: Context, records: Sequence[Drifted], report: DriftReport) -> None:
    with runtime.store.session() as session:
        newest = items.latest_by_key(session, InventoryFlow.name, [r.key for r in records])
        for record in records:
            last = newest.get(record.key)
            if last is not None and last.state in PENDING:
                # A run still to come reads the level when it starts: it is the repair.
                record.repair = f"item {last.id} already waiting"
                continue
            item_id = int(record.key.rsplit(":", 1)[1])
            item = items.create(session, flow=InventoryFlow.name, direction=InventoryFlow.direction,
                                entity_key=record.key, payload={"item_id": item_id},
                                source_version=last.source_version if last is not None else "",
                                label=_label(record.what))
            record.repair = f"item {item.id}"
            report.repaired.append(int(item.id))


# -- order statuses ---------------------------------------------------------------------------------


def bound_orders(runtime: Context, days: float) -> list[Binding]:
    since = datetime.now(UTC) - timedelta(days=days)
    with runtime.store.session() as s:
        return list(s.scalars(select(Binding).where(Binding.entity == "order", Binding.system == "heartland",
                                                    Binding.created_at >= since).order_by(Binding.id)))


def order_entity_id(binding: Binding) -> int | None:
    return whole_number(binding.key.rsplit(":", 1)[-1])


OrderDrift = tuple[Drifted, dict[str, Any], bool]  # the record, its order event, whether the flow repairs it


def check_orders(runtime: Context, report: DriftReport, batch: int, days: float) -> list[OrderDrift]:
    """Drifted orders, each with its Magento order as an ``order.updated`` event carries it."""
    found: list[OrderDrift] = []
    codes: dict[int, str] | None = None
    for chunk in _chunks(bound_orders(runtime, days), batch):
        by_entity = {eid: b for b in chunk if (eid := order_entity_id(b)) is not None}
        if not by_entity:
            continue
        magento_orders = {int(o["entity_id"]): o for o in
                          runtime.magento.iter_orders([("entity_id", sorted(by_entity), "in")], page_size=batch)}
        heartland_ids = sorted({n for b in by_entity.values() if (n := whole_number(b.external_id)) is not None})
        heartland_orders = {int(o["id"]): o for o in
                            runtime.heartland.iterate("sales/orders", {"id": {"$in": heartland_ids}},
                                                      only=["id", "public_id", "status"])}
        for entity_id, binding in by_entity.items():
            order = magento_orders.get(entity_id)
            if order is None:
                continue  # gone from Magento (deleted): nothing Magento owns to compare with
            report.checked["order_status"] += 1
            number = f"#{order.get('increment_id')}"
            state = str(order.get("state") or "")
            heartland_id = whole_number(binding.external_id)
            heartland = heartland_orders.get(heartland_id) if heartland_id is not None else None
            ours = f"Heartland order #{binding.external_ref}"
            key = f"orders:{binding.key}"
            if codes is None:
                codes = runtime.magento.store_codes()
            event = order_envelope(order, store_code_of(order, codes))
            if heartland is None:
                found.append((Drifted("order_status", key, f"order {number}: {ours} no longer exists in Heartland "
                                      f"(Magento state {state}); Magento owns the order: recreate or cancel it "
                                      "by hand"), event, False))
                continue
            status = str(heartland.get("status") or "")
            if state == "canceled" and status != "cancelled":
                found.append((Drifted("order_status", key, f"order {number} is canceled in Magento but {ours} is "
                                      f"{status}"), event, True))
            elif status == "cancelled" and state not in ENDED_IN_MAGENTO:
                found.append((Drifted("order_status", key, f"{ours} is cancelled but Magento order {number} is "
                                      f"{state}; Magento owns the order: cancel it in Magento, or reopen the "
                                      "Heartland order"), event, False))
    drifted = {id(r) for r in settled(runtime, "orders", [r for r, _, _ in found])}
    found = [entry for entry in found if id(entry[0]) in drifted]
    for record, _, _ in found:
        report.add(record)
    return found


def repair_orders(runtime: Context, found: Sequence[OrderDrift], report: DriftReport) -> None:
    with runtime.store.session() as session:
        newest = items.latest_by_key(session, "orders", [r.key for r, _, _ in found])
        for record, event, by_flow in found:
            last = newest.get(record.key)
            if last is not None and (last.state in PENDING or (last.state == "review"
                                                                and last.label.startswith("drift:"))):
                record.repair = f"item {last.id} already {last.state}"
                continue
            version = str(event["data"].get("updated_at") or "")
            if by_flow:
                item = items.create(session, flow="orders", direction="magento→heartland", entity_key=record.key,
                                    payload=event, source_version=version, label=_label(record.what))
                report.repaired.append(int(item.id))
                record.repair = f"item {item.id}"
            else:
                # Nothing the flow may do by itself: kept in review, saying what to do. It carries the
                # order as its event would, so a retry runs the orders flow like any other item.
                item = items.create(session, flow="orders", direction="magento→heartland", entity_key=record.key,
                                    payload=event, source_version=version, label=_label(record.what),
                                    state="review", reason=f"drift: {record.what}")
                record.repair = f"review item {item.id}"


# -- a run ---------------------------------------------------------------------------------------------


def check(runtime: Context, *, repair: bool = True) -> DriftReport:
    """Compare both systems now; with ``repair``, create the items that bring them back in step
    (committed; the caller enqueues ``report.repaired``) and keep the run's figures in Redis."""
    s = runtime.settings
    batch = max(1, s.DRIFT_BATCH_SIZE)
    report = DriftReport(at=time.time())
    started = time.monotonic()
    check_stock(runtime, report, batch)
    orders = check_orders(runtime, report, batch, s.DRIFT_ORDER_DAYS)
    if repair:
        repair_stock(runtime, [r for r in report.records if r.kind == "stock"], report)
        repair_orders(runtime, orders, report)
    report.seconds = time.monotonic() - started
    record_run(runtime, report)
    return report


def record_run(runtime: Context, report: DriftReport) -> None:
    summary = json.dumps(report.summary())
    kept = max(1, runtime.settings.DRIFT_RUNS_KEPT)
    pipe = runtime.redis.pipeline()
    pipe.set(LAST_KEY, summary)
    pipe.lpush(RUNS_KEY, json.dumps({**report.summary(), "records": [asdict(r) for r in report.records[:200]]}))
    pipe.ltrim(RUNS_KEY, 0, kept - 1)
    pipe.execute()


def last_run(runtime: Context) -> dict[str, Any] | None:
    raw = runtime.redis.get(LAST_KEY)
    return dict(json.loads(raw)) if raw else None


def is_due(runtime: Context, now: float | None = None) -> bool:
    """Whether DRIFT_INTERVAL_SECONDS have passed since the last run, or, before any run, since the
    scheduler first asked (a scheduler starting is no reason to read both whole catalogues)."""
    interval = runtime.settings.DRIFT_INTERVAL_SECONDS
    if interval <= 0:
        return False
    now = now or time.time()
    last = last_run(runtime)
    if last is not None:
        return now - float(last["at"]) >= interval
    runtime.redis.set(FIRST_ASKED_KEY, str(now), nx=True)
    return now - float(runtime.redis.get(FIRST_ASKED_KEY) or now) >= interval


def run_due(runtime: Context) -> DriftReport | None:
    """The scheduler's drift duty: check when the interval has passed, one scheduler at a time, and
    enqueue the repairs. A source that is down is said in one line; the next interval retries (the
    lock is left to expire, so a failing check does not run again at every tick)."""
    if not is_due(runtime):
        return None
    interval = runtime.settings.DRIFT_INTERVAL_SECONDS
    if not runtime.redis.set(LOCK_KEY, "1", nx=True, ex=max(1, int(interval))):
        return None
    try:
        report = check(runtime)
    except SyncError as exc:
        log.warning("drift check failed (%s); it runs again in %g s", exc, interval)
        return None
    runtime.redis.delete(LOCK_KEY)
    if report.repaired:
        runtime.enqueue(report.repaired)
    drifted = sum(report.drifted.values())
    if drifted:
        log.warning("drift check: %d drifted record(s) %s; %d repair item(s) created", drifted, report.drifted,
                    len(report.repaired))
    return report
