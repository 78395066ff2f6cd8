"""One item's run: claim it, lock its entity, run its flow, and record what happened.

The engine knows no entity. A flow is looked up by the item's ``flow`` name and returns an
Outcome or raises a classified SyncError; the class alone decides what happens next.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from redis import Redis

from service.engine import locks, shutdown
from service.engine.errors import DestinationUnavailable, FailureClass, SyncError
from service.engine.outcome import Outcome
from service.engine.retry import RetryPolicy
from service.engine.trace import Trace, tracing
from service.store import items
from service.store.db import Store
from service.store.tables import SyncItem

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
        trace = Trace()
        lock = locks.entity_lock(self.redis, item.entity_key, self.settings.lock_ttl_seconds)
        try:
            acquired = locks.acquire(lock, self.settings.lock_wait_seconds)
        except shutdown.Stopping:
            return self._hand_back(item, trace)
        if not acquired:
            trace.note("lock", f"{item.entity_key} is being synced by another run; waiting", status="wait")
            items.reschedule(self.store, item.id, delay_seconds=1.0, reason="waiting for the entity lock",
                             attempts=item.attempts, waits=item.waits + 1, steps=trace.steps)
            return "received"
        try:
            return self._run_locked(item, trace)
        finally:
            locks.release(lock)

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
        except SyncError as exc:
            return self._failed(item, trace, exc)
        except Exception as exc:  # noqa: BLE001 - a bug must not lose the item: dead-letter it
            log.exception("item %s (%s) failed unexpectedly", item.id, item.flow)
            trace.note("error", f"unexpected {type(exc).__name__}: {exc}", status="error",
                       detail={"traceback": traceback.format_exc(limit=8)})
            items.kill(self.store, item, failure_class=FailureClass.FATAL.value,
                       error=f"unexpected {type(exc).__name__}: {exc}", attempts=attempt, steps=trace.steps)
            return "dead"
        items.finish(self.store, item.id, state=outcome.state, reason=outcome.reason, result=outcome.result,
                     attempts=attempt, steps=trace.steps, mapping_version=outcome.mapping_version)
        return outcome.state

    def _hand_back(self, item: SyncItem, trace: Trace) -> str:
        trace.note("stop", "the worker is stopping; the item is handed back for another run", status="wait")
        items.reschedule(self.store, item.id, delay_seconds=0.0, reason="handed back by a stopping worker",
                         attempts=item.attempts, waits=item.waits, steps=trace.steps)
        return "received"

    def _failed(self, item: SyncItem, trace: Trace, exc: SyncError) -> str:
        cls = exc.failure_class
        policy = self.settings.policy
        text = str(exc)
        if isinstance(exc, DestinationUnavailable) or cls is FailureClass.RATE_LIMITED:
            # Waiting for a destination is not the item's fault: no attempt is used.
            delay = policy.delay(1, retry_after=exc.retry_after if exc.retry_after is not None else 1.0)
            trace.note("wait", f"{text}; next try in {delay:.1f} s", status="wait")
            items.reschedule(self.store, item.id, delay_seconds=delay, reason=text, attempts=item.attempts,
                             waits=item.waits + 1, steps=trace.steps, failure_class=cls.value)
            return "received"
        attempt = item.attempts + 1
        if cls is FailureClass.RETRYABLE:
            if policy.exhausted(attempt):
                trace.note("give-up", f"{text}; gave up after {attempt} attempts", status="error")
                items.kill(self.store, item, failure_class=cls.value,
                           error=f"{text} (gave up after {attempt} attempts)", attempts=attempt, steps=trace.steps)
                return "dead"
            delay = policy.delay(attempt, retry_after=exc.retry_after)
            trace.note("retry", f"{text}; attempt {attempt} of {policy.max_attempts}, next in {delay:.1f} s",
                       status="retry")
            items.reschedule(self.store, item.id, delay_seconds=delay, reason=text, attempts=attempt,
                             waits=item.waits, steps=trace.steps, failure_class=cls.value)
            return "received"
        if cls is FailureClass.NOT_FOUND:
            trace.note("review", text, status="review")
            items.finish(self.store, item.id, state="review", reason=text, result=_details(exc), attempts=attempt,
                         steps=trace.steps, failure_class=cls.value)
            return "review"
        trace.note("dead-letter", text, status="error", detail=_details(exc))
        items.kill(self.store, item, failure_class=cls.value, error=text, attempts=attempt, steps=trace.steps)
        return "dead"


def _details(exc: SyncError) -> dict[str, Any]:
    details: dict[str, Any] = {"class": exc.failure_class.value}
    if exc.status is not None:
        details["status"] = exc.status
    if exc.details is not None:
        details["details"] = exc.details
    if exc.hint:
        details["hint"] = exc.hint
    return details
