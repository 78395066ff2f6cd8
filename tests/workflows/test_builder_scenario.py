"""The workflow builder over the sandboxes: "orders over $1,000 from a first-time customer → hold for
review and notify a webhook", built through the API, tested on real orders in a dry run, published;
the big order is held with the reason and the webhook received once (a retry from review neither
holds it again nor notifies again); a small one syncs; after a rollback the next big order syncs."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from service.store import bindings, items
from service.workflows import actions, versions
from tests.stack import Stack

SKU = "TEE-1000"


class Receiver:
    """A local HTTP endpoint recording what it is sent."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append({"headers": dict(self.headers), "body": json.loads(body or b"{}")})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hooks/risk"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def big_first_order(url: str) -> dict[str, Any]:
    return {
        "workflow": "orders", "flow": "orders", "trigger": {"kind": "event", "events": ["order.created"]},
        "steps": [
            {"id": "prior-orders", "type": "lookup", "at": "after check",
             "config": {"source": "magento.orders_before", "input": "order.email", "as": "prior"}},
            {"id": "big-first-order", "type": "branch", "at": "after check", "config": {"outputs": [{
                "name": "big_and_new",
                "rule": {"all": [{"field": "order.grand_total", "op": ">", "value": 1000},
                                 {"field": "vars.prior.count", "op": "=", "value": 0}]},
                "steps": [
                    {"id": "tell-risk", "type": "notify", "config": {
                        "channel": "webhook", "url": url, "binding": "notice",
                        "idempotency_key": "big-first:{{order.number}}",
                        "message": "Order {{order.number}} ({{order.grand_total}}) from a first-time customer "
                                   "is held for review"}},
                    {"id": "hold-big", "type": "hold", "config": {
                        "reason": "Order {{order.number}} is over $1,000 from a first-time customer: check it, "
                                  "then retry it from review"}},
                ]}]}},
        ],
    }


def _item_for(stack: Stack, entity_id: Any) -> Any:
    found = [i for i in items.search(stack.runtime.store, flow="orders")
             if i.entity_key == f"orders:magento:default:{entity_id}"]
    return found[0] if found else None


def test_big_orders_from_new_customers_are_held_and_notified_once(stack: Stack, receiver: Receiver) -> None:
    runtime = stack.runtime
    stack.settings["WEBHOOKS_ALLOW_PRIVATE_URLS"] = "1"  # the receiver is on this machine
    runtime.reconfigure(WEBHOOKS_ALLOW_PRIVATE_URLS=True)

    draft = actions.save(runtime, big_first_order(receiver.url), base_revision=None, actor="ana")
    assert (draft.number, draft.revision, draft.state) == (1, 1, "draft")

    # Two real orders wait in the store before any worker runs: the draft is tried on both.
    big = stack.checkout([{"sku": SKU, "qty": 60}], email="first.timer@example.com")
    small = stack.checkout([{"sku": SKU, "qty": 1}], email="small.buyer@example.com")
    assert float(big["grand_total"]) > 1000 > float(small["grand_total"])
    stack.wait_for(lambda: _item_for(stack, big["entity_id"]) and _item_for(stack, small["entity_id"]),
                   what="both order events received")
    big_item, small_item = _item_for(stack, big["entity_id"]), _item_for(stack, small["entity_id"])

    tried = actions.test(runtime, "orders", item_id=big_item.id)
    assert tried.state == "review" and "over $1,000 from a first-time customer" in tried.reason, tried.reason
    branch = next(s for s in tried.steps if s["step"] == "big-first-order")
    assert branch["detail"]["output"] == "big_and_new"
    notices = [e for e in tried.effects if e["kind"] == "notify"]
    assert notices == [{"step": "tell-risk", "kind": "notify", "channel": "webhook", "key": notices[0]["key"],
                        "message": notices[0]["message"], "would": "send"}]
    assert tried.happened == {"item": big_item.id, "state": "received", "reason": big_item.reason}
    lookup = next(s for s in tried.steps if s["step"] == "prior-orders")
    assert lookup["output"]["vars"] == {"prior": {"count": 0}}
    tried_small = actions.test(runtime, "orders", item_id=small_item.id)
    assert tried_small.state == "done" and not [e for e in tried_small.effects if e["kind"] == "notify"]
    assert [e["step"] for e in tried_small.effects if e["kind"] == "built-in"] == [
        "bound?", "check", "customer", "deliver", "payment", "status", "confirm"]
    # A dry run reads; it writes nothing anywhere and notifies no one.
    assert receiver.received == []
    assert [r for r in stack.requests_log(stack.heartland) if r["method"] != "GET"] == []
    assert [r for r in stack.requests_log(stack.magento) if r["method"] != "GET" and "/V1/" in r["path"]] == []

    published = actions.publish(runtime, "orders", actor="ana")
    assert published.number == 1 and versions.live_version(runtime.store, "orders") == 1

    stack.start_worker()
    stack.start_scheduler()
    stack.wait_for(lambda: stack.settled(2), timeout=90, what="both orders finished")
    held = items.get(runtime.store, big_item.id)
    assert held is not None and held.state == "review", (held.state if held else None, held.reason if held else "")
    assert held.reason == f"Order {big['increment_id']} is over $1,000 from a first-time customer: check it, " \
                          "then retry it from review"
    assert held.result["workflow_version"] == 1
    assert bindings.find(runtime.store, "order", f"magento:default:{small['entity_id']}", "heartland") is not None
    assert len(receiver.received) == 1
    notice = receiver.received[0]
    assert notice["headers"]["webhook-id"] == f"orders:tell-risk:big-first:{big['increment_id']}"
    assert notice["body"]["type"] == "tillbridge.workflow" and str(big["increment_id"]) in notice["body"]["message"]

    # The risk team lets it go: the retry passes the hold it already went through and sends no second notice.
    items.retry_review(runtime.store, big_item.id, actor="risk")
    runtime.enqueue([big_item.id])
    stack.wait_for(lambda: bindings.find(runtime.store, "order", f"magento:default:{big['entity_id']}",
                                         "heartland") is not None, timeout=60, what="the held order synced")
    assert len(receiver.received) == 1
    steps = items.steps(runtime.store, big_item.id)
    assert any(s.step == "hold-big" and (s.detail or {}).get("resumed") for s in steps)

    # A version that sends an effect without a key cannot be published.
    keyless = big_first_order(receiver.url)
    del keyless["steps"][1]["config"]["outputs"][0]["steps"][0]["config"]["idempotency_key"]
    actions.save(runtime, keyless, base_revision=None, actor="ana")
    with pytest.raises(versions.VersionError, match="'tell-risk' .notify. changes another system but declares "
                                                    "no idempotency_key"):
        actions.publish(runtime, "orders", actor="ana")
    assert versions.live_version(runtime.store, "orders") == 1

    assert actions.rollback(runtime, "orders", actor="ana") == 0
    after = stack.checkout([{"sku": SKU, "qty": 60}], email="another.first.timer@example.com")
    stack.wait_for(lambda: bindings.find(runtime.store, "order", f"magento:default:{after['entity_id']}",
                                         "heartland") is not None, timeout=60, what="the big order after rollback")
    assert len(receiver.received) == 1
    ours = [r for r in stack.requests_log(stack.heartland, "/api/sales/orders")
            if r["method"] == "POST" and r["path"] == "/api/sales/orders"]
    assert len(ours) == 3  # one Heartland order each: small, big after its review, big after the rollback
