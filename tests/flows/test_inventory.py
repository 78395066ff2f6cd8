"""Inventory, Heartland → Magento, end to end: stock changed through the Heartland sandbox's API is
found by the scheduler's poller and written to the Magento sandbox by real workers."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from service.connectors.heartland.client import HeartlandClient
from service.engine import polling
from service.flows.inventory import POLL_RESOURCE, InventoryFlow, StockChange, entity_key, record_changes
from service.sandbox.server import start_in_thread
from service.settings import repo_path
from service.store import cursors, items
from service.store.db import Store
from tests.stack import HEARTLAND_TOKEN, MAGENTO_TOKEN, Stack, build_stack

LOCATIONS = {"Downtown Store": 100001, "Northside Store": 100002, "Web Warehouse": 100003}
FIRST_ITEM = 100001  # TEE-1000 in the demo seed; items 100001… are SKUs TEE-1000, HOD-1001, …
POLLING = {"POLL_INTERVAL_SECONDS": 0.5, "POLL_OVERLAP_SECONDS": 30, "INVENTORY_SETTLE_SECONDS": 3}


def write_rules(directory: Path, **rules: Any) -> str:
    shutil.copytree(repo_path("rules"), directory, dirs_exist_ok=True)
    body = {"selling_locations": list(LOCATIONS), "mode": "single_source", **rules}
    (directory / "inventory.yaml").write_text(yaml.safe_dump(body), encoding="utf-8")
    return str(directory)


@pytest.fixture
def stack(settings: dict[str, Any], tmp_path: Path) -> Iterator[Stack]:
    # Northside is not a selling location here: its stock must never reach Magento.
    rules = write_rules(tmp_path / "rules", selling_locations=["Downtown Store", "WH"])
    s = build_stack({**settings, **POLLING, "RULES_DIR": rules}, tmp_path)
    try:
        yield s
    finally:
        s.stop()


def heartland_send(base_url: str, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.request(method, f"{base_url}/api/{path}", json=body, timeout=10,
                                headers={"Authorization": f"Bearer {HEARTLAND_TOKEN}"})
    assert response.status_code in (200, 201), response.text
    if response.status_code == 201 and "Location" in response.headers:  # Heartland answers a create bare
        return {"id": int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])}
    return dict(response.json()) if response.content else {}


def adjust(base_url: str, location_id: int, deltas: dict[int, float]) -> None:
    """One completed Heartland adjustment set: one ledger entry per line."""
    created = heartland_send(base_url, "POST", "inventory/adjustment_sets", {
        "location_id": location_id, "adjustment_reason_id": 100003,
        "lines": [{"item_id": item_id, "qty": qty} for item_id, qty in deltas.items()]})
    heartland_send(base_url, "PUT", f"inventory/adjustment_sets/{created['id']}", {"status": "complete"})


def available(stack: Stack, item_id: int, locations: list[int]) -> float:
    return available_at(stack.heartland.url, item_id, locations)


def available_at(base_url: str, item_id: int, locations: list[int]) -> float:
    client = HeartlandClient(f"{base_url}/api", HEARTLAND_TOKEN)
    return float(client.available_by_item([item_id], locations)[item_id])


def magento_qty(stack: Stack, sku: str) -> float:
    return float(stack.magento_get(f"stockItems/{sku}")["qty"])


def stock_writes(stack: Stack) -> list[dict[str, Any]]:
    return [r for r in stack.requests_log(stack.magento, "/rest") if r["method"] == "PUT" and "/stockItems/" in r["path"]]


def test_stock_changes_in_heartland_reach_magento(stack: Stack) -> None:
    stack.start_worker()
    stack.start_scheduler()
    selling = [LOCATIONS["Downtown Store"], LOCATIONS["Web Warehouse"]]
    stack.wait_for(lambda: cursors.get(stack.runtime.store, POLL_RESOURCE) is not None, what="the first poll")
    # A delivery at the warehouse, and a count at Northside (not a selling location).
    adjust(stack.heartland.url, LOCATIONS["Web Warehouse"], {FIRST_ITEM: 7})
    adjust(stack.heartland.url, LOCATIONS["Northside Store"], {FIRST_ITEM + 1: 40})
    expected = available(stack, FIRST_ITEM, selling)
    stack.wait_for(lambda: magento_qty(stack, "TEE-1000") == expected, what="TEE-1000 to follow Heartland")
    # The worker writes Magento, then records the item done: wait for the record too.
    stack.wait_for(lambda: bool(items.search(stack.runtime.store, flow="inventory", state="done")),
                   what="the inventory item recorded done")
    done = items.search(stack.runtime.store, flow="inventory", state="done")
    assert [i.entity_key for i in done] == [entity_key(FIRST_ITEM)]
    assert done[0].result["qty"] == expected
    assert "deliver" in [s.step for s in items.steps(stack.runtime.store, done[0].id)]
    # Northside's stock moved, but Northside does not sell online: nothing for HOD-1001.
    assert not [i for i in items.search(stack.runtime.store, flow="inventory") if i.entity_key == entity_key(FIRST_ITEM + 1)]

    # A Heartland sales order set open commits stock: the salable quantity drops.
    order = heartland_send(stack.heartland.url, "POST", "sales/orders", {
        "customer_id": 100001, "station_id": 100001, "source_location_id": LOCATIONS["Downtown Store"]})
    heartland_send(stack.heartland.url, "POST", f"sales/orders/{order['id']}/lines", {"item_id": FIRST_ITEM, "qty": 3})
    heartland_send(stack.heartland.url, "PUT", f"sales/orders/{order['id']}", {"status": "open"})
    assert available(stack, FIRST_ITEM, selling) == expected - 3
    stack.wait_for(lambda: magento_qty(stack, "TEE-1000") == expected - 3, what="the committed qty to reach Magento")
    stock = stack.magento_get("stockItems/TEE-1000")
    assert stock["is_in_stock"] is True


def test_a_burst_of_1000_changes_to_50_skus_makes_at_most_50_magento_writes(stack: Stack) -> None:
    stack.start_worker()
    stack.start_scheduler()
    stack.wait_for(lambda: cursors.get(stack.runtime.store, POLL_RESOURCE) is not None, what="the first poll")
    skus = list(range(FIRST_ITEM, FIRST_ITEM + 50))
    for n in range(20):  # 20 adjustment sets × 50 lines = 1,000 stock changes, while polls go on
        location = LOCATIONS["Downtown Store"] if n % 2 else LOCATIONS["Web Warehouse"]
        adjust(stack.heartland.url, location, {item_id: 1 + (n % 3) for item_id in skus})
    stack.wait_for(lambda: len(items.search(stack.runtime.store, flow="inventory", limit=500)) >= 50
                   and stack.settled(50), timeout=60, what="50 SKUs synced")
    writes = stock_writes(stack)
    assert 0 < len(writes) <= 50
    selling = [LOCATIONS["Downtown Store"], LOCATIONS["Web Warehouse"]]
    for item_id in (skus[0], skus[17], skus[-1]):
        sku = stack.heartland_get(f"items/{item_id}")["public_id"]
        assert magento_qty(stack, sku) == available(stack, item_id, selling)
    # Later polls re-read the burst through the overlap window: nothing new is created or written.
    time.sleep(1.5)
    assert len(items.search(stack.runtime.store, flow="inventory", limit=500)) == 50
    assert len(stock_writes(stack)) == len(writes)


def test_magento_already_in_step_is_ignored_with_a_reason(app: Any, runtime: Any) -> None:
    """Run in process: the poll and the run, on the real store against both sandboxes."""
    from service.sandbox.heartland.app import create_app as create_heartland
    from service.sandbox.magento.app import create_app as create_magento

    heartland = start_in_thread(create_heartland(seed="demo", token=HEARTLAND_TOKEN))
    magento = start_in_thread(create_magento(seed="demo", token=MAGENTO_TOKEN))
    try:
        runtime.reconfigure(**{"TILLBRIDGE_HEARTLAND_URL": f"{heartland.url}/api",
                                 "TILLBRIDGE_HEARTLAND_TOKEN": HEARTLAND_TOKEN,
                                 "TILLBRIDGE_MAGENTO_URL": f"{magento.url}/rest",
                                 "TILLBRIDGE_MAGENTO_TOKEN": MAGENTO_TOKEN,
                                 "INVENTORY_SETTLE_SECONDS": 0})
        flow = runtime.flow("inventory")
        assert isinstance(flow, InventoryFlow)
        poller = flow.poller()
        polling.poll(runtime.store, poller, overlap_seconds=30)
        adjust(heartland.url, LOCATIONS["Downtown Store"], {FIRST_ITEM: 2})
        first = polling.poll(runtime.store, poller, overlap_seconds=30)
        assert len(first.item_ids) == 1
        assert runtime.pipeline.run_item(first.item_ids[0]) == "done"
        # Magento changed by hand back to Heartland's level meanwhile: the next run writes nothing.
        adjust(heartland.url, LOCATIONS["Downtown Store"], {FIRST_ITEM: -1})
        second = polling.poll(runtime.store, poller, overlap_seconds=30)
        target = float(sum(available_at(heartland.url, FIRST_ITEM, [loc]) for loc in LOCATIONS.values()))
        requests.put(f"{magento.url}/rest/V1/products/TEE-1000/stockItems/1", json={"stockItem": {"qty": target}},
                     headers={"Authorization": f"Bearer {MAGENTO_TOKEN}"}, timeout=10).raise_for_status()
        assert runtime.pipeline.run_item(second.item_ids[0]) == "ignored"
        item = items.get(runtime.store, second.item_ids[0])
        assert item is not None and item.reason == f"Magento already has {target:g} of TEE-1000"
    finally:
        heartland.stop()
        magento.stop()


def test_msi_writes_each_selling_location_to_its_source(app: Any, runtime: Any, tmp_path: Path) -> None:
    from service.sandbox.heartland.app import create_app as create_heartland
    from service.sandbox.magento.app import create_app as create_magento

    heartland = start_in_thread(create_heartland(seed="demo", token=HEARTLAND_TOKEN))
    magento = start_in_thread(create_magento(seed="demo", token=MAGENTO_TOKEN, sources=["shops", "web"]))
    rules = write_rules(tmp_path / "msi", mode="msi", sources={"DT": "shops", "Northside Store": "shops",
                                                                "100003": "web"})
    try:
        from service.rules.loader import Rules

        runtime.rules = Rules(rules)
        runtime.reconfigure(**{"TILLBRIDGE_HEARTLAND_URL": f"{heartland.url}/api",
                                 "TILLBRIDGE_HEARTLAND_TOKEN": HEARTLAND_TOKEN,
                                 "TILLBRIDGE_MAGENTO_URL": f"{magento.url}/rest",
                                 "TILLBRIDGE_MAGENTO_TOKEN": MAGENTO_TOKEN,
                                 "INVENTORY_SETTLE_SECONDS": 0})
        flow = runtime.flow("inventory")
        assert isinstance(flow, InventoryFlow)
        polling.poll(runtime.store, flow.poller(), overlap_seconds=30)
        adjust(heartland.url, LOCATIONS["Web Warehouse"], {FIRST_ITEM: 5, FIRST_ITEM + 1: 4})
        result = polling.poll(runtime.store, flow.poller(), overlap_seconds=30)
        assert len(result.item_ids) == 2
        assert {runtime.pipeline.run_item(i) for i in result.item_ids} == {"done"}
        found = requests.get(f"{magento.url}/rest/V1/inventory/source-items", timeout=10,
                             headers={"Authorization": f"Bearer {MAGENTO_TOKEN}"},
                             params={"searchCriteria[filterGroups][0][filters][0][field]": "sku",
                                     "searchCriteria[filterGroups][0][filters][0][value]": "TEE-1000"}).json()
        by_source = {r["source_code"]: r["quantity"] for r in found["items"]}
        shops = available_at(heartland.url, FIRST_ITEM, [100001]) + available_at(heartland.url, FIRST_ITEM, [100002])
        assert by_source["shops"] == shops
        assert by_source["web"] == available_at(heartland.url, FIRST_ITEM, [100003])
        posts = [r for r in requests.get(f"{magento.url}/__sandbox/requests", timeout=10).json()["requests"]
                 if r["method"] == "POST" and r["path"].endswith("/inventory/source-items")]
        assert len(posts) == 2 and all(len(p["body"]["sourceItems"]) == 2 for p in posts)
    finally:
        heartland.stop()
        magento.stop()


def test_changes_coalesce_into_the_waiting_item_but_not_into_a_running_one(settings: dict[str, Any]) -> None:
    store = Store(settings["DATABASE_URL"])
    try:
        with store.session() as s:
            first = record_changes(s, [StockChange(1, 10), StockChange(2, 11)])
        assert len(first) == 2
        with store.session() as s:  # the overlap window reads the same ledger entries again
            assert record_changes(s, [StockChange(1, 10), StockChange(2, 11)]) == []
        with store.session() as s:  # a newer change while the item still waits: it covers it
            assert record_changes(s, [StockChange(1, 12)]) == []
        waiting = items.get(store, first[0])
        assert waiting is not None and waiting.source_version == "12"
        assert items.claim(store, first[0], lease_seconds=30) is not None  # its run has started
        with store.session() as s:  # the run may have read the level before this change
            again = record_changes(s, [StockChange(1, 13)])
        assert len(again) == 1 and again[0] != first[0]
        with store.session() as s:  # with a settle window the item waits, and the scheduler sends it
            settled = record_changes(s, [StockChange(3, 14)], settle_seconds=30)
        assert settled == []
        late = [i for i in items.search(store, flow="inventory") if i.entity_key == entity_key(3)]
        assert len(late) == 1 and late[0].enqueued_at is None
        assert late[0].next_attempt_at is not None and late[0].next_attempt_at > late[0].created_at
        assert late[0].id not in items.due_for_enqueue(store, requeue_after_seconds=60)
    finally:
        store.dispose()


def test_a_failed_delivery_is_retried_with_the_level_read_again(app: Any, runtime: Any) -> None:
    """The delivery is the flow's only effect: a run that failed at it has no completed effect to
    resume after, so its retry reads the level again and writes the level as it is then, once."""
    from service.sandbox.heartland.app import create_app as create_heartland
    from service.sandbox.magento.app import create_app as create_magento

    heartland = start_in_thread(create_heartland(seed="demo", token=HEARTLAND_TOKEN))
    magento = start_in_thread(create_magento(seed="demo", token=MAGENTO_TOKEN))
    try:
        runtime.reconfigure(**{"TILLBRIDGE_HEARTLAND_URL": f"{heartland.url}/api",
                                 "TILLBRIDGE_HEARTLAND_TOKEN": HEARTLAND_TOKEN,
                                 "TILLBRIDGE_MAGENTO_URL": f"{magento.url}/rest",
                                 "TILLBRIDGE_MAGENTO_TOKEN": MAGENTO_TOKEN,
                                 "INVENTORY_SETTLE_SECONDS": 0})
        flow = runtime.flow("inventory")
        assert isinstance(flow, InventoryFlow)
        poller = flow.poller()
        polling.poll(runtime.store, poller, overlap_seconds=30)
        adjust(heartland.url, LOCATIONS["Downtown Store"], {FIRST_ITEM: 2})
        [item_id] = polling.poll(runtime.store, poller, overlap_seconds=30).item_ids
        path = "/rest/default/V1/products/TEE-1000/stockItems/"
        requests.post(f"{magento.url}/__sandbox/faults", timeout=5, json={
            "fail_next": {"method": "PUT", "path": path, "count": 1, "status": 503}}).raise_for_status()

        assert runtime.pipeline.run_item(item_id) == "received"
        failed = items.get(runtime.store, item_id)
        assert failed is not None and failed.progress is None  # nothing completed that a retry could skip
        adjust(heartland.url, LOCATIONS["Downtown Store"], {FIRST_ITEM: 3})  # stock moves before the retry
        selling = list(LOCATIONS.values())
        level = float(sum(available_at(heartland.url, FIRST_ITEM, [loc]) for loc in selling))
        deadline = time.time() + 30
        while (state := runtime.pipeline.run_item(item_id)) == "skipped" and time.time() < deadline:
            time.sleep(0.2)  # not due yet
        item = items.get(runtime.store, item_id)
        assert item is not None
        assert (state, item.attempts, item.result.get("qty")) == ("done", 2, level), item.reason
        second = [s for s in items.steps(runtime.store, item_id) if s.attempt == 2]
        assert [s.step for s in second if s.step in ("item", "rules", "level", "compare", "deliver")] == \
            ["item", "rules", "level", "compare", "deliver"]
        assert not [s for s in second if (s.detail or {}).get("resumed")]
        puts = [r for r in requests.get(f"{magento.url}/__sandbox/requests", timeout=10,
                                        params={"path": path}).json()["requests"] if r["method"] == "PUT"]
        assert [r["status"] for r in puts] == [503, 200]
        assert puts[1]["body"]["stockItem"]["qty"] == level
        assert float(requests.get(f"{magento.url}/rest/V1/stockItems/TEE-1000", timeout=10,
                                  headers={"Authorization": f"Bearer {MAGENTO_TOKEN}"}).json()["qty"]) == level
    finally:
        heartland.stop()
        magento.stop()
