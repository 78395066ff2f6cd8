"""One item's run: claim it, lock its entity, run its flow, and record what happened.

The engine knows no entity. A flow is looked up by the item's ``flow`` name and returns an
Outcome or raises a classified SyncError; the class alone decides what happens next.

A run is fenced (service/engine/lease.py, service/store/items.py): its claim carries a token, a
heartbeat keeps its lease and its entity lock while it runs, a run that lost them writes nothing
to another system and nothing to the store. Waits for a destination (breaker open, throttled, the
entity busy) use no attempt, grow with their count, and end in a dead letter after
``wait_limit_seconds`` that says what was unavailable since when.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.timeouts import JobTimeoutException
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from service.engine import locks, shutdown
from service.engine.lease import Lease, LostLease
from service.engine.outcome import Outcome
from service.engine.trace import Trace, tracing
from service.kernel.errors import DestinationUnavailable, FailureClass, RetryableError, SyncError
from service.kernel.retry import RetryPolicy
from service.store import items
from service.store.db import Store
from service.store.tables import SyncItem, utcnow

log = logging.getLogger(__name__)


class Flow(Protocol):
    name: str
    direction: str

    def run(self, item: SyncItem, trace: Trace) -> Outcome: ...


@dataclass
class EngineSettings:
    lease_seconds: float
    lock_ttl_seconds: float
    lock_wait_seconds: float
    policy: RetryPolicy
    wait_limit_seconds: float = 86400.0


class Pipeline:
    def __init__(self, store: Store, redis: Redis, flow_for: Callable[[str], Flow], settings: EngineSettings) -> None:
        self.store = store
        self.redis = redis
        self.flow_for = flow_for
        self.settings = settings

    def run_item(self, item_id: int) -> str:
        """Run one item; returns the state it ended the run in ("skipped" if not ours to run)."""
        item = items.claim(self.store, item_id, self.settings.lease_seconds)
        if item is None:
            return "skipped"
        try:
            return self._run_claimed(item, Trace(progress=item.progress))
        except items.StaleRun:
            # Another run owns the item now (this one stalled past its lease): nothing was written.
            return "stale"

    def _run_claimed(self, item: SyncItem, trace: Trace) -> str:
        lock = locks.entity_lock(self.redis, item.entity_key, self.settings.lock_ttl_seconds)
        try:
            acquired = locks.acquire(lock, self.settings.lock_wait_seconds)
        except shutdown.Stopping:
            return self._hand_back(item, trace)
        if not acquired:
            trace.note("lock", f"{item.entity_key} is being synced by another run; waiting", status="wait")
            return self._wait(item, trace, "waiting for the entity lock", retry_after=1.0, what="the record's lock")
        lease = Lease(item.id, item.fence, lock, self.settings.lease_seconds, self._extend)
        try:
            with lease.heartbeating():
                return self._run_locked(item, trace)
        finally:
            locks.release(lock)

    def _extend(self, item_id: int, fence: int, lease_seconds: float) -> bool:
        return items.heartbeat(self.store, item_id, fence, lease_seconds)

    def _run_locked(self, item: SyncItem, trace: Trace) -> str:
        attempt = item.attempts + 1
        try:
            flow = self.flow_for(item.flow)
            with tracing(trace), shutdown.interruptible():
                outcome = flow.run(item, trace)
        except shutdown.Stopping:
            # The worker is stopping and this run outlived its grace: another run takes the item
            # from the start; effects already made are found by their bindings and references.
            return self._hand_back(item, trace)
        except LostLease as exc:
            log.warning("%s; the run stops without writing", exc)
            return "stale"
        except JobTimeoutException as exc:
            # RQ's job timeout cut the run: a slow destination or a slow record, not a bad one.
            return self._failed(item, trace, RetryableError(
                f"the run took longer than the job timeout ({exc})",
                hint="retried with backoff; raise JOB_TIMEOUT_SECONDS if this record is legitimately slow"))
        except SyncError as exc:
            return self._failed(item, trace, exc)
        except (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError) as exc:
            # Our own store or Redis did not answer (a restart, a failover): not the item's fault, so
            # it waits like it waits for a destination. If even that write fails, the lease runs out
            # and the scheduler takes the item back.
            what = "the database" if isinstance(exc, (OperationalError, InterfaceError)) else "Redis"
            log.warning("item %s: %s did not answer: %s", item.id, what, exc)
            return self._wait(item, trace, f"{what} did not answer: {type(exc).__name__}", retry_after=1.0,
                              what=what.capitalize(), failure_class=FailureClass.RETRYABLE.value)
        except Exception as exc:  # noqa: BLE001 - a bug must not lose the item: dead-letter it
            log.exception("item %s (%s) failed unexpectedly", item.id, item.flow)
            trace.note("error", f"unexpected {type(exc).__name__}: {exc}", status="error",
                       detail={"traceback": traceback.format_exc(limit=8)})
            items.kill(self.store, item, fence=item.fence, failure_class=FailureClass.FATAL.value,
                       error=f"unexpected {type(exc).__name__}: {exc}", attempts=attempt, steps=trace.steps, writes=trace.writes,
                       progress=trace.progress)
            return "dead"
        try:
            items.finish(self.store, item.id, fence=item.fence, state=outcome.state, reason=outcome.reason,
                         result=outcome.result, attempts=attempt, steps=trace.steps, writes=trace.writes,
                         mapping_version=outcome.mapping_version, progress=trace.progress)
        except IntegrityError as exc:
            # A binding the run recorded is refused (its external id is bound to another record):
            # the outcome is not recorded without it; the item goes to a person with the reason.
            log.warning("item %s: its end was refused by the store: %s", item.id, exc)
            error = f"a binding this run recorded was refused: {exc.orig}"
            trace.note("error", error, status="error")
            items.kill(self.store, item, fence=item.fence, failure_class=FailureClass.FATAL.value, error=error,
                       attempts=attempt, steps=trace.steps, progress=trace.progress)
            return "dead"
        return outcome.state

    def _hand_back(self, item: SyncItem, trace: Trace) -> str:
        trace.note("stop", "the worker is stopping; the item is handed back for another run", status="wait")
        items.reschedule(self.store, item.id, fence=item.fence, delay_seconds=0.0,
                         reason="handed back by a stopping worker", attempts=item.attempts, waits=item.waits,
                         steps=trace.steps, writes=trace.writes, progress=trace.progress, waiting_since=item.waiting_since)
        return "received"

    def _wait(self, item: SyncItem, trace: Trace, text: str, *, retry_after: float | None, what: str,
              failure_class: str = "") -> str:
        """Wait for a destination or the record's lock: no attempt used, a longer wait each time, and a
        dead letter once the item has waited ``wait_limit_seconds``."""
        now = utcnow()
        since: datetime = item.waiting_since or now
        waited = (now - since).total_seconds()
        if waited >= self.settings.wait_limit_seconds:
            error = (f"{what} has been unavailable since {since:%Y-%m-%d %H:%M:%S} UTC ({_hours(waited)}, "
                     f"{item.waits} waits): {text}; retry this item once it is back")
            trace.note("give-up", error, status="error")
            items.kill(self.store, item, fence=item.fence, failure_class=failure_class or FailureClass.RETRYABLE.value,
                       error=error, attempts=item.attempts, steps=trace.steps, writes=trace.writes, progress=trace.progress)
            return "dead"
        # Each wait is longer than the last (backoff on the wait count, with jitter and the cap); a
        # destination's Retry-After or the breaker's remaining open time is the floor.
        delay = max(retry_after or 0.0, self.settings.policy.delay(item.waits + 1))
        trace.note("wait", f"{text}; next try in {delay:.1f} s", status="wait")
        items.reschedule(self.store, item.id, fence=item.fence, delay_seconds=delay, reason=text,
                         attempts=item.attempts, waits=item.waits + 1, steps=trace.steps, writes=trace.writes, progress=trace.progress,
                         failure_class=failure_class, waiting_since=since)
        return "received"

    def _failed(self, item: SyncItem, trace: Trace, exc: SyncError) -> str:
        cls = exc.failure_class
        policy = self.settings.policy
        text = str(exc)
        if isinstance(exc, DestinationUnavailable) or cls is FailureClass.RATE_LIMITED:
            # Waiting for a destination is not the item's fault: no attempt is used.
            return self._wait(item, trace, text, retry_after=exc.retry_after if exc.retry_after is not None else 1.0,
                              what=exc.destination.capitalize() if exc.destination else "the destination",
                              failure_class=cls.value)
        attempt = item.attempts + 1
        if cls is FailureClass.RETRYABLE:
            if policy.exhausted(attempt):
                trace.note("give-up", f"{text}; gave up after {attempt} attempts", status="error")
                items.kill(self.store, item, fence=item.fence, failure_class=cls.value,
                           error=f"{text} (gave up after {attempt} attempts)", attempts=attempt, steps=trace.steps, writes=trace.writes,
                           progress=trace.progress)
                return "dead"
            delay = policy.delay(attempt, retry_after=exc.retry_after)
            trace.note("retry", f"{text}; attempt {attempt} of {policy.max_attempts}, next in {delay:.1f} s",
                       status="retry")
            items.reschedule(self.store, item.id, fence=item.fence, delay_seconds=delay, reason=text,
                             attempts=attempt, waits=item.waits, steps=trace.steps, writes=trace.writes, progress=trace.progress,
                             failure_class=cls.value)
            return "received"
        if cls is FailureClass.NOT_FOUND:
            trace.note("review", text, status="review")
            items.finish(self.store, item.id, fence=item.fence, state="review", reason=text, result=_details(exc),
                         attempts=attempt, steps=trace.steps, writes=trace.writes, failure_class=cls.value, progress=trace.progress)
            return "review"
        trace.note("dead-letter", text, status="error", detail=_details(exc))
        items.kill(self.store, item, fence=item.fence, failure_class=cls.value, error=text, attempts=attempt,
                   steps=trace.steps, writes=trace.writes, progress=trace.progress)
        return "dead"


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def _details(exc: SyncError) -> dict[str, Any]:
    details: dict[str, Any] = {"class": exc.failure_class.value}
    if exc.status is not None:
        details["status"] = exc.status
    if exc.details is not None:
        details["details"] = exc.details
    if exc.hint:
        details["hint"] = exc.hint
    return details
