"""The channel orders flow as declared steps, over the sandboxes: an order posted to /v1 whose
status write fails once resumes at the status: the customer and the sales order are created in
Heartland once."""

from __future__ import annotations

import requests

from service.store import bindings, items
from service.store.users import create_token, create_user
from tests.stack import Stack

ORDER = {
    "channel": "phone", "external_id": "PH-7", "email": "dora@example.com", "first_name": "Dora",
    "last_name": "Lane", "billing": {"street": ["9 Mill Lane"], "city": "York", "postcode": "YO1 7HH", "country": "GB"},
    "lines": [{"sku": "TEE-1000", "quantity": 1, "unit_price": 1999}], "total": 1999,
}


def test_a_status_failure_is_retried_from_the_status_step(stack: Stack) -> None:
    create_user(stack.runtime.store, "ivy", "a-long-password-123", "integrator")
    _, token = create_token(stack.runtime.store, "ivy", "steps")
    stack.faults(stack.heartland, fail_next={"method": "PUT", "path": "/api/sales/orders/", "count": 1,
                                             "status": 503})
    stack.start_worker()
    stack.start_scheduler()
    posted = requests.post(f"{stack.web.url}/v1/orders", json=ORDER, timeout=10,
                           headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "order-PH-7"})
    assert posted.status_code == 202, posted.text
    stack.wait_for(lambda: bindings.find(stack.runtime.store, "order", "channel:phone:PH-7", "heartland") is not None,
                   timeout=60, what="the channel order synced after its status failed once")

    [done] = [i for i in items.search(stack.runtime.store, flow="channel_orders") if i.state == "done"]
    assert done.attempts == 2 and done.progress is None and done.result["resumed"] is True
    second = [s for s in items.steps(stack.runtime.store, done.id) if s.attempt == 2]
    resumed = {s.step for s in second if (s.detail or {}).get("resumed")}
    assert resumed == {"customer", "deliver"}, [(s.step, s.message) for s in second]
    assert [s.step for s in second if s.step in ("bound?", "normalize", "lookup", "status", "confirm")] == \
        ["bound?", "normalize", "lookup", "status", "confirm"]

    log = stack.requests_log(stack.heartland, "/api/")
    created_orders = [r for r in log if r["method"] == "POST" and r["path"] == "/api/sales/orders"]
    created_customers = [r for r in log if r["method"] == "POST" and r["path"] == "/api/customers"]
    assert len(created_orders) == 1 and len(created_customers) == 1
    statuses = [r["status"] for r in log if r["method"] == "PUT" and r["path"].startswith("/api/sales/orders/")]
    assert len(statuses) == 2 and statuses[0] == 503 and 200 <= statuses[1] < 300, statuses
    heartland_id = int(done.result["heartland_id"])
    assert stack.runtime.heartland.sales_order(heartland_id)["status"] == "open"
