"""Orders, Magento → Heartland, end to end: sandboxes over HTTP, the real app, real RQ workers
and the scheduler as subprocesses, on real Redis and a real database."""

from __future__ import annotations

import collections
import time
from typing import Any

import pytest
import requests

from service.store import bindings, items
from tests.stack import Stack

SKUS = ["TEE-1000", "HOD-1001", "CAP-1002", "MUG-1003", "BAG-1004", "SCK-1005"]


def place(stack: Stack, n: int) -> list[dict[str, Any]]:
    return [stack.checkout([{"sku": SKUS[i % len(SKUS)], "qty": 1 + i % 3},
                            {"sku": SKUS[(i + 1) % len(SKUS)], "qty": 1}]) for i in range(n)]


def heartland_orders_by_number(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    by_number: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for row in stack.heartland_orders():
        by_number[str((row.get("custom") or {}).get("magento_order_number"))].append(row)
    return by_number


def assert_exactly_once(stack: Stack, placed: list[dict[str, Any]]) -> None:
    by_number = heartland_orders_by_number(stack)
    for order in placed:
        number = str(order["increment_id"])
        rows = by_number.get(number, [])
        assert len(rows) == 1, f"Magento order #{number} is in Heartland {len(rows)} times"
        heartland = rows[0]
        assert heartland["status"] == "open"
        lines = stack.heartland_get(f"sales/orders/{heartland['id']}/lines")["results"]
        assert sorted(line["qty"] for line in lines) == sorted(i["qty_ordered"] for i in order["items"]
                                                                 if not i.get("parent_item_id"))
        payments = stack.heartland_get(f"sales/orders/{heartland['id']}/payments")["results"]
        assert len(payments) == 1 and payments[0]["deposit"] is True
        assert payments[0]["amount"] == pytest.approx(order["grand_total"])
        magento = stack.magento_get(f"orders/{order['entity_id']}")
        comments = [h["comment"] for h in magento.get("status_histories", [])]
        assert comments.count(f"Heartland order #{heartland['public_id']}") == 1, comments
    assert bindings.count(stack.runtime.store, "order", "heartland") == len(placed)


def all_done(stack: Stack, placed: list[dict[str, Any]]) -> bool:
    dead = items.search(stack.runtime.store, state="dead")
    assert not dead, f"dead items: {[(i.label, i.reason) for i in dead]}"
    return bindings.count(stack.runtime.store, "order", "heartland") >= len(placed) and stack.settled(len(placed))


def test_happy_path_orders_reach_heartland_once_with_number_written_back(stack: Stack) -> None:
    stack.start_worker()
    stack.start_scheduler()
    placed = place(stack, 5)
    stack.wait_for(lambda: all_done(stack, placed), timeout=60, what="5 orders synced")
    assert_exactly_once(stack, placed)
    done = items.search(stack.runtime.store, flow="orders", state="done")
    assert len(done) == 5
    steps = items.steps(stack.runtime.store, done[0].id)
    names = [s.step for s in steps]
    for expected in ("in review?", "bound?", "fetch", "normalize", "check", "customer", "deliver", "payment", "confirm"):
        assert expected in names
    exchange = next(s for s in steps if s.step == "heartland" and "POST /api/sales/orders" in s.message)
    assert exchange.detail["status"] == 201 and exchange.detail["request"]["lines"]
    # Our own write-back (the order comment) comes back as order.updated and is recognised.
    stack.wait_for(lambda: len(items.search(stack.runtime.store, state="ignored")) >= 1, timeout=30,
                   what="echo of our comment")
    assert any("already in Heartland" in i.reason for i in items.search(stack.runtime.store, state="ignored"))


def test_a_forking_worker_syncs_orders_too(stack: Stack) -> None:
    stack.start_worker(fork=True)
    stack.start_scheduler()
    placed = place(stack, 3)
    stack.wait_for(lambda: all_done(stack, placed), timeout=60, what="3 orders through a forking worker")
    assert_exactly_once(stack, placed)


def test_same_event_delivered_three_times_makes_one_order(stack: Stack) -> None:
    stack.faults(stack.magento, error_rate=0)  # keep the sandbox's own event out of the way below
    order = stack.checkout([{"sku": "TEE-1000", "qty": 2}])
    data = stack.magento_get(f"orders/{order['entity_id']}")
    event_id = "3f5b2c9e-1111-4a2b-9c3d-000000000001"
    answers = [stack.send_event("order.created", data, event_id=event_id).status_code for _ in range(3)]
    assert answers == [202, 200, 200]
    # A replay under new event ids (a resend from the module's admin grid) is not a new order either.
    for _ in range(2):
        assert stack.send_event("order.created", data).status_code == 202
    stack.start_worker()
    stack.start_scheduler()
    stack.wait_for(lambda: stack.settled(4), timeout=60, what="all deliveries processed")
    stack.wait_for(lambda: all_done(stack, [order]), timeout=30, what="order synced")
    assert_exactly_once(stack, [order])


def test_429_storm_everything_arrives_once(stack: Stack) -> None:
    stack.faults(stack.heartland, rate_limit_per_second=8)
    stack.start_worker("worker-1")
    stack.start_worker("worker-2")
    stack.start_scheduler()
    placed = place(stack, 6)
    stack.wait_for(lambda: all_done(stack, placed), timeout=120, what="6 orders through a 429 storm")
    stack.faults(stack.heartland)  # the checks below must not be throttled
    limited = [r for r in stack.requests_log(stack.heartland) if r["status"] == 429]
    assert len(limited) >= 5, "the storm did not happen"
    assert_exactly_once(stack, placed)
    assert not items.search(stack.runtime.store, state="dead")


@pytest.mark.slow
def test_heartland_outage_of_30_seconds_items_wait_and_all_arrive(stack: Stack) -> None:
    stack.start_worker()
    stack.start_scheduler()
    before = place(stack, 3)
    stack.wait_for(lambda: all_done(stack, before), timeout=60, what="orders before the outage")
    stack.faults(stack.heartland, outage_seconds=30)
    started = time.time()
    during = place(stack, 6)
    time.sleep(5)
    assert bindings.count(stack.runtime.store, "order", "heartland") == 3  # nothing got through
    stack.wait_for(lambda: all_done(stack, before + during), timeout=90, what="orders after the outage")
    assert time.time() - started >= 29
    assert_exactly_once(stack, before + during)
    assert not items.search(stack.runtime.store, state="dead"), "an outage must not burn items' attempts"
    waited = items.search(stack.runtime.store, flow="orders", state="done")
    assert max(i.attempts for i in waited) < stack.settings["MAX_ATTEMPTS"]
    assert stack.runtime.breaker("heartland").state()["opened"] >= 1


def test_worker_killed_mid_job_loses_nothing_and_duplicates_nothing(stack: Stack) -> None:
    # Slow Heartland down so the worker is surely inside a job when it is killed.
    stack.faults(stack.heartland, latency_ms=400)
    stack.start_worker("victim")
    stack.start_scheduler()
    placed = place(stack, 4)

    def in_flight() -> bool:
        return bool(items.search(stack.runtime.store, state="processing")) and any(
            r["method"] == "POST" for r in stack.requests_log(stack.heartland, "/api/sales/orders"))

    stack.wait_for(in_flight, timeout=30, what="a job in flight")
    stack.kill("victim")
    stack.faults(stack.heartland, latency_ms=0)
    stack.start_worker("survivor")
    stack.wait_for(lambda: all_done(stack, placed), timeout=90, what="orders after the kill")
    assert_exactly_once(stack, placed)
    assert not items.search(stack.runtime.store, state="dead")


def test_unknown_sku_goes_to_review_with_the_reason(stack: Stack) -> None:
    stack.start_worker()
    stack.start_scheduler()
    # A real Magento order (the flow re-reads every new order from Magento) for a product Heartland lacks.
    stack.magento_post("products", {"product": {
        "sku": "NOT-IN-HEARTLAND", "name": "Web-only gift wrap", "price": 4.5, "attribute_set_id": 4,
        "type_id": "simple", "status": 1, "visibility": 4,
        "extension_attributes": {"stock_item": {"qty": 100, "is_in_stock": True}}}})
    order = stack.checkout([{"sku": "NOT-IN-HEARTLAND", "qty": 1}])
    stack.wait_for(lambda: bool(items.search(stack.runtime.store, state="review")), timeout=60,
                   what="the order in review")
    item = items.search(stack.runtime.store, state="review")[0]
    assert "Magento SKU 'NOT-IN-HEARTLAND' not found in Heartland" in item.reason
    assert "line 1" in item.reason and "rules/mappings" in item.reason
    assert not items.search(stack.runtime.store, state="dead")
    assert str(order["increment_id"]) not in heartland_orders_by_number(stack)


def test_a_magento_cancellation_cancels_the_heartland_order(stack: Stack) -> None:
    stack.start_worker()
    stack.start_scheduler()
    [order] = place(stack, 1)
    stack.wait_for(lambda: all_done(stack, [order]), timeout=60, what="the order synced")
    response = requests.post(f"{stack.magento.url}/rest/V1/orders/{order['entity_id']}/cancel",
                             headers={"Authorization": "Bearer magento-test-token"}, timeout=10)
    assert response.status_code == 200 and response.json() is True, response.text

    def cancelled() -> bool:
        rows = heartland_orders_by_number(stack)[str(order["increment_id"])]
        return len(rows) == 1 and rows[0]["status"] == "cancelled"

    stack.wait_for(cancelled, timeout=60, what="the Heartland order cancelled")
    done = [i for i in items.search(stack.runtime.store, state="done") if "cancelled" in i.reason]
    assert len(done) == 1 and done[0].reason.startswith("Heartland order #")


def test_an_order_heartland_fulfilled_before_its_binding_was_written_is_bound_not_reopened(stack: Stack) -> None:
    """The binding is lost (a crash before it, or a restore) after Heartland completed the order: the
    next event finds the order by our reference, binds it and leaves Heartland's status alone."""
    stack.start_worker()
    [order] = place(stack, 1)
    stack.wait_for(lambda: all_done(stack, [order]), timeout=60, what="the order synced")
    key = f"magento:default:{order['entity_id']}"
    bound = bindings.find(stack.runtime.store, "order", key, "heartland")
    assert bound is not None
    heartland = stack.runtime.heartland
    heartland_id = int(bound.external_id)
    lines = heartland.sales_order_lines(heartland_id)
    location = int(lines[0]["ship_from_location_id"])
    invoice = heartland.create_invoice(heartland_id, int(heartland.stations(location)[0]["id"]), location)
    heartland.complete_invoice(int(invoice["id"]))
    assert heartland.sales_order(heartland_id)["status"] == "complete"
    with stack.runtime.store.session() as s:
        s.delete(s.merge(bound))

    assert stack.send_event("order.updated", stack.magento_get(f"orders/{order['entity_id']}")).status_code == 202
    stack.wait_for(lambda: bindings.find(stack.runtime.store, "order", key, "heartland") is not None,
                   timeout=60, what="the order bound again")
    stack.wait_for(lambda: stack.settled(2), timeout=30, what="the event settled")
    latest = max(items.search(stack.runtime.store, state="done"), key=lambda i: i.id)
    assert latest.reason == f"Heartland order #{bound.external_ref}"
    assert heartland.sales_order(heartland_id)["status"] == "complete"
    assert len(heartland_orders_by_number(stack)[str(order["increment_id"])]) == 1
    assert not items.search(stack.runtime.store, state="dead")
