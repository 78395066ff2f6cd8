"""Duplicate-customer resolution inside the sync: one resolver per process on the shared Redis index.

The orders flow (and the customers flow, when it lands) asks :func:`link_order_customer` before it
looks a customer up by email or creates one:

- ``match``: the incoming customer is a Heartland customer Tillbridge knows; the flow uses it (a
  binding, no new Heartland record).
- ``review``: it may be; the flow does not wait for a person: it goes on as without resolution and
  :meth:`CustomerLink.settle` queues the pair for the review page (/reviews/customers).
- ``create``: nobody like it is known.

Every Heartland customer the flow binds or creates is indexed (``heartland:<id>``), so the next
record is compared with it; ``tillbridge customers index`` fills the index from Heartland once.
Every decision is noted in the run's trace with its score and the fields that drove it.
"""

from __future__ import annotations

import enum
import logging
import math
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from service.ai.dedup.index import RedisIndex
from service.ai.dedup.model import ModelError
from service.ai.dedup.normalise import FIELDS, Profile, normalise
from service.ai.dedup.resolver import Decision, DedupRules, Resolver, load_rules, merge
from service.engine import trace as tracing
from service.kernel.errors import NotFoundInTargetError
from service.store import bindings, customer_reviews
from service.store.customer_reviews import NewPair, ReviewError
from service.store.tables import Binding

if TYPE_CHECKING:
    from service.canonical.order import Order
    from service.flows.context import Context

log = logging.getLogger(__name__)

INDEX_PREFIX = "heartland:"
RULE_FILES = ("dedup.yaml", "nicknames.yaml")
#: How often a process looks at the rule files' modification times: stating them on every
#: resolution was a noticeable part of it, and an edited rules file may take a second to apply.
RULES_CHECK_SECONDS = 1.0
#: The fields a Heartland customer record holds itself; phone and address live on its addresses.
HEARTLAND_CUSTOMER_FIELDS = ("first_name", "last_name", "email")


class _Unread(enum.Enum):
    UNREAD = enum.auto()


#: A merged target not read yet (``resolve`` reads it); the orders flow reads it with the binding.
UNREAD = _Unread.UNREAD


def index_id(heartland_id: int | str) -> str:
    return f"{INDEX_PREFIX}{heartland_id}"


def heartland_id_of(candidate_id: str) -> int | None:
    """The Heartland id of an index entry; None for entries of another system."""
    if not candidate_id.startswith(INDEX_PREFIX):
        return None
    return int(candidate_id[len(INDEX_PREFIX):])


# -- canonical customers --------------------------------------------------------------------------

def order_customer(order: Order) -> dict[str, str]:
    """The customer of a Magento order as a canonical customer record (billing address and phone)."""
    billing = order.billing
    return {
        "first_name": order.first_name or billing.first_name,
        "middle_name": "",
        "last_name": order.last_name or billing.last_name,
        "email": order.email,
        "phone": billing.phone,
        "street": ", ".join(line.strip() for line in billing.street if line and line.strip()),
        "city": billing.city,
        "region": billing.region_code or billing.region,
        "postcode": billing.postcode,
        "country": billing.country,
        "dob": str(order.extra.get("customer_dob") or "")[:10],
        "magento_id": order.customer_id if order.customer_id and not order.is_guest else "",
        "heartland_id": "",
        "source": "magento",
        "updated_at": utc_text(order.updated_at or order.created_at),
    }


def heartland_customer(record: Mapping[str, Any], addresses: list[Mapping[str, Any]] | None = None) -> dict[str, str]:
    """A Heartland customer (and its addresses) as a canonical customer record.

    Heartland keeps phones on addresses: the address with a phone and a street is taken first.
    """
    rows = list(addresses if addresses is not None else record.get("addresses") or [])
    rows.sort(key=lambda a: (not a.get("phone"), not a.get("line_1"), int(a.get("id") or 0)))
    address: Mapping[str, Any] = rows[0] if rows else {}
    street = [str(address.get(k) or "").strip() for k in ("line_1", "line_2")]
    return {
        "first_name": str(record.get("first_name") or ""),
        "middle_name": "",
        "last_name": str(record.get("last_name") or ""),
        "email": str(record.get("email") or ""),
        "phone": str(address.get("phone") or ""),
        "street": ", ".join(s for s in street if s),
        "city": str(address.get("city") or ""),
        "region": str(address.get("state") or ""),
        "postcode": str(address.get("postal_code") or ""),
        "country": str(address.get("country") or ""),
        "dob": "",
        "magento_id": "",
        "heartland_id": str(record.get("id") or ""),
        "source": "heartland",
        "updated_at": utc_text(record.get("updated_at")),
    }


def utc_text(value: Any) -> str:
    """A timestamp as UTC ISO text of one shape, so survivorship's "most recent" compares like with like.

    Magento writes "2026-11-27 10:00:00" (UTC), Heartland ISO 8601 with an offset; text without an
    offset is taken as UTC. Unreadable values become "" (never the most recent).
    """
    text = str(value or "").strip()
    if not text:
        return ""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def describe(decision: Decision) -> str:
    """A decision in words, for the trace."""
    why = "; ".join(decision.drivers)
    target = heartland_id_of(decision.candidate_id) if decision.candidate_id else None
    if decision.kind == "match":
        return f"same customer as Heartland customer {target} (score {decision.score:.2f}: {why})"
    if decision.kind == "review":
        return f"maybe Heartland customer {target} (score {decision.score:.2f}: {why})"
    return f"no known customer is this one (best score {decision.score:.2f}: {why})"


# -- the resolver of this process -----------------------------------------------------------------

class CustomerDedup:
    """Duplicate resolution for one runtime: the index on the runtime's Redis, rules reloaded on change.

    Indexing needs only the rules; the resolver (and its model) is built on the first resolution, so
    customers are indexed even while no dedup model is promoted yet.
    """

    def __init__(self, runtime: Context) -> None:
        # Weakly: the per-process table of these (``for_runtime``) must not keep a runtime alive.
        self._runtime = weakref.ref(runtime)
        self._rules: DedupRules | None = None
        self._index: RedisIndex | None = None
        self._resolver: Resolver | None = None
        self._stamp: tuple[float, ...] = ()
        self._seen_stamp: tuple[float, ...] = ()
        self._stamp_read_at = -math.inf
        self._lock = threading.Lock()

    @property
    def runtime(self) -> Context:
        runtime = self._runtime()
        if runtime is None:
            raise RuntimeError("the runtime of this duplicate resolution is gone")
        return runtime

    @property
    def store(self) -> Any:
        return self.runtime.store

    def _rules_stamp(self) -> tuple[float, ...]:
        """The rule files' modification times, as read at most every ``RULES_CHECK_SECONDS``."""
        now = time.monotonic()
        if now - self._stamp_read_at >= RULES_CHECK_SECONDS:
            self._seen_stamp = tuple(self.runtime.rules.path(name).stat().st_mtime for name in RULE_FILES)
            self._stamp_read_at = now
        return self._seen_stamp

    def _current(self) -> tuple[DedupRules, RedisIndex]:
        stamp = self._rules_stamp()
        with self._lock:
            if self._rules is None or self._index is None or stamp != self._stamp:
                self._rules = load_rules(self.runtime.rules)
                self._index = RedisIndex(self.runtime.redis, self._rules.blocking)
                self._resolver = None
                self._stamp = stamp
            return self._rules, self._index

    @property
    def rules(self) -> DedupRules:
        """rules/dedup.yaml and rules/nicknames.yaml as they are now."""
        return self._current()[0]

    @property
    def index(self) -> RedisIndex:
        return self._current()[1]

    @property
    def resolver(self) -> Resolver:
        """The resolver: the promoted dedup model of MODELS_DIR (it follows promotions by itself)."""
        rules, index = self._current()
        with self._lock:
            if self._resolver is None:
                self._resolver = Resolver(index, rules=rules,
                                          models_dir=self.runtime.settings.MODELS_DIR)
            return self._resolver

    def resolve(self, customer: Mapping[str, Any], key: str, merged: str | None | _Unread = UNREAD) -> Decision:
        """Decide who ``customer`` (bound under ``key`` once synced) is; a person's merge decision wins.
        ``merged``: the caller read the merge target already (``customer_reviews.binding_and_merge``)."""
        if merged is UNREAD:
            merged = customer_reviews.merged_target(self.store, key)
        if merged is not None:
            return Decision("match", index_id(merged), 1.0, ["a person merged this customer on the review page"])
        return self.resolver.resolve(customer)

    def _profile(self, customer: Mapping[str, Any]) -> Profile:
        return normalise(customer, self.rules.vocabulary)

    def index_heartland(self, heartland_id: int | str, customer: Mapping[str, Any]) -> None:
        """Index (again) a Heartland customer, so the next records are compared with it."""
        self.index.add(index_id(heartland_id), self._profile(customer))

    def unindex_heartland(self, heartland_id: int | str) -> None:
        self.index.remove(index_id(heartland_id))

    def is_indexed(self, heartland_id: int | str) -> bool:
        return self.index.get(index_id(heartland_id)) is not None

    def fetch_heartland(self, heartland_id: int | str) -> dict[str, str]:
        """The Heartland customer as it is now, with its addresses, as a canonical record."""
        record = self.runtime.heartland.customer(int(heartland_id), include=["addresses"])
        return heartland_customer(record)

    def backfill(self, batch: int = 2_000) -> int:
        """Index every Heartland customer (first run, or after Redis lost the index); returns the count."""
        index = self.index
        pending: list[tuple[str, Profile]] = []
        count = 0
        for record in self.runtime.heartland.iterate("customers", include=["addresses"]):
            pending.append((index_id(record["id"]), self._profile(heartland_customer(record))))
            if len(pending) >= batch:
                index.add_many(pending)
                count += len(pending)
                pending = []
        index.add_many(pending)
        return count + len(pending)

    @property
    def model_version(self) -> str:
        return self.resolver.model.version


_services: WeakKeyDictionary[Any, CustomerDedup] = WeakKeyDictionary()
_services_lock = threading.Lock()


def for_runtime(runtime: Context) -> CustomerDedup:
    """The duplicate resolution of this process's runtime (made once, on first use)."""
    with _services_lock:
        service = _services.get(runtime)
        if service is None:
            service = CustomerDedup(runtime)
            _services[runtime] = service
        return service


# -- the orders flow's customer step --------------------------------------------------------------

@dataclass
class CustomerLink:
    """What duplicate resolution says about an order's customer, and what to do once the flow chose one."""

    service: CustomerDedup
    key: str
    customer: dict[str, str]
    origin: str
    decision: Decision | None = None  # None: resolution was off (no model); the customer is still indexed

    @property
    def heartland_id(self) -> int | None:
        """The Heartland customer to use: set only for a ``match``."""
        if self.decision is None or self.decision.kind != "match" or not self.decision.candidate_id:
            return None
        return heartland_id_of(self.decision.candidate_id)

    def settle(self, heartland_id: int, *, created: bool, record: dict[str, Any] | None = None) -> None:
        """Index the customer the flow used and, for a ``review``, queue the pair for a person.
        ``record`` is the customer as Heartland just answered it (with its addresses), if the flow
        has it: then it is not read again."""
        decision = self.decision
        if created:
            self.service.index_heartland(heartland_id, self.customer)
        elif not self.service.is_indexed(heartland_id):
            current = heartland_customer(record) if record is not None else self.service.fetch_heartland(heartland_id)
            self.service.index_heartland(heartland_id, current)
        if decision is None or decision.kind != "review" or not decision.candidate_id:
            return
        candidate = heartland_id_of(decision.candidate_id)
        if candidate is None or candidate == heartland_id:
            return
        try:
            right = self.service.fetch_heartland(candidate)
        except NotFoundInTargetError:
            self.service.unindex_heartland(candidate)
            _note(f"not queued for review: Heartland customer {candidate} no longer exists (dropped from the index)",
                  decision)
            return
        pair = customer_reviews.queue(self.service.store, NewPair(
            left_key=self.key, left_id=self.customer.get("magento_id", ""), left=self.customer,
            right_id=str(candidate), right=right,
            linked_id=str(heartland_id), linked_created=created, score=decision.score,
            drivers=list(decision.drivers), origin=self.origin, model_version=self.service.model_version,
        ))
        _note(f"not linked: queued for review as customer review #{pair.id} (/reviews/customers); "
              f"this order uses Heartland customer {heartland_id} meanwhile", decision, status="review")


def link_order_customer(runtime: Context, order: Order, key: str, *, merged: str | None | _Unread = UNREAD
                        ) -> CustomerLink:
    """Resolve a Magento order's customer (bound under ``key`` once synced); see :func:`link_customer`."""
    return link_customer(runtime, order_customer(order), key, f"Magento order #{order.number}", merged=merged)


def link_customer(runtime: Context, customer: dict[str, str], key: str, origin: str, *,
                  merged: str | None | _Unread = UNREAD) -> CustomerLink:
    """Resolve a canonical customer against the known Heartland customers, noting the decision in the trace.

    ``key`` is the record's binding key, ``origin`` what a person calls the record that brought it
    ("Magento order #42"), ``merged`` a person's merge decision when the caller read it with the
    binding (``customer_reviews.binding_and_merge``). A missing model does not hold the sync up: the
    decision is noted as an error and the flow goes on as without duplicate resolution (email
    lookup, else a new customer).
    """
    service = for_runtime(runtime)
    try:
        service.resolver  # noqa: B018 - loads the model on first use, outside the timing below
        started = time.perf_counter()
        decision = service.resolve(customer, key, merged)
    except ModelError as exc:
        log.warning("duplicate resolution is off for %s: %s", origin, exc)
        tracing_note(f"duplicate resolution skipped: {exc}", status="error")
        return CustomerLink(service, key, customer, origin)
    tracing_note(describe(decision), detail={**decision.as_trace(),
                                             "resolve_ms": round((time.perf_counter() - started) * 1000, 2)})
    return CustomerLink(service, key, customer, origin, decision)


def _note(message: str, decision: Decision, *, status: str = "ok") -> None:
    tracing_note(message, status=status, detail=decision.as_trace())


def tracing_note(message: str, *, status: str = "ok", detail: dict[str, Any] | None = None) -> None:
    # The flow's run() owns the Trace; the engine makes it current for the run (service.engine.trace).
    current = tracing.current_trace()
    if current is not None:
        current.note("dedup", message, status=status, detail=detail)


def bind_customer(runtime: Context, key: str, heartland_id: int, data: dict[str, Any]) -> bool:
    """Bind ``key`` to the Heartland customer; False when another key holds that customer's binding.

    Bindings are unique per Heartland customer, while duplicate resolution links several records
    (a guest email, a Magento account) to one: those stay linked through resolution (the index, or a
    merged review) instead of a second binding.
    """
    try:
        bindings.bind(runtime.store, entity="customer", key=key, system="heartland", external_id=str(heartland_id),
                      data=data)
        return True
    except IntegrityError:
        holder = bindings.find_external(runtime.store, "customer", "heartland", str(heartland_id))
        tracing_note(f"Heartland customer {heartland_id} is bound to {holder.key if holder else 'another record'}; "
                     f"{key} stays linked to it through duplicate resolution")
        return False


def unbind_customer(runtime: Context, key: str) -> None:
    with runtime.store.session() as s:
        s.execute(delete(Binding).where(Binding.entity == "customer", Binding.key == key,
                                        Binding.system == "heartland"))


# -- the review page's merge --------------------------------------------------------------------

@dataclass
class MergeResult:
    survivor_id: int
    merged: dict[str, str]
    heartland_changes: dict[str, str]
    bound: bool


def merge_pair(runtime: Context, review_id: int, *, actor: str, note: str = "") -> MergeResult:
    """Merge a reviewed pair: the Heartland customer survives and the Magento customer is linked to it.

    Heartland has no merge API, so merging (1) writes the surviving values of the fields a Heartland
    customer holds (names, email; survivorship from rules/dedup.yaml) onto the Heartland customer,
    (2) binds the Magento customer to it, so its next orders go there, (3) indexes the merged record
    and drops the duplicate the sync created meanwhile from the index, and (4) records the decision.
    The duplicate Heartland customer and the orders already placed on it stay as they are.
    """
    row = customer_reviews.get(runtime.store, review_id)
    if row is None:
        raise ReviewError(f"there is no customer review {review_id}")
    if row.state not in customer_reviews.OPEN_STATES:
        raise ReviewError(f"customer review {review_id} was already decided ({row.state} by {row.decided_by}); "
                          "decisions are final")
    service = for_runtime(runtime)
    survivor_id = int(row.right_id)
    current = service.fetch_heartland(survivor_id)
    incoming = {**row.left, "source": "magento"}
    merged = merge(current, incoming, service.rules.merge_policy)
    changes = {name: merged[name] for name in HEARTLAND_CUSTOMER_FIELDS
               if merged[name] and merged[name] != current.get(name, "")}
    if changes:
        runtime.heartland.update_customer(survivor_id, changes)
    bound = bind_customer(runtime, row.left_key, survivor_id, {"addresses": {}, "merged_review": row.id})
    if not bound:
        unbind_customer(runtime, row.left_key)  # the merged review is the link now
    service.index_heartland(survivor_id, {name: merged[name] for name in FIELDS})
    if row.linked_created and row.linked_id and row.linked_id != str(survivor_id):
        service.unindex_heartland(row.linked_id)
    customer_reviews.decide(runtime.store, review_id, "merged", actor=actor, note=note)
    return MergeResult(survivor_id, merged, changes, bound)
