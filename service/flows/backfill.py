"""Backfill: the initial load when a merchant goes live, Heartland → Magento, page by page.

``Backfill(runtime, "products" | "inventory" | "customers" | "giftcards", since=…, dry_run=…).run()`` reads the
source oldest id first, by keyset (``id > last``), one page at a time, and for each page:

  1. bindings   what Tillbridge last wrote for the page's records, in one query
  2. read       what Magento has now, in bulk: products searched by SKU (``sku in …``, up to 200
                SKUs a call), MSI source items likewise; a record that Magento already has as it
                would be written is bound and costs no write
  3. write      what differs. Products: a create or a global-scope update per SKU, ``concurrency``
                at a time within the client's rate limit (Magento has no synchronous batch product
                write). Stock: single source, one stockItems PUT per changed SKU; MSI, the changed
                source items of many SKUs in one ``POST /V1/inventory/source-items`` (``msi_batch_size``
                rows a call). A product created in a single-source store carries its opening stock in
                the same write. Once rules/grids.yaml maps grid attributes, grid items go through the
                products flow itself, which makes them children of configurable products.
  4. bind       each write is followed by its binding (written payload, Heartland version), so the
                products flow's events and polls see the record as in step afterwards
  5. progress   the page's last id is saved (table backfill_progress): a run stopped by Ctrl-C or a
                crash resumes after the last finished page; records of an unfinished page that were
                already written find their binding and are not written again

Customers go through the customers flow itself (one sync item per customer that changed since it
was last synced, run in this process): survivorship, echo suppression, the per-email lock and
both sides' bindings then apply exactly as for a webhook. Heartland → Magento only: at go-live the
store's customers are in the POS, and Magento accounts come back through the customer events and
the Magento poller as shoppers use them.

Gift cards go through the gift cards flow itself, one item per Heartland card: a card Magento lacks
is opened there with the balance it opened with and its adjustments copied (each with its
idempotency key); a card both sides have is linked. Cards that exist only in Magento are not read
here: the gift cards flow finds them through Magento's gift card history once they change.

Why not Magento's asynchronous bulk API (``POST /rest/<store>/async/bulk/V1/products``, many
products a call)? It only queues the writes: they are made later by Magento's message-queue
consumers (which many stores do not run, and which then leave them "open" for good), and each
product's outcome and id come only from polling ``/V1/bulk/{uuid}/detailed-status``. A backfill
that binds what it wrote, and resumes from what is bound, would have to wait on those consumers
page after page; the sandbox does not serve the route either. Concurrent single writes give each
record its answer, id and binding at once; on a rate-limited store a write-bound run takes writes ÷
MAGENTO_RATE_PER_SECOND, which ``--dry-run`` lets the merchant estimate first.

A record that fails does not stop the run: it becomes a sync item of its flow (products,
inventory), classified as any run would be — a data or fatal error a dead letter (retry it from
the dead-letters page once fixed), a missing Magento record a review, a retryable failure an item
queued for the workers. An unavailable destination (open breaker), refused credentials, a page
that cannot be read, or a stock run that finds none of its first page's products in Magento stop
the run instead, with the progress kept, since every further record would fail the same way.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select

from service.connectors.heartland.client import MAX_IN_VALUES, normalise_webhook_payload
from service.flows import inventory as inventory_flow
from service.flows import products as products_flow
from service.flows.checks import duplicates
from service.flows.customers import ECHO_REASON, CustomersFlow
from service.kernel.errors import (
    AuthError,
    DataError,
    DestinationUnavailable,
    FailureClass,
    NotFoundInTargetError,
    RetryableError,
    SyncError,
)
from service.kernel.redaction import redact
from service.kernel.retry import RetryPolicy
from service.rules.loader import RuleError
from service.rules.templates import MappingError, Template
from service.store import backfills, bindings, items
from service.store.tables import Binding, DeadLetter, TraceStep

if TYPE_CHECKING:
    from service.flows.context import Context

log = logging.getLogger(__name__)

RESOURCES = ("products", "inventory", "customers", "giftcards")
SKU_CHUNK = 200  # SKUs per Magento search; Magento's input limit, when on, allows pages up to 300
SOURCE_PAGE = 300
WRITE_ATTEMPTS = 3  # idempotent writes (PUT, source items) retried in place on a retryable failure
WRITE_RETRY = RetryPolicy(base_seconds=0.2, cap_seconds=2.0)
GRID_RULES = "grids.yaml"
OUTCOMES = ("created", "updated", "unchanged", "skipped", "review", "dead", "queued")

T = TypeVar("T")
R = TypeVar("R")


class BackfillError(Exception):
    """The run cannot start as asked; the message says what to do."""


class _Stop(Exception):
    """A destination refuses every call (breaker open, credentials refused): stop, keep progress."""


def parse_since(value: str | None) -> str:
    """``--since`` (a date or an ISO-8601 moment) as Heartland filters take it, UTC; "" for none."""
    if not value:
        return ""
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise BackfillError(f"--since {value!r} is not a date: use YYYY-MM-DD or an ISO-8601 moment "
                                "such as 2026-11-01T08:00:00Z") from None
        moment = datetime(day.year, day.month, day.day)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def _chunks(values: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


@dataclass
class Result:
    outcome: str  # one of OUTCOMES
    label: str
    reason: str = ""


@dataclass
class Summary:
    resource: str
    since: str = ""
    dry_run: bool = False
    total: int = 0
    done: int = 0
    pages: int = 0
    resumed_after: int = 0  # the Heartland id a resumed run continued after (0: from the start)
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (outcome, record, reason), first 20
    interrupted: bool = False
    stopped: str = ""
    last_id: int = 0  # the last Heartland id of the last finished page
    started: float = field(default_factory=time.monotonic)
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        elapsed = self.elapsed or (time.monotonic() - self.started)
        return self.handled / elapsed if elapsed > 0 else 0.0

    @property
    def handled(self) -> int:
        """Records handled by this invocation (a resumed run's earlier pages not included)."""
        return sum(self.counts.values())

    def add(self, result: Result) -> None:
        self.counts[result.outcome] += 1
        if result.outcome in ("review", "dead", "queued", "skipped") and len(self.problems) < 20:
            self.problems.append((result.outcome, result.label, result.reason))

    def lines(self) -> list[str]:
        head = f"{self.resource}: {self.done} of {self.total} records handled in {self.elapsed:.1f} s"
        if self.resumed_after:
            head += f" (resumed after Heartland id {self.resumed_after})"
        out = [head + (" — dry run, nothing written" if self.dry_run else "")]
        parts = [f"{self.counts[o]} {o}" for o in OUTCOMES if self.counts.get(o)]
        out.append(f"  {'would be: ' if self.dry_run else ''}{', '.join(parts) or 'nothing to do'}")
        if not self.dry_run and (self.counts.get("dead") or self.counts.get("review") or self.counts.get("queued")):
            out.append("  failed records are kept as sync items: dead letters (`tillbridge deadletters list`), "
                       "reviews, or queued for the workers")
        for outcome, label, reason in self.problems:
            out.append(f"  {outcome}: {label}: {reason}")
        if self.interrupted:
            out.append(f"  interrupted: run the same command again to resume after Heartland id {self.last_id} "
                       "(or add --restart to start over)")
        if self.stopped:
            out.append(f"  stopped: {self.stopped}; run the same command again to resume once it is fixed")
        return out


ProgressHook = Callable[[Summary], None]


@dataclass
class _ProductPlan:
    heartland_id: int
    version: str
    label: str
    product: dict[str, Any]
    current_sku: str  # the SKU Magento knows it by (the binding's, before a rename)
    public_id: Any
    stock: dict[str, Any] | None = None  # the opening stock item a create carries (single source)


@dataclass
class _FlowWork:
    flow: str
    direction: str
    entity_key: str
    label: str
    payload: dict[str, Any]
    version: str


class Backfill:
    def __init__(self, runtime: Context, resource: str, *, since: str | None = None, dry_run: bool = False,
                 restart: bool = False, page_size: int | None = None, concurrency: int | None = None,
                 on_progress: ProgressHook | None = None, on_page: ProgressHook | None = None) -> None:
        if resource not in RESOURCES:
            raise BackfillError(f"nothing to backfill called {resource!r}: use one of {', '.join(RESOURCES)}")
        self.runtime = runtime
        self.store = runtime.store
        self.resource = resource
        self.since = parse_since(since)
        self.dry_run = dry_run
        self.restart = restart
        settings = runtime.settings
        self.page_size = max(1, min(int(page_size or settings.BACKFILL_PAGE_SIZE), 1000))
        self.concurrency = max(1, int(concurrency or settings.BACKFILL_CONCURRENCY))
        self.on_progress = on_progress
        self.on_page = on_page  # called after each finished page (tests stop a run here)
        self._template: Template | None = None
        self._rules: inventory_flow.StockRules | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._grids_mapped = False
        self._opening_stock: inventory_flow.StockRules | None = None
        self._products_seen = False  # the inventory run has found a page's products in Magento
        self._moved: list[int] | None = None
        self._earlier: Counter[str] = Counter()  # outcomes of the invocations a resumed run continues

    # -- the run ------------------------------------------------------------------------------------------
    def run(self) -> Summary:
        summary = Summary(resource=self.resource, since=self.since, dry_run=self.dry_run)
        start_after = self._resume_point(summary)
        self._prepare()
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"backfill-{self.resource}")
        last_id = start_after
        try:
            for page in self._pages(start_after):
                for result in self._page(page):
                    summary.add(result)
                last_id = int(page[-1]["id"])
                summary.done += len(page)
                summary.pages += 1
                summary.last_id = last_id
                if not self.dry_run:
                    backfills.advance(self.store, self.resource, last_id=last_id, pages=summary.pages,
                                      done=summary.done, total=summary.total, counts=self._counts(summary))
                if self.on_progress is not None:
                    self.on_progress(summary)
                if self.on_page is not None:
                    self.on_page(summary)
            if not self.dry_run:
                backfills.finish(self.store, self.resource, self._counts(summary))
        except KeyboardInterrupt:
            summary.interrupted = True
        except _Stop as stop:
            summary.stopped = str(stop)
        except SyncError as exc:
            # A page could not be read (after retries): nothing of it is recorded as done.
            summary.stopped = str(exc)
        finally:
            # Writes under way finish and bind; writes not started are dropped (their page is redone).
            self._pool.shutdown(wait=True, cancel_futures=True)
            summary.elapsed = time.monotonic() - summary.started
        summary.last_id = last_id
        return summary

    def _counts(self, summary: Summary) -> dict[str, int]:
        """Outcomes over the whole run, the invocations before a resume included."""
        return dict(self._earlier + summary.counts)

    def _resume_point(self, summary: Summary) -> int:
        """The Heartland id to continue after, and the run's totals so far; 0 for a fresh run."""
        if self.dry_run:
            summary.total = self._count(0)
            return 0
        row = backfills.get(self.store, self.resource)
        if row is not None and row.finished_at is None and row.last_id and not self.restart:
            if row.since != self.since:
                was = f"--since {row.since}" if row.since else "no --since"
                raise BackfillError(f"a {self.resource} backfill with {was} stopped after Heartland id {row.last_id}; "
                                    f"run it with the same --since to resume, or add --restart to start over")
            summary.resumed_after = int(row.last_id)
            self._earlier = Counter({str(k): int(v) for k, v in (row.counts or {}).items()})
            summary.done = int(row.done)
            summary.pages = int(row.pages)
            summary.total = row.done + self._count(row.last_id)
            backfills.advance(self.store, self.resource, last_id=row.last_id, pages=row.pages, done=row.done,
                              total=summary.total, counts=dict(row.counts or {}))
            return int(row.last_id)
        summary.total = self._count(0)
        backfills.start(self.store, self.resource, since=self.since, total=summary.total)
        return 0

    def _prepare(self) -> None:
        if self.resource == "products":
            self._template = products_flow.ProductsFlow(self.runtime).template()
            self._grids_mapped = self._maps_grids()
            self._opening_stock = self._single_source_rules()
        elif self.resource == "inventory":
            self._rules = inventory_flow.InventoryFlow(self.runtime).stock_rules()

    def _single_source_rules(self) -> inventory_flow.StockRules | None:
        try:
            rules = inventory_flow.InventoryFlow(self.runtime).stock_rules()
        except (RuleError, DataError) as exc:
            log.warning("new products are created without their stock (backfill inventory sets it): %s", exc)
            return None
        return rules if rules.mode == "single_source" else None

    def _maps_grids(self) -> bool:
        """Whether rules/grids.yaml maps any grid attribute (the products flow then builds configurable
        products from those grids' items); unmapped, every grid item is a simple product."""
        try:
            data = self.runtime.rules.load(GRID_RULES)
        except RuleError:
            return False
        return isinstance(data, dict) and bool(data.get("attributes"))

    # -- reading the source ---------------------------------------------------------------------------------
    def _path(self) -> str:
        return {"customers": "customers", "giftcards": "gift_cards"}.get(self.resource, "items")

    def _filters(self, after: int) -> list[dict[str, Any]]:
        filters: list[dict[str, Any]] = []
        if self.since and self.resource != "inventory":
            filters.append({"updated_at": {"$gte": self.since}})
        if after:
            filters.append({"id": {"$gt": after}})
        return filters

    def _stock_moved_ids(self) -> list[int]:
        """Items whose stock moved at a selling location since --since, from Heartland's ledger (read once)."""
        if self._moved is None:
            rules = self._rules or inventory_flow.InventoryFlow(self.runtime).stock_rules()
            self._moved = sorted(self.runtime.heartland.stock_changed_item_ids(self.since, rules.location_ids))
        return self._moved

    def _count(self, after: int) -> int:
        if self.resource == "inventory" and self.since:
            return sum(1 for i in self._stock_moved_ids() if i > after)
        filters = self._filters(after)
        return self.runtime.heartland.count(self._path(), filters or None)

    def _only(self) -> list[str]:
        return ["id", "public_id", "updated_at"] if self.resource == "inventory" else []

    def _pages(self, after: int) -> Iterator[list[dict[str, Any]]]:
        heartland = self.runtime.heartland
        if self.resource == "inventory" and self.since:
            # Stock moves are in the ledger, not in the item's updated_at: page over the moved items' ids.
            moved = [i for i in self._stock_moved_ids() if i > after]
            for chunk in _chunks(moved, min(self.page_size, MAX_IN_VALUES)):
                got = heartland.list("items", {"id": {"$in": list(chunk)}}, ["id"], per_page=len(chunk),
                                     only=self._only())
                if got.results:
                    yield got.results
            return
        last = after
        while True:
            filters = self._filters(last)
            got = heartland.list(self._path(), filters or None, ["id"], per_page=self.page_size, only=self._only())
            if not got.results:
                return
            yield got.results
            if len(got.results) < self.page_size:
                return
            last = int(got.results[-1]["id"])

    def _page(self, records: list[dict[str, Any]]) -> list[Result]:
        if self.resource == "products":
            return self._products_page(records)
        if self.resource == "inventory":
            return self._inventory_page(records)
        if self.resource == "giftcards":
            return self._giftcards_page(records)
        return self._customers_page(records)

    # -- shared parts ---------------------------------------------------------------------------------------
    def _parallel(self, fn: Callable[[T], R], work: Sequence[T]) -> list[R]:
        if not work:
            return []
        if self.concurrency == 1 or len(work) == 1 or self._pool is None:
            return [fn(w) for w in work]
        return list(self._pool.map(fn, work))

    def _bindings(self, entity: str, keys: Iterable[str], system: str) -> dict[str, Binding]:
        wanted = list(keys)
        out: dict[str, Binding] = {}
        with self.store.session() as s:
            for chunk in _chunks(wanted, 500):
                query = select(Binding).where(Binding.entity == entity, Binding.system == system,
                                              Binding.key.in_(list(chunk)))
                out.update({b.key: b for b in s.scalars(query)})
        return out

    def _magento_products(self, skus: Iterable[str], store_code: str | None) -> dict[str, dict[str, Any]]:
        """Magento's products for these SKUs, by SKU case-folded (Magento compares SKUs so)."""
        magento = self.runtime.magento
        wanted = sorted(set(skus))
        out: dict[str, dict[str, Any]] = {}
        # A comma would split an ``in`` list: such SKUs are read one by one.
        listed = [s for s in wanted if "," not in s]
        for chunk in _chunks(listed, SKU_CHUNK):
            found = self._read(magento.search_products, [("sku", list(chunk), "in")], page_size=len(chunk),
                               current_page=1, store_code=store_code)
            for product in found.get("items") or []:
                out[str(product["sku"]).casefold()] = product
        for sku in (s for s in wanted if "," in s):
            try:
                out[sku.casefold()] = magento.product(sku, store_code=store_code)
            except NotFoundInTargetError:
                continue
        return out

    def _read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A read, retried in place a few times when the failure is retryable."""
        return self._idempotent(lambda: fn(*args, **kwargs))

    def _idempotent(self, call: Callable[[], T]) -> T:
        """An idempotent write, retried in place a few times when the failure is retryable."""
        attempt = 0
        while True:
            try:
                return call()
            except DestinationUnavailable:
                raise
            except RetryableError as exc:
                attempt += 1
                if attempt >= WRITE_ATTEMPTS:
                    raise
                time.sleep(WRITE_RETRY.delay(attempt, exc.retry_after))

    def _fail(self, exc: BaseException, *, flow: str, entity_key: str, payload: dict[str, Any], label: str,
              version: str = "") -> Result:
        """Keep a failed record as a sync item of its flow, classified as a run would be."""
        if isinstance(exc, DestinationUnavailable | AuthError):
            raise _Stop(str(exc)) from exc
        if isinstance(exc, SyncError):
            cls, text = exc.failure_class, str(exc)
            detail: dict[str, Any] = {"class": cls.value, "hint": exc.hint, "status": exc.status,
                                      "details": exc.details}
        else:
            log.exception("backfill of %s failed unexpectedly", label)
            cls, text = FailureClass.FATAL, f"unexpected {type(exc).__name__}: {exc}"
            detail = {"class": cls.value}
        if cls in (FailureClass.RETRYABLE, FailureClass.RATE_LIMITED):
            state, outcome = "received", "queued"
        elif cls is FailureClass.NOT_FOUND:
            state, outcome = "review", "review"
        else:
            state, outcome = "dead", "dead"
        if self.dry_run:
            return Result(outcome, label, text)
        direction = "Heartland → Magento"
        with self.store.session() as s:
            item = items.create(s, flow=flow, direction=direction, entity_key=entity_key, payload=payload,
                                label=f"{label} (backfill)", source_version=version, state=state, reason=text)
            item.failure_class = cls.value
            if state == "review":
                item.result = {k: v for k, v in detail.items() if v not in (None, "")}
            if state != "received":
                item.attempts = 1
            s.add(TraceStep(item_id=item.id, attempt=item.attempts, step="backfill",
                            status={"received": "retry", "review": "review"}.get(state, "error"), message=text,
                            detail=redact({k: v for k, v in detail.items() if v not in (None, "")})))
            if state == "dead":
                # The item's payload is the screened one (a card number in the record is masked).
                s.add(DeadLetter(item_id=item.id, flow=flow, failure_class=cls.value, error=text,
                                 payload=item.payload, attempts=1))
            item_id = int(item.id)
        if state == "received":
            self.runtime.enqueue([item_id])
        return Result(outcome, label, text)

    # -- products -------------------------------------------------------------------------------------------
    def _product_failure(self, exc: BaseException, heartland_id: int, label: str, version: str) -> Result:
        return self._fail(exc, flow=products_flow.ProductsFlow.name,
                          entity_key=products_flow.entity_key(heartland_id), payload={"id": heartland_id},
                          label=label, version=version)

    def _products_page(self, records: list[dict[str, Any]]) -> list[Result]:
        assert self._template is not None
        entity, system = products_flow.ENTITY, products_flow.SYSTEM
        bound = self._bindings(entity, (products_flow.binding_key(r["id"]) for r in records), system)
        results: list[Result] = []
        plans: list[_ProductPlan] = []
        by_flow: list[_FlowWork] = []
        for raw in records:
            record = normalise_webhook_payload(raw)
            heartland_id = int(record["id"])
            version = str(record.get("updated_at") or "")
            label = f"Heartland item #{record.get('public_id') or heartland_id}"
            if record.get("grid_id") and self._grids_mapped and not self.dry_run:
                # Grid items may become children of a configurable product: the products flow decides.
                by_flow.append(_FlowWork(flow=products_flow.ProductsFlow.name, direction="heartland→magento",
                                         entity_key=products_flow.entity_key(heartland_id), label=label,
                                         payload={"kind": "item", "id": heartland_id, "record": dict(raw)},
                                         version=version))
                continue
            key = products_flow.binding_key(heartland_id)
            binding = bound.get(key)
            last_written: dict[str, Any] = dict((binding.data or {}).get("written") or {}) if binding else {}
            try:
                mapped = self._template.apply(record)
            except MappingError as exc:
                error = DataError(f"Heartland item {heartland_id} cannot be mapped: {exc}",
                                  hint=f"fix the item in Heartland or the template rules/{products_flow.TEMPLATE}",
                                  details=exc.field_errors)
                results.append(self._product_failure(error, heartland_id, label, version))
                continue
            product = products_flow.magento_product(mapped, last_written)
            if binding is not None and last_written == product:
                if version and version != binding.source_version and not self.dry_run:
                    bindings.bind(self.store, entity=entity, key=key, system=system, external_id=binding.external_id,
                                  external_ref=binding.external_ref, source_version=version)
                results.append(Result("unchanged", label))
                continue
            current_sku = binding.external_ref if binding is not None and binding.external_ref else str(product["sku"])
            plans.append(_ProductPlan(heartland_id, version, label, product, current_sku, record.get("public_id")))
        results += self._through_flow(by_flow)
        if not plans:
            return results
        existing = self._magento_products((p.current_sku for p in plans), products_flow.SCOPE)
        writes: list[tuple[_ProductPlan, dict[str, Any] | None]] = []
        for plan in plans:
            current = existing.get(plan.current_sku.casefold())
            if current is not None and products_flow.same_product(current, plan.product):
                if not self.dry_run:
                    self._bind_product(plan, current)
                results.append(Result("unchanged", plan.label))
            elif self.dry_run:
                results.append(Result("updated" if current is not None else "created", plan.label))
            else:
                writes.append((plan, current))
        self._with_opening_stock([plan for plan, current in writes if current is None])
        results += self._parallel(self._write_product, writes)
        return results

    def _with_opening_stock(self, creates: list[_ProductPlan]) -> None:
        """Single-source stores: a product the backfill creates carries its Heartland stock in the same
        write (the product's ``stock_item``), so it does not open at 0 and the stock backfill has
        nothing left to write for it. One Heartland read per page; MSI stores get their source items
        from the inventory backfill."""
        rules = self._opening_stock
        if rules is None or not creates:
            return
        levels = self._read(self.runtime.heartland.available_by_item, [p.heartland_id for p in creates],
                            rules.location_ids)
        for plan in creates:
            qty = float(levels.get(plan.heartland_id) or 0)
            plan.stock = {"qty": qty, "is_in_stock": qty > 0}

    def _bind_product(self, plan: _ProductPlan, saved: dict[str, Any]) -> None:
        bindings.bind(self.store, entity=products_flow.ENTITY, key=products_flow.binding_key(plan.heartland_id),
                      system=products_flow.SYSTEM, external_id=str(saved.get("id") or ""),
                      external_ref=str(plan.product["sku"]), source_version=plan.version,
                      data={"written": plan.product, "heartland_public_id": plan.public_id})

    def _write_product(self, work: tuple[_ProductPlan, dict[str, Any] | None]) -> Result:
        plan, current = work
        magento = self.runtime.magento
        try:
            if current is not None:
                saved = self._idempotent(lambda: magento.update_product(plan.current_sku, plan.product,
                                                                        store_code=products_flow.SCOPE))
            else:
                # A create is not repeated here: a retryable failure goes to the products flow,
                # which looks the SKU up before writing.
                body = plan.product
                if plan.stock is not None:
                    body = {**plan.product, "extension_attributes": {"stock_item": plan.stock}}
                saved = magento.create_product(body, store_code=products_flow.SCOPE)
            self._bind_product(plan, saved)
        except Exception as exc:  # noqa: BLE001 - every record's failure is kept and classified
            return self._product_failure(exc, plan.heartland_id, plan.label, plan.version)
        return Result("updated" if current is not None else "created", plan.label)

    # -- inventory ------------------------------------------------------------------------------------------
    def _stock_failure(self, exc: BaseException, heartland_id: int, label: str) -> Result:
        return self._fail(exc, flow=inventory_flow.InventoryFlow.name, entity_key=inventory_flow.entity_key(heartland_id),
                          payload={"item_id": heartland_id}, label=label)

    @staticmethod
    def _missing_product(sku: str) -> NotFoundInTargetError:
        return NotFoundInTargetError(f"Magento has no product {sku!r} to hold its stock",
                                     hint="backfill products first (`tillbridge backfill products`), then retry this item")

    def _check_products_loaded(self, by_sku: dict[str, tuple[int, str]], found: dict[str, Any]) -> None:
        """Stop before the first page turns every SKU into a review when the products are not in
        Magento at all: stock needs its products loaded first."""
        if self._products_seen:
            return
        if any(sku.casefold() in found for sku in by_sku):
            self._products_seen = True
            return
        example = next(iter(by_sku))
        raise _Stop(f"Magento has none of the first {len(by_sku)} SKUs (e.g. {example!r}) to hold their stock; "
                    "backfill products first (`tillbridge backfill products`), then inventory")

    def _inventory_page(self, records: list[dict[str, Any]]) -> list[Result]:
        results: list[Result] = []
        by_sku: dict[str, tuple[int, str]] = {}
        for record in records:
            heartland_id = int(record["id"])
            sku = str(record.get("public_id") or "").strip()
            label = f"stock of Heartland item #{sku or heartland_id}"
            if not sku:
                results.append(Result("skipped", label, "no Item # (public_id), so no Magento SKU"))
                continue
            by_sku[sku] = (heartland_id, label)
        if not by_sku:
            return results
        assert self._rules is not None
        if self._rules.mode == "msi":
            return results + self._sources_page(by_sku, self._rules)
        return results + self._stock_items_page(by_sku, self._rules)

    def _stock_items_page(self, by_sku: dict[str, tuple[int, str]], rules: inventory_flow.StockRules) -> list[Result]:
        ids = [hid for hid, _ in by_sku.values()]
        levels = self._read(self.runtime.heartland.available_by_item, ids, rules.location_ids)
        products = self._magento_products(by_sku, None)
        self._check_products_loaded(by_sku, products)
        results: list[Result] = []
        writes: list[tuple[str, int, str, float, dict[str, Any] | None]] = []
        for sku, (heartland_id, label) in by_sku.items():
            product = products.get(sku.casefold())
            if product is None:
                results.append(self._stock_failure(self._missing_product(sku), heartland_id, label))
                continue
            qty = float(levels.get(heartland_id) or 0)
            stock = (product.get("extension_attributes") or {}).get("stock_item")
            if stock is not None and inventory_flow.same_qty(stock.get("qty"), qty) \
                    and bool(stock.get("is_in_stock")) == (qty > 0):
                results.append(Result("unchanged", label))
            elif self.dry_run:
                results.append(Result("updated", label))
            else:
                writes.append((sku, heartland_id, label, qty, stock))
        results += self._parallel(self._write_stock_item, writes)
        return results

    def _write_stock_item(self, work: tuple[str, int, str, float, dict[str, Any] | None]) -> Result:
        sku, heartland_id, label, qty, stock = work
        magento = self.runtime.magento
        try:
            if stock is None:  # the search did not carry the stock item: read it
                stock = magento.stock_item(sku)
                if inventory_flow.same_qty(stock.get("qty"), qty) and bool(stock.get("is_in_stock")) == (qty > 0):
                    return Result("unchanged", label)
            item_id = stock["item_id"]
            self._idempotent(lambda: magento.update_stock_item(sku, item_id, {"qty": qty, "is_in_stock": qty > 0}))
        except NotFoundInTargetError:
            return self._stock_failure(self._missing_product(sku), heartland_id, label)
        except Exception as exc:  # noqa: BLE001 - every record's failure is kept and classified
            return self._stock_failure(exc, heartland_id, label)
        return Result("updated", label)

    def _sources_page(self, by_sku: dict[str, tuple[int, str]], rules: inventory_flow.StockRules) -> list[Result]:
        heartland, magento = self.runtime.heartland, self.runtime.magento
        ids = [hid for hid, _ in by_sku.values()]
        per_item: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in self._read(heartland.inventory_values, ids, rules.location_ids, group=("item_id", "location_id")):
            per_item[int(row["item_id"])].append(row)
        codes = sorted(set(rules.sources.values()))
        current: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        listed = [s for s in by_sku if "," not in s]
        for chunk in _chunks(listed, SKU_CHUNK):
            filters = [("sku", list(chunk), "in"), ("source_code", codes, "in")]
            for row in self._read(lambda f: list(magento.iter_search("inventory/source-items", f, page_size=SOURCE_PAGE)),
                                  filters):
                current[str(row["sku"]).casefold()][str(row["source_code"])] = row
        for sku in (s for s in by_sku if "," in s):
            for row in magento.search_source_items([("sku", sku, "eq")], page_size=100).get("items") or []:
                current[sku.casefold()][str(row["source_code"])] = row
        # A product holds source items once it exists; those with none are looked up in one search.
        unseen = [sku for sku in by_sku if sku.casefold() not in current]
        known = self._magento_products(unseen, None) if unseen else {}
        self._check_products_loaded(by_sku, {**known, **{k: {} for k in current}})
        results: list[Result] = []
        changed: dict[str, list[dict[str, Any]]] = {}
        for sku, (heartland_id, label) in by_sku.items():
            if sku.casefold() not in current and sku.casefold() not in known:
                results.append(self._stock_failure(self._missing_product(sku), heartland_id, label))
                continue
            wanted = inventory_flow.source_quantities(per_item.get(heartland_id, []), rules)
            have = current.get(sku.casefold(), {})
            rows = [{"sku": sku, "source_code": code, "quantity": qty, "status": 1 if qty > 0 else 0}
                    for code, qty in sorted(wanted.items())
                    if code not in have or not inventory_flow.same_qty(have[code].get("quantity"), qty)
                    or int(have[code].get("status") or 0) != (1 if qty > 0 else 0)]
            if not rows:
                results.append(Result("unchanged", label))
            elif self.dry_run:
                results.append(Result("updated", label))
            else:
                changed[sku] = rows
        # Whole SKUs per call, up to msi_batch_size source items: a SKU's sources change together.
        batches: list[list[str]] = [[]]
        size = 0
        for sku, rows in changed.items():
            if batches[-1] and size + len(rows) > rules.batch_size:
                batches.append([])
                size = 0
            batches[-1].append(sku)
            size += len(rows)
        for batch in batches:
            if batch:
                results += self._write_sources(batch, changed, by_sku, rules)
        return results

    def _write_sources(self, batch: list[str], changed: dict[str, list[dict[str, Any]]],
                       by_sku: dict[str, tuple[int, str]], rules: inventory_flow.StockRules) -> list[Result]:
        magento = self.runtime.magento
        rows = [row for sku in batch for row in changed[sku]]
        try:
            self._idempotent(lambda: magento.save_source_items(rows, batch_size=rules.batch_size))
            return [Result("updated", by_sku[sku][1]) for sku in batch]
        except (DestinationUnavailable, AuthError) as exc:
            raise _Stop(str(exc)) from exc
        except SyncError as exc:
            if len(batch) == 1:
                heartland_id, label = by_sku[batch[0]]
                return [self._stock_failure(exc, heartland_id, label)]
            # Magento validates the whole batch and writes none of it: find the SKUs at fault one by one.
            log.info("MSI batch of %s SKUs refused (%s); writing them one by one", len(batch), exc)
        return [result for sku in batch for result in self._write_sources([sku], changed, by_sku, rules)]

    # -- customers ------------------------------------------------------------------------------------------
    def _customers_page(self, records: list[dict[str, Any]]) -> list[Result]:
        ids = [str(r["id"]) for r in records]
        with self.store.session() as s:
            to_heartland = {b.external_id: b for b in s.scalars(select(Binding).where(
                Binding.entity == "customer", Binding.system == "heartland", Binding.external_id.in_(ids)))}
            keys = [b.key for b in to_heartland.values()]
            to_magento = {b.key: b for b in s.scalars(select(Binding).where(
                Binding.entity == "customer", Binding.system == "magento", Binding.key.in_(keys)))} if keys else {}
        results: list[Result] = []
        todo: list[dict[str, Any]] = []
        for record in records:
            label = f"Heartland customer {record.get('email') or record['id']}"
            held = to_heartland.get(str(record["id"]))
            synced = to_magento.get(held.key) if held is not None else None
            version = duplicates.utc_text(str(record.get("updated_at") or ""))
            if synced is not None and version and version == duplicates.utc_text(synced.source_version):
                results.append(Result("unchanged", label))
            elif self.dry_run:
                results.append(Result("updated" if synced is not None else "created", label))
            else:
                todo.append(record)
        if not todo:
            return results
        return results + self._through_flow([
            _FlowWork(flow=CustomersFlow.name, direction="heartland→magento",
                      entity_key=f"customers:heartland:customer:{r['id']}",
                      label=f"Heartland customer {r.get('email') or r['id']}",
                      payload={"kind": "customer", "id": r["id"], "record": dict(r)},
                      version=str(r.get("updated_at") or "")) for r in todo])

    # -- gift cards -----------------------------------------------------------------------------------------
    def _giftcards_page(self, records: list[dict[str, Any]]) -> list[Result]:
        from service.flows import giftcards

        keys = {giftcards.card_key(r["number"]): r for r in records if r.get("number")}
        bound = self._bindings(giftcards.ENTITY, keys, "magento")
        if self.dry_run:
            return [Result("unchanged" if key in bound else "created", giftcards.masked(r["number"]))
                    for key, r in keys.items()]
        # The number never reaches an item: the flow reads the card by its Heartland id.
        return self._through_flow([
            _FlowWork(flow=giftcards.GiftCardsFlow.name, direction=giftcards.HEARTLAND_DIRECTION, entity_key=key,
                      label=giftcards.masked(r["number"]), payload={"source": "heartland", "gift_card_id": r["id"]},
                      version="0") for key, r in keys.items()])

    # -- records run by their flow itself -------------------------------------------------------------------
    def _through_flow(self, work: list[_FlowWork]) -> list[Result]:
        """Run records through their flow, in this process: one sync item each, shaped as the Heartland
        webhook and poller record them, run by the engine's pipeline (locks, classified failures)."""
        labels: dict[int, str] = {}
        with self.store.session() as s:
            for w in work:
                item = items.create(s, flow=w.flow, direction=w.direction, entity_key=w.entity_key,
                                    label=f"{w.label} (backfill)", payload=w.payload, source_version=w.version)
                labels[int(item.id)] = w.label
        return self._parallel(lambda item_id: self._run_item(item_id, labels[item_id]), list(labels))

    def _run_item(self, item_id: int, label: str) -> Result:
        state = self.runtime.pipeline.run_item(item_id)
        item = items.get(self.store, item_id)
        reason = item.reason if item is not None else ""
        result = dict(item.result or {}) if item is not None else {}
        if state == "done":
            if result.get("created"):
                return Result("created", label, reason)
            if result.get("writes") == []:  # the customers flow: both sides already agreed
                return Result("unchanged", label, reason)
            return Result("updated", label, reason)
        if state == "ignored":
            in_step = reason == ECHO_REASON or any(
                words in reason for words in ("already synced", "no changes", "already has", "already in step", "stale"))
            return Result("unchanged" if in_step else "skipped", label, reason)
        if state in ("review", "dead"):
            return Result(state, label, reason)
        if state == "received":
            # Rescheduled by the engine (a retryable failure): the scheduler hands it to the workers when due.
            return Result("queued", label, reason)
        return Result("queued", label, f"item {item_id} is being run elsewhere")
