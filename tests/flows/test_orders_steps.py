"""The orders flow as declared steps, over the sandboxes: a run that fails at the payment resumes
there, and the order is created in Heartland once."""

from __future__ import annotations

from urllib.parse import unquote

from service.store import bindings, items
from tests.stack import Stack

SKUS = ["TEE-1000", "MUG-1003"]


def test_a_payment_failure_is_retried_from_the_payment_step(stack: Stack) -> None:
    stack.faults(stack.heartland, fail_next={"method": "POST", "path": "/api/sales/orders/", "count": 1,
                                             "status": 503})
    stack.start_worker()
    stack.start_scheduler()
    order = stack.checkout([{"sku": SKUS[0], "qty": 2}, {"sku": SKUS[1], "qty": 1}])
    key = f"magento:default:{order['entity_id']}"
    stack.wait_for(lambda: bindings.find(stack.runtime.store, "order", key, "heartland") is not None, timeout=60,
                   what="the order synced after its payment failed once")
    stack.wait_for(lambda: stack.settled(1), timeout=30, what="every item finished")

    done = [i for i in items.search(stack.runtime.store, flow="orders", state="done")
            if i.result.get("heartland_id")]
    assert len(done) == 1 and done[0].attempts == 2 and done[0].progress is None
    steps = items.steps(stack.runtime.store, done[0].id)
    second = [s for s in steps if s.attempt == 2]
    resumed = {s.step for s in second if (s.detail or {}).get("resumed")}
    assert resumed == {"customer", "deliver"}, [(s.step, s.message) for s in second]
    ran_again = [s.step for s in second if s.step in ("fetch", "normalize", "check", "payment", "confirm")]
    assert ran_again == ["fetch", "normalize", "check", "payment", "confirm"]

    created = [r for r in stack.requests_log(stack.heartland, "/api/sales/orders")
               if r["method"] == "POST" and r["path"] == "/api/sales/orders"]
    lookups = [r for r in stack.requests_log(stack.heartland, "/api/sales/orders")
               if r["method"] == "GET" and r["path"] == "/api/sales/orders" and "tillbridge_ref" in unquote(r["query"])]
    # The first run of a new order's only item creates it without a lookup (nothing can have
    # created it before); the second resumes after the create, so it looks for nothing either.
    assert len(created) == 1 and len(lookups) == 0
    payments = [r for r in stack.requests_log(stack.heartland, "/api/sales/orders/")
                if r["method"] == "POST" and r["path"].endswith("/payments")]
    statuses = [r["status"] for r in payments]
    assert len(statuses) == 2 and statuses[0] == 503 and 200 <= statuses[1] < 300, statuses


def test_placed_within_reads_magento_stamps_and_refuses_what_it_cannot_trust() -> None:
    from datetime import UTC, datetime, timedelta

    from service.flows.orders import placed_within

    now = datetime.now(UTC)
    assert placed_within((now - timedelta(hours=2)).isoformat(), 0.5)
    assert placed_within((now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S"), 0.5)  # no zone: UTC
    assert placed_within((now + timedelta(minutes=10)).isoformat(), 0.5)  # Magento's clock a little ahead
    assert not placed_within((now - timedelta(hours=13)).isoformat(), 0.5)
    assert not placed_within((now + timedelta(hours=2)).isoformat(), 0.5)
    assert not placed_within("", 0.5) and not placed_within("yesterday", 0.5)
