"""The engine's decisions by failure class, on the real store and Redis, with a flow made for the test."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from service.app.scheduler import sweep
from service.engine import deadletters
from service.engine.outcome import Outcome
from service.engine.trace import Trace
from service.kernel.errors import (
    AuthError,
    DataError,
    DestinationUnavailable,
    NotFoundInTargetError,
    RateLimitedError,
    RetryableError,
)
from service.store import items
from service.store.tables import SyncItem


class ScriptedFlow:
    """Raises the next scripted error on each run, then succeeds."""

    name = "scripted"
    direction = "test"

    def __init__(self, script: list[Exception]) -> None:
        self.script = list(script)
        self.runs = 0

    def run(self, item: SyncItem, trace: Trace) -> Outcome:
        self.runs += 1
        with trace.step("work"):
            if self.script:
                raise self.script.pop(0)
        return Outcome.done("worked", runs=self.runs)


def new_item(runtime: Any, key: str = "k1") -> int:
    with runtime.store.session() as s:
        return items.create(s, flow="scripted", entity_key=key, payload={"n": 1}, label="thing 1").id


def run(runtime: Any, flow: ScriptedFlow, item_id: int) -> str:
    runtime._flows["scripted"] = flow
    return str(runtime.pipeline.run_item(item_id))


def make_due(runtime: Any, item_id: int) -> None:
    from sqlalchemy import update

    from service.store.tables import utcnow

    with runtime.store.session() as s:
        s.execute(update(SyncItem).where(SyncItem.id == item_id).values(next_attempt_at=utcnow()))


def test_retryable_backs_off_then_succeeds_counting_attempts(runtime: Any) -> None:
    flow = ScriptedFlow([RetryableError("503 from heartland"), RetryableError("timeout")])
    item_id = new_item(runtime)
    # A backoff of up to a minute (full jitter draws below the 50 ms this test needs 1 time in 1,200).
    runtime.pipeline.settings.policy = dataclasses.replace(runtime.pipeline.settings.policy, base_seconds=60.0,
                                                           cap_seconds=60.0)
    assert run(runtime, flow, item_id) == "received"
    assert run(runtime, flow, item_id) == "skipped"  # not due yet
    make_due(runtime, item_id)
    assert run(runtime, flow, item_id) == "received"
    make_due(runtime, item_id)
    assert run(runtime, flow, item_id) == "done"
    item = items.get(runtime.store, item_id)
    assert item is not None and (item.state, item.attempts, item.reason) == ("done", 3, "worked")
    statuses = [s.status for s in items.steps(runtime.store, item_id) if s.step in ("retry", "work")]
    assert statuses == ["error", "retry", "error", "retry", "ok"]


def test_retryable_gives_up_into_a_dead_letter_after_max_attempts(runtime: Any) -> None:
    runtime.reconfigure(MAX_ATTEMPTS=2)
    runtime.__dict__.pop("policy", None)
    runtime.__dict__.pop("pipeline", None)
    flow = ScriptedFlow([RetryableError("503"), RetryableError("503 again")])
    item_id = new_item(runtime)
    run(runtime, flow, item_id)
    make_due(runtime, item_id)
    assert run(runtime, flow, item_id) == "dead"
    [letter] = deadletters.query(runtime.store)
    assert letter.failure_class == "retryable" and "gave up after 2 attempts" in letter.error
    assert letter.payload == {"n": 1}


@pytest.mark.parametrize("error", [DestinationUnavailable("circuit open", retry_after=0.5),
                                   RateLimitedError("429", retry_after=0.5)])
def test_waiting_for_a_destination_burns_no_attempt(runtime: Any, error: Exception) -> None:
    flow = ScriptedFlow([error])
    item_id = new_item(runtime)
    assert run(runtime, flow, item_id) == "received"
    item = items.get(runtime.store, item_id)
    assert item is not None and (item.attempts, item.waits) == (0, 1)
    assert item.next_attempt_at is not None


@pytest.mark.parametrize(("error", "state", "klass"), [
    (DataError("email: not valid"), "dead", "data"),
    (AuthError("401 from magento"), "dead", "auth"),
    (NotFoundInTargetError("SKU 'X' not found in Heartland"), "review", "not_found"),
    (KeyError("a bug"), "dead", "fatal"),
])
def test_terminal_classes(runtime: Any, error: Exception, state: str, klass: str) -> None:
    item_id = new_item(runtime)
    assert run(runtime, ScriptedFlow([error]), item_id) == state
    item = items.get(runtime.store, item_id)
    assert item is not None and item.state == state and item.failure_class == klass


def test_dead_letter_retry_edit_and_resolve(runtime: Any) -> None:
    first, second = new_item(runtime, "a"), new_item(runtime, "b")
    for item_id in (first, second):
        run(runtime, ScriptedFlow([DataError("bad email")]), item_id)
    letters = {d.item_id: d for d in deadletters.query(runtime.store)}
    retried = deadletters.retry(runtime.store, letters[first].id, actor="ops", payload={"n": 2})
    assert retried == first
    assert run(runtime, ScriptedFlow([]), first) == "done"
    item = items.get(runtime.store, first)
    assert item is not None and item.payload == {"n": 2}
    with pytest.raises(deadletters.DeadLetterError, match="already retried"):
        deadletters.retry(runtime.store, letters[first].id, actor="ops")
    with pytest.raises(deadletters.DeadLetterError, match="note is required"):
        deadletters.resolve(runtime.store, letters[second].id, actor="ops", note=" ")
    deadletters.resolve(runtime.store, letters[second].id, actor="ops", note="fixed in Heartland by hand")
    assert deadletters.query(runtime.store) == []
    assert len(deadletters.query(runtime.store, deadletters.DeadLetterFilter(open_only=False))) == 2


def test_sweeper_reclaims_lost_work_and_resends_lost_enqueues(runtime: Any) -> None:
    from sqlalchemy import update

    from service.store.tables import utcnow

    lost_run, lost_enqueue = new_item(runtime, "x"), new_item(runtime, "y")
    assert items.claim(runtime.store, lost_run, lease_seconds=0.0) is not None  # its worker "dies"
    with runtime.store.session() as s:  # the enqueue after commit "never happened" long ago
        s.execute(update(SyncItem).where(SyncItem.id == lost_enqueue)
                  .values(enqueued_at=utcnow().replace(year=2020)))
    result = sweep(runtime)
    assert result.reclaimed == 1 and result.enqueued == 2
    assert len(runtime.queue) == 2
    assert sweep(runtime).enqueued == 0  # marked enqueued: not sent twice
    steps = [s.step for s in items.steps(runtime.store, lost_run)]
    assert steps == ["reclaim"]
