"""The shipments flow as declared steps, over the sandboxes: a run that fails after it made the
Magento shipment (the read of the order's state answers 503) resumes after the shipment, so the
order is shipped once, the customer notified once, and the item ends done."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.store import items
from tests.flows.test_shipments import invoice, settled, shipments, start, synced_order, wait_shipped
from tests.stack import Stack


@pytest.fixture
def hooked(settings: dict[str, Any], tmp_path: Path) -> Iterator[Stack]:
    # The webhook alone: a poll that finds the invoice while the webhook's item runs makes a second item
    # by design (it re-reads the record), which on a busy machine can finish the shipment in the first
    # item's retry pause; this test is about that first item resuming. Polling has tests of its own.
    s = start(settings, tmp_path, webhook=True, polling=False)
    try:
        yield s
    finally:
        s.stop()


def quiet(stack: Stack, seconds: float = 2.0) -> None:
    """Wait until every item has finished and no new one came for ``seconds`` (Magento's events of
    the order, our own write-back among them, are in)."""
    seen: list[tuple[int, int]] = []

    def still() -> bool:
        rows = items.search(stack.runtime.store, limit=500)
        now = (len(rows), sum(1 for i in rows if i.state in ("received", "processing")))
        seen.append(now)
        return now[1] == 0 and len(seen) > 1 and seen[-2] == now

    stack.wait_for(still, timeout=60, what="the stack to settle")
    time.sleep(seconds)
    stack.wait_for(still, timeout=60, what="the stack to settle")


def test_a_failure_after_the_shipment_is_retried_after_it(hooked: Stack) -> None:
    stack = hooked
    order, heartland_order = synced_order(stack, [{"sku": "TEE-1000", "qty": 2}])
    magento_id = int(order["entity_id"])
    quiet(stack)
    reads = [r["path"] for r in stack.requests_log(stack.magento, "/rest")
             if r["method"] == "GET" and r["path"].endswith(f"/V1/orders/{magento_id}")]
    assert reads, "the orders flow read the order from Magento"
    # The run reads the order twice: for its items (step order), then for its state once the shipment
    # is made (step state). The second read fails once.
    stack.faults(stack.magento, fail_next={"method": "GET", "path": reads[0], "count": 1, "skip": 1,
                                           "status": 503})

    made = invoice(stack, heartland_order, tracking_number="1Z999AA10123456784", carrier="UPS")
    wait_shipped(stack, made["id"])
    rows = settled(stack, made["id"], 1)
    assert [i.state for i in rows] == ["done"], [(i.state, i.reason, i.attempts) for i in rows]
    [done] = rows
    assert done.attempts == 2 and done.progress is None and done.result["resumed"] is True, done.reason

    steps = items.steps(stack.runtime.store, done.id)
    first = [(s.step, s.status) for s in steps if s.attempt == 1 and s.step in ("deliver", "state", "confirm")]
    assert first == [("deliver", "ok"), ("state", "error")], first
    second = [s for s in steps if s.attempt == 2]
    resumed = {s.step for s in second if (s.detail or {}).get("resumed")}
    assert resumed == {"deliver", "late tracks"}, [(s.step, s.message) for s in second]
    assert [s.step for s in second if s.step in ("fetch", "order", "lookup", "lines", "state", "confirm")] == \
        ["fetch", "order", "lookup", "lines", "state", "confirm"]

    ship_calls = [r for r in stack.requests_log(stack.magento, "/rest") if r["path"].endswith("/ship")]
    assert len(ship_calls) == 1 and 200 <= ship_calls[0]["status"] < 300
    state_reads = [r["status"] for r in stack.requests_log(stack.magento, reads[0]) if r["method"] == "GET"
                   and r["path"] == reads[0]]
    assert 503 in state_reads and state_reads[-1] == 200, state_reads
    [shipment] = shipments(stack, magento_id)
    assert shipment["email_sent"] == 1
    assert [t["track_number"] for t in shipment["tracks"]] == ["1Z999AA10123456784"]
