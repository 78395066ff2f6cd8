"""The polling backstop for products and orders: webhooks that never arrive are caught by the
scheduler's polls (real worker and scheduler subprocesses, sandboxes over HTTP), and polls and
webhooks seeing the same change converge on one sync; events out of order are ignored as stale."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from service.engine import polling
from service.flows.order_polling import POLL_RESOURCE as ORDERS_POLL
from service.flows.order_polling import entity_key as order_key
from service.flows.order_polling import pollers as order_pollers
from service.flows.products import POLL_RESOURCE as ITEMS_POLL
from service.flows.products import ProductsFlow
from service.flows.products import entity_key as item_key
from service.kernel.signing import signed_headers
from service.sandbox.server import RunningSandbox, start_in_thread
from service.store import bindings, cursors, items
from tests.stack import HEARTLAND_TOKEN, MAGENTO_TOKEN, Stack, build_stack

HOOK_TOKEN = "polling-hook-token-7d1e-long-enough-for-a-real-deployment"
HEARTLAND_AUTH = {"Authorization": f"Bearer {HEARTLAND_TOKEN}"}
MAGENTO_AUTH = {"Authorization": f"Bearer {MAGENTO_TOKEN}"}


def heartland_put(base_url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.put(f"{base_url}/api/{path}", json=body, headers=HEARTLAND_AUTH, timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


def tee_item(base_url: str) -> dict[str, Any]:
    found = requests.get(f"{base_url}/api/items", params={"_filter": json.dumps({"public_id": "TEE-1000"})},
                         headers=HEARTLAND_AUTH, timeout=10).json()["results"]
    return dict(found[0])


# -- end to end: the webhooks never arrive ----------------------------------------------------------


@pytest.fixture
def stack(settings: dict[str, Any], tmp_path: Path) -> Iterator[Stack]:
    s = build_stack({**settings, "POLL_INTERVAL_SECONDS": 0.5, "POLL_OVERLAP_SECONDS": 5.0,
                     "INVENTORY_SETTLE_SECONDS": 0}, tmp_path)
    try:
        yield s
    finally:
        s.stop()


def test_lost_item_and_order_webhooks_are_caught_by_the_polls(stack: Stack) -> None:
    # Magento's outbox is down: its order events never leave. No Heartland webhook is registered.
    stack.magento.server.app.extensions["magento_sandbox"].events.url = None  # type: ignore[attr-defined]
    stack.start_worker()
    stack.start_scheduler()
    store = stack.runtime.store
    stack.wait_for(lambda: all(cursors.get(store, r) for r in (ITEMS_POLL, ORDERS_POLL)), what="the first polls")

    tee = tee_item(stack.heartland.url)
    heartland_put(stack.heartland.url, f"items/{tee['id']}", {"description": "Polled Tee", "price": 33.0})
    order = stack.checkout([{"sku": "MUG-1003", "qty": 2}])

    def product_name() -> str:
        return str(stack.magento_get("products/TEE-1000")["name"])

    stack.wait_for(lambda: product_name() == "Polled Tee", timeout=40, what="the item change in Magento")
    key = f"magento:default:{order['entity_id']}"
    stack.wait_for(lambda: bindings.find(store, "order", key, "heartland") is not None, timeout=40,
                   what="the order in Heartland")
    assert stack.magento_get("products/TEE-1000")["price"] == 33.0
    binding = bindings.find(store, "order", key, "heartland")
    assert binding is not None
    sales_order = stack.heartland_get(f"sales/orders/{binding.external_id}")
    assert sales_order["custom"]["tillbridge_ref"] == f"magento:default:{order['increment_id']}"

    # Later polls re-read both changes through the overlap window (and the order again after our
    # comment moved its updated_at): no second write, no second Heartland order.
    time.sleep(2.0)
    stack.wait_for(lambda: stack.settled(len(items.search(store, limit=500))), what="every item settled")
    product_items = [i for i in items.search(store, flow="products") if i.entity_key == item_key(tee["id"])]
    assert [i.state for i in product_items].count("done") == 1, [(i.state, i.reason) for i in product_items]
    order_items = [i for i in items.search(store, flow="orders") if i.entity_key == order_key("default", order["entity_id"])]
    assert [i.state for i in order_items].count("done") == 1, [(i.state, i.reason) for i in order_items]
    assert all(i.state == "ignored" and i.reason.startswith("already in Heartland") for i in order_items
               if i.state != "done")
    refs = [o for o in stack.heartland_orders()
            if (o.get("custom") or {}).get("tillbridge_ref") == f"magento:default:{order['increment_id']}"]
    assert len(refs) == 1
    writes = [r for r in stack.requests_log(stack.magento, "/rest") if r["method"] == "PUT"
              and r["path"].endswith("/products/TEE-1000")]
    assert len(writes) == 1


# -- in process: convergence and order ----------------------------------------------------------------


@pytest.fixture
def sides(runtime: Any) -> Iterator[tuple[RunningSandbox, RunningSandbox]]:
    from service.sandbox.heartland.app import create_app as create_heartland
    from service.sandbox.magento.app import create_app as create_magento

    heartland = start_in_thread(create_heartland(seed="demo", token=HEARTLAND_TOKEN))
    magento = start_in_thread(create_magento(seed="demo", token=MAGENTO_TOKEN))
    runtime.reconfigure(**{"TILLBRIDGE_HEARTLAND_URL": f"{heartland.url}/api",
                             "TILLBRIDGE_HEARTLAND_TOKEN": HEARTLAND_TOKEN,
                             "TILLBRIDGE_MAGENTO_URL": f"{magento.url}/rest",
                             "TILLBRIDGE_MAGENTO_TOKEN": MAGENTO_TOKEN,
                             "TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN": HOOK_TOKEN})
    try:
        yield heartland, magento
    finally:
        heartland.stop()
        magento.stop()


def hook(app: Any, record: dict[str, Any]) -> int:
    response = app.test_client().post(f"/webhooks/heartland/{HOOK_TOKEN}", json=record)
    assert response.status_code == 202, response.json
    return int(response.json["item_id"])


def test_item_events_out_of_order_and_the_poll_converge_on_one_write(
        app: Any, runtime: Any, sides: tuple[RunningSandbox, RunningSandbox]) -> None:
    heartland, magento = sides
    flow = runtime.flow("products")
    assert isinstance(flow, ProductsFlow)
    [poller] = flow.pollers()
    tee = tee_item(heartland.url)
    older = heartland_put(heartland.url, f"items/{tee['id']}", {"description": "First Tee"})
    time.sleep(1.1)  # Heartland stamps whole seconds
    newer = heartland_put(heartland.url, f"items/{tee['id']}", {"description": "Second Tee"})
    assert older["updated_at"] < newer["updated_at"]

    # The newer change's webhook arrives first and syncs; the older one arrives after it.
    assert runtime.pipeline.run_item(hook(app, newer)) == "done"
    late = hook(app, older)
    assert runtime.pipeline.run_item(late) == "ignored"
    stale = items.get(runtime.store, late)
    assert stale is not None
    assert stale.reason == (f"stale: this change to Heartland item {tee['id']} (updated_at {older['updated_at']}) "
                            f"is older than the version already synced ({newer['updated_at']})")

    # The poll reads the item at the newer version. Heartland stamps whole seconds, and the webhook's
    # run may have read the item before that second was over: once, the poll re-reads it, finds it
    # in Magento already and says so; after that it records nothing for that version.
    time.sleep(2.0)
    first = polling.poll(runtime.store, poller, overlap_seconds=60)
    assert len(first.item_ids) == 1
    assert runtime.pipeline.run_item(first.item_ids[0]) == "ignored"
    converged = items.get(runtime.store, first.item_ids[0])
    assert converged is not None and converged.reason == (
        f"no changes to SKU TEE-1000 since the last write: Heartland item {tee['id']} at {newer['updated_at']} "
        "is already in Magento")
    assert polling.poll(runtime.store, poller, overlap_seconds=60).item_ids == []
    writes = [r for r in requests.get(f"{magento.url}/__sandbox/requests", timeout=10).json()["requests"]
              if r["method"] in ("PUT", "POST") and "/products" in r["path"]]
    assert len(writes) == 1
    assert requests.get(f"{magento.url}/rest/V1/products/TEE-1000", headers=MAGENTO_AUTH,
                        timeout=10).json()["name"] == "Second Tee"

    # A change whose webhook is lost: the next poll records it once, and the run writes it.
    time.sleep(1.1)
    heartland_put(heartland.url, f"items/{tee['id']}", {"price": 41.0})
    second = polling.poll(runtime.store, poller, overlap_seconds=60)
    assert len(second.item_ids) == 1
    assert runtime.pipeline.run_item(second.item_ids[0]) == "done"
    assert requests.get(f"{magento.url}/rest/V1/products/TEE-1000", headers=MAGENTO_AUTH,
                        timeout=10).json()["price"] == 41.0


def test_an_order_event_and_the_poll_make_one_item_and_a_bound_order_is_ignored_with_its_reason(
        app: Any, runtime: Any, sides: tuple[RunningSandbox, RunningSandbox]) -> None:
    _, magento = sides
    [poller] = order_pollers(runtime)
    polling.poll(runtime.store, poller, overlap_seconds=60)
    order = requests.post(f"{magento.url}/__sandbox/checkout", json={"items": [{"sku": "CAP-1002", "qty": 1}]},
                          timeout=10).json()
    # The webhook for this version arrives: the poll then has nothing to add.
    event = {"event": "order.created", "occurred_at": "2026-11-27T10:00:00+00:00", "store_code": "default",
             "data": order}
    body = json.dumps(event).encode()
    response = app.test_client().post("/webhooks/magento", data=body, headers=signed_headers(
        runtime.settings.TILLBRIDGE_WEBHOOK_SECRET, "evt-order-1", body))
    assert response.status_code == 202, response.json
    assert polling.poll(runtime.store, poller, overlap_seconds=60).item_ids == []
    time.sleep(1.1)  # Magento stamps whole seconds: our comment below lands in a later one
    assert runtime.pipeline.run_item(int(response.json["item_id"])) == "done"

    # Our write-back comment moved the order's updated_at, and that event was lost: the poll
    # records the newer version, and the flow ignores it, saying why.
    later = polling.poll(runtime.store, poller, overlap_seconds=60)
    assert len(later.item_ids) == 1
    assert runtime.pipeline.run_item(later.item_ids[0]) == "ignored"
    echo = items.get(runtime.store, later.item_ids[0])
    assert echo is not None and echo.entity_key == order_key("default", order["entity_id"])
    assert echo.reason.startswith("already in Heartland as order #")
    assert polling.poll(runtime.store, poller, overlap_seconds=60).item_ids == []


def test_conflicting_product_edits_on_both_sides_heartland_owns_the_product(
        app: Any, runtime: Any, sides: tuple[RunningSandbox, RunningSandbox]) -> None:
    heartland, magento = sides
    flow = runtime.flow("products")
    assert isinstance(flow, ProductsFlow)
    [poller] = flow.pollers()
    polling.poll(runtime.store, poller, overlap_seconds=0)
    tee = tee_item(heartland.url)
    heartland_put(heartland.url, f"items/{tee['id']}", {"description": "Till Tee"})
    [first] = polling.poll(runtime.store, poller, overlap_seconds=60).item_ids
    assert runtime.pipeline.run_item(first) == "done"

    # A merchant renames and reprices the product in Magento's admin; its event arrives.
    edited = requests.put(f"{magento.url}/rest/all/V1/products/TEE-1000", headers=MAGENTO_AUTH, timeout=10,
                          json={"product": {"sku": "TEE-1000", "name": "Web Tee", "price": 99.0}}).json()
    body = json.dumps({"event": "product.saved", "occurred_at": "2026-11-27T10:00:00+00:00", "store_code": "admin",
                       "data": edited}).encode()
    saved = app.test_client().post("/webhooks/magento", data=body, headers=signed_headers(
        runtime.settings.TILLBRIDGE_WEBHOOK_SECRET, "evt-product-1", body))
    assert saved.status_code == 202, saved.json
    # rules/products.yaml magento_edits: restore. The edit is seen, and a run of the Heartland item
    # (under its lock, with Heartland's values as they are now) sets the name and price back.
    assert runtime.pipeline.run_item(int(saved.json["item_id"])) == "done"
    seen = items.get(runtime.store, int(saved.json["item_id"]))
    assert seen is not None and "Heartland owns products" in seen.reason
    assert seen.result["fields"] == ["name", "price"]
    assert runtime.pipeline.run_item(int(seen.result["restore_item"])) == "done"
    product = requests.get(f"{magento.url}/rest/all/V1/products/TEE-1000", headers=MAGENTO_AUTH, timeout=10).json()
    assert product["name"] == "Till Tee" and product["price"] != 99.0

    # Heartland changes the price too: its next sync writes Heartland's product, the name included.
    time.sleep(1.1)
    heartland_put(heartland.url, f"items/{tee['id']}", {"price": 45.0})
    [second] = polling.poll(runtime.store, poller, overlap_seconds=60).item_ids
    assert runtime.pipeline.run_item(second) == "done"
    product = requests.get(f"{magento.url}/rest/all/V1/products/TEE-1000", headers=MAGENTO_AUTH, timeout=10).json()
    assert (product["name"], product["price"]) == ("Till Tee", 45.0)
