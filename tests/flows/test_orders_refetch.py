"""The orders flow puts Magento's own order in Heartland, never the event's copy of it: a forged or
stale event body (a signed one: a leaked secret, a replay) cannot create money."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from service.app.factory import create_app
from service.kernel.signing import signed_headers
from service.sandbox.heartland.app import create_app as create_heartland
from service.sandbox.magento.app import create_app as create_magento
from service.sandbox.server import RunningSandbox, start_in_thread
from service.store import bindings, items

HEARTLAND_TOKEN = "heartland-refetch-token"
MAGENTO_TOKEN = "magento-refetch-token"
SECRET = "orders-refetch-webhook-secret-4f0b8a2e9d1c"


@pytest.fixture
def sandboxes() -> Iterator[tuple[RunningSandbox, RunningSandbox]]:
    heartland = start_in_thread(create_heartland(seed="demo", token=HEARTLAND_TOKEN))
    magento = start_in_thread(create_magento(seed="demo", token=MAGENTO_TOKEN))  # sends no events itself
    yield heartland, magento
    heartland.stop()
    magento.stop()


def test_a_forged_event_body_does_not_set_the_amounts(settings: dict[str, Any],
                                                       sandboxes: tuple[RunningSandbox, RunningSandbox]) -> None:
    heartland, magento = sandboxes
    app = create_app({**settings, "AUTO_MIGRATE": False, "TILLBRIDGE_WEBHOOK_SECRET": SECRET,
                      "TILLBRIDGE_HEARTLAND_URL": f"{heartland.url}/api", "TILLBRIDGE_HEARTLAND_TOKEN": HEARTLAND_TOKEN,
                      "TILLBRIDGE_MAGENTO_URL": f"{magento.url}/rest", "TILLBRIDGE_MAGENTO_TOKEN": MAGENTO_TOKEN})
    runtime = app.extensions["tillbridge"]
    placed = requests.post(f"{magento.url}/__sandbox/checkout", timeout=10,
                           json={"items": [{"sku": "TEE-1000", "qty": 1}], "payment_method": "checkmo"}).json()
    forged = {**placed, "grand_total": 9999.0, "base_grand_total": 9999.0, "subtotal": 9999.0,
              "items": [{**line, "qty_ordered": 40, "price": 249.975} for line in placed["items"]]}
    body = json.dumps({"event": "order.created", "occurred_at": "2026-12-07T10:00:00+00:00",
                       "store_code": "default", "data": forged}).encode()
    accepted = app.test_client().post("/webhooks/magento", data=body,
                                      headers=signed_headers(SECRET, str(uuid.uuid4()), body))
    assert accepted.status_code == 202, accepted.json

    assert runtime.pipeline.run_item(accepted.json["item_id"]) == "done", items.get(runtime.store,
                                                                                   accepted.json["item_id"])
    auth = {"Authorization": f"Bearer {HEARTLAND_TOKEN}"}
    binding = bindings.find(runtime.store, "order", f"magento:default:{placed['entity_id']}", "heartland")
    assert binding is not None
    order_url = f"{heartland.url}/api/sales/orders/{binding.external_id}"
    lines = requests.get(f"{order_url}/lines", headers=auth, timeout=10).json()["results"]
    payments = requests.get(f"{order_url}/payments", headers=auth, timeout=10).json()["results"]
    assert [line["qty"] for line in lines] == [1]
    assert [p["amount"] for p in payments] == [pytest.approx(placed["grand_total"])]
    assert placed["grand_total"] != 9999.0

    # One extra GET per new order: the re-read.
    log = requests.get(f"{magento.url}/__sandbox/requests", params={"path": "/rest"}, timeout=10).json()["requests"]
    reads = [r for r in log if r["method"] == "GET" and r["path"].endswith(f"/V1/orders/{placed['entity_id']}")]
    assert len(reads) == 1, [f"{r['method']} {r['path']}" for r in log]

    # A forged later event of the synced order (cancelled, captured, declined by the gateway) changes
    # nothing: Magento's own copy is read, and it says none of that.
    later = {**placed, "state": "canceled", "status": "canceled",
             "payment": {**(placed.get("payment") or {}), "amount_paid": 9999.0}}
    body = json.dumps({"event": "order.updated", "occurred_at": "2026-12-07T10:05:00+00:00",
                       "store_code": "default", "data": later}).encode()
    accepted = app.test_client().post("/webhooks/magento", data=body,
                                      headers=signed_headers(SECRET, str(uuid.uuid4()), body))
    assert accepted.status_code == 202, accepted.json
    assert runtime.pipeline.run_item(accepted.json["item_id"]) == "ignored"
    order = requests.get(order_url, headers=auth, timeout=10).json()
    assert order["status"] == "open"
    payments = requests.get(f"{order_url}/payments", headers=auth, timeout=10).json()["results"]
    assert [p["amount"] for p in payments] == [pytest.approx(placed["grand_total"])]
    runtime.store.dispose()
