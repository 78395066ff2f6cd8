"""The refunds flow as declared steps, over the sandboxes: a refund before fulfilment whose payment
fails once resumes at the payment, so the Heartland order's lines are reduced once and the refund
is recorded once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.store import items
from tests.flows.test_refunds import order_item, settled, start, synced_order
from tests.flows.test_shipments_steps import quiet
from tests.stack import Stack


@pytest.fixture
def hooked(settings: dict[str, Any], tmp_path: Path) -> Iterator[Stack]:
    s = start(settings, tmp_path, webhook=True)
    s.start_scheduler()  # it sends the failed run's retry to the queue
    try:
        yield s
    finally:
        s.stop()


def test_a_payment_failure_before_fulfilment_is_retried_from_the_payment(hooked: Stack) -> None:
    stack = hooked
    order, heartland_order = synced_order(stack)
    quiet(stack)  # Magento's events of the order (its invoice: a capture) have reached Heartland
    heartland = stack.runtime.heartland
    paid_before = [p["amount"] for p in heartland.sales_order_payments(heartland_order)]
    payments_path = f"/api/sales/orders/{heartland_order}/payments"
    earlier = len(stack.requests_log(stack.heartland, f"/api/sales/orders/{heartland_order}"))
    stack.faults(stack.heartland, fail_next={"method": "POST", "path": payments_path, "count": 1, "status": 503})

    hoodie = order_item(order, "HOD-1001")
    memo_id = stack.magento_post(f"order/{order['entity_id']}/refund", {
        "items": [{"order_item_id": hoodie["item_id"], "qty": 1}], "arguments": {"shipping_amount": 0}})
    [item] = [i for i in settled(stack, 1) if i.entity_key.endswith(f":{memo_id}")]
    assert item.state == "done" and item.attempts == 2 and item.progress is None, item.reason
    assert item.reason.startswith("refunded before fulfilment: Heartland order #") and " reduced, " in item.reason

    second = [s for s in items.steps(stack.runtime.store, item.id) if s.attempt == 2]
    resumed = {s.step for s in second if (s.detail or {}).get("resumed")}
    assert resumed == {"keep plan", "reduce"}, [(s.step, s.message) for s in second]
    assert [s.step for s in second if s.step in ("allocate", "shortfall", "plan", "refund payment", "cancel",
                                                 "confirm refund")] == \
        ["allocate", "shortfall", "plan", "refund payment", "cancel", "confirm refund"]

    log = stack.requests_log(stack.heartland, f"/api/sales/orders/{heartland_order}")[earlier:]
    plan_writes = [r for r in log if r["method"] == "PUT" and r["path"] == f"/api/sales/orders/{heartland_order}"
                   and "custom" in (r["body"] or {})]
    line_writes = [r for r in log if r["method"] in ("PUT", "DELETE") and "/lines/" in r["path"]]
    assert len(plan_writes) == 1 and len(line_writes) == 1, (plan_writes, line_writes)
    posted = [r["status"] for r in log if r["method"] == "POST" and r["path"] == payments_path]
    assert len(posted) == 2 and posted[0] == 503 and 200 <= posted[1] < 300, posted

    memo = stack.magento_get(f"creditmemo/{memo_id}")
    assert sorted((li["item_public_id"], li["qty"]) for li in heartland.sales_order_lines(heartland_order)) == \
        [("TEE-1000", 2)]
    refunds = [p["amount"] for p in heartland.sales_order_payments(heartland_order)][len(paid_before):]
    assert refunds == [pytest.approx(-float(memo["grand_total"]))]
    assert heartland.sales_order(heartland_order)["status"] != "cancelled"
