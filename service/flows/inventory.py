"""Inventory, Heartland → Magento. Heartland owns stock; Magento shows what the shop may sell.

Salable quantity = Heartland ``qty_available`` (on hand − committed) summed over the selling
locations in rules/inventory.yaml. One sync item per Heartland item (entity key
``inventory:heartland:<item id>``) carries no quantity: the run reads the level as it is then, so
any number of changes to one SKU before the run become one write.

Trigger: the scheduler's poller reads Heartland's inventory ledger for items whose stock moved
since the cursor (service/engine/polling.py) and records one item per changed Heartland item,
versioned by its newest ledger entry, unless an item waiting to run or one at that version
already covers it (a waiting run reads the newer level anyway).

Steps for one item (``tillbridge flows show inventory``):
  1. item       the Heartland item; its Item # (public_id) is the Magento SKU (none: ignored)
  2. rules      rules/inventory.yaml: the mode and the selling locations
  3. level      qty_available over the selling locations (single source), or per location mapped to
                its MSI source code (msi), read now
     quality    the level against the SKU's history and rules/quality.yaml: negative stock is
                written as 0 (and alerted), a jump far above the usual waits in /reviews/quality
  4. compare    Magento's current stock item / source items; already equal: ignored, with reason
  5. deliver    single source: PUT stockItems (legacy); msi: POST inventory/source-items in batches

Every step before ``deliver`` only reads, so a run whose delivery failed reads the level again when
it is retried: the write carries the level as it is then, never the one of the failed run.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from service.engine.outcome import Outcome
from service.engine.polling import Poller
from service.engine.steps import Run, Step, StepFlow, check_steps
from service.flows.checks.quality import Checked, QualityGuard
from service.flows.registry import flow
from service.kernel.errors import DataError, NotFoundInTargetError
from service.kernel.numbers import whole_number
from service.store import items
from service.store.tables import SyncItem, utcnow

if TYPE_CHECKING:
    from service.flows.context import Context

RULES_FILE = "inventory.yaml"
POLL_RESOURCE = "heartland:inventory"
MODES = ("single_source", "msi")
KEY_CHUNK = 500


def entity_key(heartland_item_id: int) -> str:
    return f"inventory:heartland:{heartland_item_id}"


@dataclass(frozen=True)
class StockRules:
    mode: str
    sources: dict[int, str]  # selling Heartland location id → MSI source code ("" in single-source mode)
    batch_size: int

    @property
    def location_ids(self) -> list[int]:
        return sorted(self.sources)


def resolve_rules(raw: Any, locations: Sequence[dict[str, Any]]) -> StockRules:
    """rules/inventory.yaml against Heartland's locations; names, public ids and ids all resolve."""
    where = f"rules/{RULES_FILE}"
    if not isinstance(raw, dict):
        raise DataError(f"{where} must be a mapping", hint="see the comments in the shipped rules/inventory.yaml")
    mode = str(raw.get("mode") or "single_source")
    if mode not in MODES:
        raise DataError(f"{where}: mode {mode!r} is unknown", hint=f"use one of {', '.join(MODES)}")
    by_ref: dict[str, int] = {}
    for location in locations:
        for ref in (location.get("id"), location.get("name"), location.get("public_id")):
            if ref is not None and str(ref).strip():
                by_ref[str(ref).strip().casefold()] = int(location["id"])

    def location_id(ref: Any) -> int:
        found = by_ref.get(str(ref).strip().casefold())
        if found is None:
            known = ", ".join(sorted(str(loc.get("name")) for loc in locations))
            raise DataError(f"{where}: Heartland has no location {ref!r}", hint=f"known locations: {known}")
        return found

    selling = [location_id(ref) for ref in raw.get("selling_locations") or []]
    if not selling:
        raise DataError(f"{where}: no selling_locations", hint="list the Heartland locations whose stock Magento sells")
    source_map = {location_id(ref): str(code) for ref, code in (raw.get("sources") or {}).items()}
    sources: dict[int, str] = {}
    for loc in selling:
        if mode == "msi" and not source_map.get(loc):
            raise DataError(f"{where}: selling location {loc} has no MSI source code",
                            hint="add it under sources: (location → Magento source code)")
        sources[loc] = source_map.get(loc, "") if mode == "msi" else ""
    return StockRules(mode=mode, sources=sources, batch_size=max(1, int(raw.get("msi_batch_size") or 500)))


def same_qty(a: Any, b: Any) -> bool:
    return abs(float(a or 0) - float(b or 0)) < 1e-6


def source_quantities(rows: Sequence[dict[str, Any]], rules: StockRules) -> dict[str, float]:
    """Per MSI source code, qty_available summed over the selling locations mapped to it."""
    out: dict[str, float] = dict.fromkeys(rules.sources.values(), 0.0)
    for row in rows:
        code = rules.sources.get(int(row["location_id"]))
        if code:
            out[code] += float(row["qty_available"])
    return out


@dataclass(frozen=True)
class StockChange:
    item_id: int  # the Heartland item
    version: int  # its newest inventory ledger entry's id: grows with every stock movement


def latest_changes(ledger: Iterable[dict[str, Any]]) -> list[StockChange]:
    """Ledger rows (``item_id``, ``id``) → the newest entry per Heartland item."""
    newest: dict[int, int] = {}
    for row in ledger:
        item_id, entry = int(row["item_id"]), int(row["id"])
        newest[item_id] = max(entry, newest.get(item_id, entry))
    return [StockChange(i, v) for i, v in sorted(newest.items())]


def _version(text: str) -> int:
    number = whole_number(text, max_digits=30)
    return number if number is not None else 0


def record_changes(session: Session, changes: Sequence[StockChange], settle_seconds: float = 0.0) -> list[int]:
    """Items for stock changes not yet covered; returns the ids to enqueue now. The overlap window
    re-reads changes, and a burst touches one SKU many times, but one run per SKU and ledger
    version is enough.

    A change is covered by an item still waiting to run (it reads the level when it starts; its
    version is raised to say so) or by any item already created at that version or later. With
    ``settle_seconds`` a new item waits that long before it is due (the scheduler enqueues it
    then), so the rest of a burst still finds it waiting instead of making a second write.
    """
    by_key = {entity_key(c.item_id): c for c in changes}
    names = list(by_key)
    newest: dict[str, SyncItem] = {}
    for start in range(0, len(names), KEY_CHUNK):
        chunk = names[start:start + KEY_CHUNK]
        latest_ids = select(func.max(SyncItem.id)).where(
            SyncItem.flow == InventoryFlow.name, SyncItem.entity_key.in_(chunk)).group_by(SyncItem.entity_key)
        for row in session.scalars(select(SyncItem).where(SyncItem.id.in_(latest_ids))):
            newest[row.entity_key] = row
    created = []
    for key, change in by_key.items():
        last = newest.get(key)
        if last is not None and _version(last.source_version) >= change.version:
            continue
        if last is not None and last.state == "received":
            # Only while it has not started: a run already under way may have read the old level.
            raised = session.execute(
                update(SyncItem).where(SyncItem.id == last.id, SyncItem.state == "received")
                .values(source_version=str(change.version)).execution_options(synchronize_session=False))
            if raised.rowcount == 1:  # type: ignore[attr-defined]
                continue
        item = items.create(session, flow=InventoryFlow.name, direction=InventoryFlow.direction, entity_key=key,
                            payload={"item_id": change.item_id}, source_version=str(change.version),
                            label=f"stock of Heartland item {change.item_id}")
        if settle_seconds > 0:
            item.next_attempt_at = utcnow() + timedelta(seconds=settle_seconds)
            item.enqueued_at = None
        else:
            created.append(item.id)
    return created


@flow
class InventoryFlow(StepFlow):
    name = "inventory"
    direction = "Heartland → Magento"
    given = ("heartland_id",)

    def __init__(self, runtime: Context) -> None:
        self.runtime = runtime
        self._lock = threading.Lock()
        self._rules: tuple[Any, StockRules] | None = None
        self.quality = QualityGuard(runtime, self.name, "inventory:heartland:")
        self.steps = (
            Step("item", self.step_item, "the Heartland item; its Item # (public_id) is the Magento SKU",
                 reads=("heartland_id",), writes=("sku", "category")),
            Step("rules", self.step_rules, f"the mode and the selling locations (rules/{RULES_FILE})",
                 writes=("rules",)),
            Step("level", self.step_level, "qty_available over the selling locations (per MSI source in msi "
                 "mode), read now", reads=("heartland_id", "rules"), writes=("wanted",)),
            Step("quality", self.step_quality, "the level against the SKU's history and rules/quality.yaml: "
                 "negative stock written as 0, an outsized jump held for review",
                 reads=("heartland_id", "sku", "category", "wanted"), writes=("wanted", "quality"), decides=True),
            Step("compare", self.step_compare, "Magento's stock item or source items; already equal: ignored",
                 reads=("sku", "rules", "wanted"), writes=("current", "changed")),
            Step("deliver", self.step_deliver, "single source: PUT stockItems; msi: POST inventory/source-items "
                 "in batches", reads=("sku", "rules", "wanted", "current", "changed", "quality"), effect="magento",
                 idempotency="a level, not a delta: writing it again sets the same quantity"),
        )
        check_steps(self.steps, self.given)

    # -- rules ---------------------------------------------------------------------------------------
    def stock_rules(self) -> StockRules:
        raw = self.runtime.rules.load(RULES_FILE)
        with self._lock:
            # Locations are resolved once per version of the rules file (Rules reloads on change).
            if self._rules is not None and self._rules[0] is raw:
                return self._rules[1]
        resolved = resolve_rules(raw, self.runtime.heartland.locations())
        with self._lock:
            self._rules = (raw, resolved)
        return resolved

    # -- trigger ---------------------------------------------------------------------------------------
    def pollers(self) -> list[Poller]:
        return [self.poller()]

    def poller(self) -> Poller:
        def read(since: datetime) -> list[StockChange]:
            # The ledger, not inventory/values: it names every movement with an id that orders them.
            moment = since.astimezone(UTC).replace(microsecond=0).isoformat()
            flt = {"created_at": {"$gte": moment}, "location_id": {"$in": self.stock_rules().location_ids}}
            return latest_changes(self.runtime.heartland.iterate("inventory/transactions", flt,
                                                                 only=["item_id", "id"]))

        def record(session: Session, changes: Sequence[StockChange]) -> list[int]:
            return record_changes(session, changes, self.runtime.settings.INVENTORY_SETTLE_SECONDS)

        return Poller(resource=POLL_RESOURCE, read=read, record=record)

    # -- the steps -------------------------------------------------------------------------------------
    def start(self, run: Run) -> None:
        run["heartland_id"] = int(run.item.payload["item_id"])

    def step_item(self, run: Run) -> Outcome | None:
        heartland_id = run["heartland_id"]
        record = self.runtime.heartland.item(heartland_id)
        sku = run["sku"] = str(record.get("public_id") or "").strip()
        run["category"] = str((record.get("custom") or {}).get("category") or "")
        if not sku:
            return Outcome.ignored(f"Heartland item {heartland_id} has no Item # (public_id), so no Magento SKU")
        run.say(f"Heartland item {heartland_id} is Magento SKU {sku!r}")
        return None

    def step_rules(self, run: Run) -> None:
        rules = run["rules"] = self.stock_rules()
        run.say(f"mode {rules.mode}, selling locations {rules.location_ids}")

    def step_level(self, run: Run) -> None:
        rules: StockRules = run["rules"]
        heartland_id = run["heartland_id"]
        if rules.mode == "msi":
            rows = self.runtime.heartland.inventory_values([heartland_id], rules.location_ids,
                                                           group=("item_id", "location_id"))
            wanted = run["wanted"] = source_quantities(rows, rules)
            run.say("qty_available per source: " + ", ".join(f"{c} {q:g}" for c, q in sorted(wanted.items())))
            return
        qty = float(self.runtime.heartland.available_by_item([heartland_id], rules.location_ids)[heartland_id])
        run["wanted"] = {"": qty}
        run.say(f"qty_available {qty:g} over locations {rules.location_ids}")

    def step_quality(self, run: Run) -> Outcome | None:
        wanted: dict[str, float] = run["wanted"]
        checked = run["quality"] = self.quality.check(
            run, entity_key=entity_key(run["heartland_id"]), sku=run["sku"], category=run["category"],
            after={"stock": float(sum(wanted.values()))})
        if checked.outcome is None and checked.values["stock"] != sum(wanted.values()):
            # Fixed by rule (negative stock written as 0): every source below 0 is written as 0.
            run["wanted"] = {code: max(qty, 0.0) for code, qty in wanted.items()}
            checked.values["stock"] = float(sum(run["wanted"].values()))
        return checked.outcome

    def step_compare(self, run: Run) -> Outcome | None:
        rules: StockRules = run["rules"]
        sku, wanted = run["sku"], run["wanted"]
        if rules.mode == "msi":
            found = self.runtime.magento.search_source_items([("sku", sku, "eq")], page_size=100)
            current = {str(r["source_code"]): r for r in found.get("items") or []}
            if not current and not self._product_exists(sku):
                raise NotFoundInTargetError(f"Magento has no product {sku!r} to hold its stock",
                                            hint="create it (the products flow does, from Heartland) and retry "
                                                 "this item")
            changed = [{"sku": sku, "source_code": code, "quantity": qty, "status": 1 if qty > 0 else 0}
                       for code, qty in sorted(wanted.items())
                       if code not in current or not same_qty(current[code].get("quantity"), qty)
                       or int(current[code].get("status") or 0) != (1 if qty > 0 else 0)]
            run["current"], run["changed"] = current, changed
            if not changed:
                return Outcome.ignored(f"Magento already has these quantities of {sku}", sku=sku, sources=wanted)
            run.say(f"{len(changed)} of {len(wanted)} source(s) differ")
            return None
        qty = wanted[""]
        stock = self._magento_stock_item(sku)
        in_stock = qty > 0
        run["current"], run["changed"] = stock, []
        if same_qty(stock.get("qty"), qty) and bool(stock.get("is_in_stock")) == in_stock:
            return Outcome.ignored(f"Magento already has {qty:g} of {sku}", sku=sku, qty=qty)
        run.say(f"Magento has {float(stock.get('qty') or 0):g}")
        return None

    def step_deliver(self, run: Run) -> Outcome:
        rules: StockRules = run["rules"]
        sku, wanted, current = run["sku"], run["wanted"], run["current"]
        if rules.mode == "msi":
            changed = run["changed"]
            self.runtime.magento.save_source_items(changed, batch_size=rules.batch_size)
            fixed = self._record(run)
            run.say(f"{sku}: " + ", ".join(f"{r['source_code']} → {r['quantity']:g}" for r in changed))
            return Outcome.done(f"{sku} set on {len(changed)} source(s){fixed}", sku=sku, sources=wanted)
        qty = wanted[""]
        self.runtime.magento.update_stock_item(sku, current["item_id"], {"qty": qty, "is_in_stock": qty > 0})
        fixed = self._record(run)
        run.say(f"{sku}: {float(current.get('qty') or 0):g} → {qty:g}")
        return Outcome.done(f"{sku} set to {qty:g}{fixed}", sku=sku, qty=qty, previous=current.get("qty"))

    def _record(self, run: Run) -> str:
        """The level written joins the SKU's quality history; what a rule fixed, for the outcome."""
        checked: Checked = run["quality"]
        self.quality.record(checked)
        fixed = [f.reason for f in checked.findings if f.action == "fix"]
        return f" (fixed by rule: {'; '.join(fixed)})" if fixed else ""

    def _magento_stock_item(self, sku: str) -> dict[str, Any]:
        try:
            return self.runtime.magento.stock_item(sku)
        except NotFoundInTargetError as exc:
            raise NotFoundInTargetError(
                f"Magento has no product {sku!r} to hold its stock", status=exc.status,
                hint="create it (the products flow does, from Heartland) and retry this item") from exc

    def _product_exists(self, sku: str) -> bool:
        try:
            self.runtime.magento.product(sku)
        except NotFoundInTargetError:
            return False
        return True
