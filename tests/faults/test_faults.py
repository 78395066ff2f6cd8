"""The orders scenario under faults an operator meets in production: a worker stalled past its lease and
then resumed, Redis restarted and emptied mid-run, PostgreSQL restarted mid-run, and a destination
down for longer than items may wait. Every order reaches Heartland exactly once, and nothing that
happened is lost or written twice."""

from __future__ import annotations

import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.store import items
from service.store.db import Store
from service.store.tables import DeadLetter
from tests.faults.conftest import stack_on
from tests.faults.servers import PrivatePostgres, PrivateRedis, postgres_binaries
from tests.flows.test_orders_e2e import all_done, assert_exactly_once, place
from tests.stack import Stack


def dead_letters(stack: Stack) -> list[DeadLetter]:
    with stack.runtime.store.session() as s:
        return list(s.query(DeadLetter))


def test_a_worker_stalled_past_its_lease_then_resumed_writes_nothing(settings: dict[str, Any], tmp_path: Path,
                                                                     private_redis: PrivateRedis) -> None:
    # A lease of 7 s (job timeout 6 + grace 1); each Heartland answer takes 1.5 s, so an order's run
    # is surely mid-way when the worker is stopped.
    stack = stack_on(settings, tmp_path, REDIS_URL=private_redis.url, JOB_TIMEOUT_SECONDS=6, LEASE_GRACE_SECONDS=1)
    try:
        stack.faults(stack.heartland, latency_ms=1500)
        stalled = stack.start_worker("stalled")
        stack.start_scheduler()
        [order] = place(stack, 1)

        def mid_run() -> bool:
            return bool(items.search(stack.runtime.store, state="processing")) and bool(
                stack.requests_log(stack.heartland, "/api/customers"))

        stack.wait_for(mid_run, timeout=60, what="the order's run to be under way")
        stalled.send_signal(signal.SIGSTOP)  # a stop-the-world pause: the process does nothing at all
        stack.faults(stack.heartland, latency_ms=0)
        stack.wait_for(lambda: "lease expired" in " ".join(
            s.message for s in items.steps(stack.runtime.store, items.search(stack.runtime.store)[0].id)),
            timeout=30, what="the stalled run's item to be reclaimed")
        stack.start_worker("second")
        stack.wait_for(lambda: all_done(stack, [order]), timeout=60, what="the order synced by the second worker")

        stalled.send_signal(signal.SIGCONT)  # it wakes up mid-run, holding a claim that is no longer its
        time.sleep(6)
        assert stalled.poll() is None, "the resumed worker died instead of dropping its stale run"
        assert_exactly_once(stack, [order])
        assert not dead_letters(stack)
        item = min(items.search(stack.runtime.store, flow="orders"), key=lambda i: i.id)  # the order.created one
        assert item.state == "done"
        log = (stack.workdir / "stalled.log").read_text(errors="replace")
        refused = any(s.step == "fenced" for s in items.steps(stack.runtime.store, item.id))
        assert refused or "lost its lease" in log or "entity lock expired" in log, log[-3000:]
    finally:
        stack.stop()


def test_redis_restarted_and_emptied_mid_run_loses_nothing(fault_stack: Stack, private_redis: PrivateRedis) -> None:
    stack = fault_stack
    stack.start_worker()
    stack.start_scheduler()
    before = place(stack, 4)
    stack.wait_for(lambda: len(items.search(stack.runtime.store, flow="orders", state="done")) >= 2, timeout=60,
                   what="the first orders synced")
    private_redis.restart(down_seconds=2)  # queue, locks, breakers and rate windows all gone
    after = place(stack, 3)
    stack.wait_for(lambda: all_done(stack, before + after), timeout=120, what="every order after the restart")
    assert_exactly_once(stack, before + after)
    assert not dead_letters(stack)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    bindir = postgres_binaries()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed here (its initdb is needed for a server of the test's own)")
    home = Path(tempfile.mkdtemp(prefix="tillbridge-faults-pg-"))
    home.chmod(0o755)  # the server runs as the postgres user
    server = PrivatePostgres(bindir=bindir, datadir=home / "data")
    try:
        server.init()
        server.start()
        store = Store(server.url)
        store.upgrade()
        store.dispose()
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(home, ignore_errors=True)


def test_postgresql_restarted_mid_run_loses_nothing(settings: dict[str, Any], tmp_path: Path,
                                                    private_redis: PrivateRedis,
                                                    private_postgres: PrivatePostgres) -> None:
    stack = stack_on(settings, tmp_path, REDIS_URL=private_redis.url, DATABASE_URL=private_postgres.url)
    try:
        stack.start_worker()
        stack.start_scheduler()
        before = place(stack, 4)
        stack.wait_for(lambda: len(items.search(stack.runtime.store, flow="orders", state="done")) >= 2,
                       timeout=60, what="the first orders synced")
        stack.wait_started("scheduler")
        private_postgres.restart(down_seconds=2)  # every open connection is cut, as in a crash
        after = place(stack, 3)
        stack.wait_for(lambda: all_done(stack, before + after), timeout=120, what="every order after the restart")
        assert_exactly_once(stack, before + after)
        assert not dead_letters(stack)
    finally:
        stack.stop()


def test_a_process_started_while_postgresql_is_down_waits_for_it(settings: dict[str, Any], tmp_path: Path,
                                                                 private_redis: PrivateRedis,
                                                                 private_postgres: PrivatePostgres) -> None:
    stack = stack_on(settings, tmp_path, REDIS_URL=private_redis.url, DATABASE_URL=private_postgres.url)
    try:
        private_postgres.stop("immediate")
        stack.start_scheduler()
        stack.wait_for(lambda: "waiting for the database and Redis to answer" in
                       (stack.workdir / "scheduler.log").read_text(errors="replace"),
                       timeout=60, what="the scheduler to say it waits for PostgreSQL")
        private_postgres.start()
        stack.wait_started("scheduler")
        stack.start_worker()
        orders = place(stack, 2)
        stack.wait_for(lambda: all_done(stack, orders), timeout=60, what="orders placed once PostgreSQL is back")
        assert_exactly_once(stack, orders)
    finally:
        stack.stop()


def test_a_wait_that_reaches_its_limit_ends_in_a_dead_letter_saying_since_when(
        settings: dict[str, Any], tmp_path: Path, private_redis: PrivateRedis) -> None:
    stack = stack_on(settings, tmp_path, REDIS_URL=private_redis.url, WAIT_LIMIT_SECONDS=4,
                     BREAKER_FAILURE_THRESHOLD=2)
    try:
        stack.faults(stack.heartland, outage_seconds=300)
        stack.start_worker()
        stack.start_scheduler()
        place(stack, 1)
        stack.wait_for(lambda: bool(dead_letters(stack)), timeout=90, what="the order's dead letter")
        [letter] = dead_letters(stack)
        assert "Heartland has been unavailable since" in letter.error, letter.error
        assert "retry this item once it is back" in letter.error
        item = min(items.search(stack.runtime.store, flow="orders"), key=lambda i: i.id)
        assert item.state == "dead" and item.attempts < int(stack.settings["MAX_ATTEMPTS"])
    finally:
        stack.stop()
