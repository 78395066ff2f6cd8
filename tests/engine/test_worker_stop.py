"""A worker or scheduler asked to stop (SIGTERM) exits promptly and loses nothing: a run that outlives
the grace is interrupted, its item handed back without using an attempt, and the next worker
finishes it with each effect made once."""

from __future__ import annotations

import signal
import time

from service.store import bindings, items
from tests.flows.test_orders_e2e import all_done, assert_exactly_once, place
from tests.stack import Stack


def test_a_stopped_worker_hands_its_item_back_and_the_next_one_finishes_it(stack: Stack) -> None:
    grace = float(stack.settings["WORKER_STOP_GRACE_SECONDS"])
    # Every Heartland answer takes 1.5 s: an order's run (several calls) outlives the grace.
    stack.faults(stack.heartland, latency_ms=1500)
    worker = stack.start_worker("stopping")
    [order] = place(stack, 1)
    stack.wait_for(lambda: bool(items.search(stack.runtime.store, state="processing")), timeout=30,
                   what="the order's run to start")
    time.sleep(0.5)
    asked = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=grace + 10)
    took = time.monotonic() - asked
    stack.processes.pop("stopping")
    assert took < grace + 5, f"the worker took {took:.1f} s to stop (grace {grace} s)"

    [item] = items.search(stack.runtime.store, flow="orders")
    assert item.state == "received" and item.attempts == 0, (item.state, item.attempts, item.reason)
    assert item.reason == "handed back by a stopping worker"
    assert any(step.step == "stop" for step in items.steps(stack.runtime.store, item.id))
    assert bindings.count(stack.runtime.store, "order", "heartland") == 0

    stack.faults(stack.heartland, latency_ms=0)
    stack.start_worker("next")
    stack.start_scheduler()
    stack.wait_for(lambda: all_done(stack, [order]), timeout=60, what="the order synced by the next worker")
    assert_exactly_once(stack, [order])


def test_an_idle_worker_and_the_scheduler_exit_at_once(stack: Stack) -> None:
    worker = stack.start_worker()
    scheduler = stack.start_scheduler()
    for name in ("worker", "scheduler"):
        stack.wait_started(name)
    time.sleep(1)  # idle: the worker waiting on the queue, the scheduler between ticks
    asked = time.monotonic()
    for name in ("worker", "scheduler"):
        stack.kill(name, signal.SIGTERM)
    took = time.monotonic() - asked
    assert took < 5, f"an idle worker and the scheduler took {took:.1f} s to stop"
    assert worker.returncode == 0 and scheduler.returncode == 0, (worker.returncode, scheduler.returncode)
