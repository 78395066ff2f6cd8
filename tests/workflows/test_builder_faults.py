"""Effects stay exactly once through a workflow: a replayed event and a worker killed mid-run, with
three steps added to the orders flow, make one Heartland order and one notice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from service.store import bindings, items
from service.workflows import actions
from tests.flows.test_orders_e2e import assert_exactly_once
from tests.stack import Stack
from tests.workflows.test_builder_scenario import Receiver

SKU = "TEE-1000"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def three_steps(url: str) -> dict[str, Any]:
    return {
        "workflow": "orders", "flow": "orders", "trigger": {"kind": "event", "events": ["order.created"]},
        "steps": [
            {"id": "pos-only", "type": "filter", "at": "after normalize",
             "config": {"rule": {"all": [{"field": "order.email", "op": "=", "value": "pos-only@example.com"}]},
                        "reason": "orders for the till only stay out of Heartland"}},
            {"id": "channel", "type": "set", "at": "before deliver",
             "config": {"target": "vars.channel", "value": "'web'"}},
            {"id": "tell-warehouse", "type": "notify", "at": "after confirm",
             "config": {"channel": "webhook", "url": url, "binding": "notice",
                        "idempotency_key": "synced:{{order.number}}",
                        "message": "Order {{order.number}} ({{vars.channel}}) is in Heartland"}},
        ],
    }


def test_a_replayed_event_and_a_killed_worker_make_one_order_and_one_notice(stack: Stack,
                                                                            receiver: Receiver) -> None:
    runtime = stack.runtime
    stack.settings["WEBHOOKS_ALLOW_PRIVATE_URLS"] = "1"  # the receiver is on this machine
    runtime.reconfigure(WEBHOOKS_ALLOW_PRIVATE_URLS=True)
    actions.save(runtime, three_steps(receiver.url), base_revision=None, actor="ana")
    assert actions.publish(runtime, "orders", actor="ana").number == 1

    stack.faults(stack.magento, error_rate=0)
    order = stack.checkout([{"sku": SKU, "qty": 2}])
    data = stack.magento_get(f"orders/{order['entity_id']}")
    # The module's admin grid resends the event under a new id while the first is being synced.
    assert stack.send_event("order.created", data).status_code == 202

    # Heartland answers slowly, so the worker is surely inside a run when it is killed.
    stack.faults(stack.heartland, latency_ms=400)
    stack.start_worker("victim")
    stack.start_scheduler()

    def in_flight() -> bool:
        return bool(items.search(runtime.store, state="processing")) and any(
            r["method"] == "POST" for r in stack.requests_log(stack.heartland, "/api/sales/orders"))

    stack.wait_for(in_flight, timeout=60, what="a run creating the Heartland order")
    stack.kill("victim")
    stack.faults(stack.heartland, latency_ms=0)
    stack.start_worker("survivor")
    key = f"magento:default:{order['entity_id']}"
    stack.wait_for(lambda: bindings.find(runtime.store, "order", key, "heartland") is not None, timeout=120,
                   what="the order synced after the kill")
    stack.wait_for(lambda: len(receiver.received) >= 1 and stack.settled(3), timeout=60,
                   what="every event of the order finished and the notice sent")

    assert_exactly_once(stack, [order])
    assert len(receiver.received) == 1, [r["body"] for r in receiver.received]
    notice = receiver.received[0]
    assert notice["headers"]["webhook-id"] == f"orders:tell-warehouse:synced:{order['increment_id']}"
    assert "(web) is in Heartland" in notice["body"]["message"]
    assert not items.search(runtime.store, state="dead")
    done = [i for i in items.search(runtime.store, flow="orders", state="done") if i.result.get("heartland_id")]
    assert [i.result.get("workflow_version") for i in done] == [1]
