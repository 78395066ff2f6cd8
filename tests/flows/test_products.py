"""Products, Heartland → Magento, end to end: the Heartland sandbox's own webhook delivery to the
real app, real RQ workers and the scheduler as subprocesses, the Magento sandbox over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from service.api.heartland_hooks import EVENTS
from service.flows.products import is_older, magento_product
from service.store import bindings, items
from tests.stack import HEARTLAND_TOKEN, Stack, build_stack

HOOK_TOKEN = "products-hook-token-5f2c-long-enough-for-a-real-deployment"
SKU = "PF-TRAIL-100"


@pytest.fixture
def stack(settings: dict[str, Any], tmp_path: Path) -> Iterator[Stack]:
    s = build_stack({**settings, "TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN": HOOK_TOKEN}, tmp_path)
    try:
        yield s
    finally:
        s.stop()


def heartland(stack: Stack, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = requests.request(method, f"{stack.heartland.url}/api/{path}", json=body, timeout=10,
                                headers={"Authorization": f"Bearer {HEARTLAND_TOKEN}"})
    assert response.status_code in (200, 201), response.text
    if not response.content and response.headers.get("Location"):
        # Heartland answers a create with 201 and a Location, no body.
        return heartland(stack, "GET", response.headers["Location"].split("/api/", 1)[1])
    return dict(response.json()) if response.content else {}


def hook(stack: Stack, payload: Any, token: str = HOOK_TOKEN) -> requests.Response:
    return requests.post(f"{stack.web.url}/webhooks/heartland/{token}", json=payload, timeout=10)


def product_writes(stack: Stack) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in stack.requests_log(stack.magento, "/rest")
            if r["method"] in ("POST", "PUT") and "/products" in r["path"]]


def written_attributes(stack: Stack) -> dict[str, Any]:
    """The custom attributes of the last product write Tillbridge sent to Magento."""
    last = [r for r in stack.requests_log(stack.magento, "/rest") if r["method"] in ("POST", "PUT")
            and "/products" in r["path"]][-1]
    return attributes(last["body"]["product"])


def magento_product_now(stack: Stack) -> dict[str, Any] | None:
    response = requests.get(f"{stack.magento.url}/rest/all/V1/products/{SKU}", timeout=10,
                            headers={"Authorization": "Bearer magento-test-token"})
    return dict(response.json()) if response.status_code == 200 else None


def attributes(product: dict[str, Any]) -> dict[str, Any]:
    return {a["attribute_code"]: a["value"] for a in product.get("custom_attributes", [])}


def product_items(stack: Stack) -> list[Any]:
    return [i for i in items.search(stack.runtime.store, flow="products", limit=500)
            if i.entity_key.startswith("products:heartland:")]


def settled(stack: Stack, n: int) -> bool:
    rows = product_items(stack)
    dead = [(i.label, i.reason) for i in rows if i.state == "dead"]
    assert not dead, f"dead items: {dead}"
    return len(rows) >= n and all(i.state in ("done", "ignored") for i in rows)


def test_heartland_item_events_create_then_update_the_magento_product_once(stack: Stack) -> None:
    stack.start_worker()
    stack.start_scheduler()
    url = f"{stack.web.url}/webhooks/heartland/{HOOK_TOKEN}"
    heartland(stack, "POST", "webhooks", {"url": url, "events": list(EVENTS)})

    created = heartland(stack, "POST", "items", {
        "public_id": SKU, "description": "Trail Tee", "long_description": "<p>Light and quick-drying.</p>",
        "price": 20.0, "original_price": 25.0, "cost": 8.0, "weight": 0.4, "custom": {"color": "Navy"}})
    stack.wait_for(lambda: settled(stack, 1) and magento_product_now(stack) is not None, timeout=40,
                   what="the item created in Magento")
    product = magento_product_now(stack)
    assert product is not None
    assert (product["name"], product["price"], product["status"], product["weight"]) == ("Trail Tee", 25.0, 1, 0.4), product
    # special_price and color are checked on the request: the Magento sandbox keeps only the
    # store-scoped custom attributes of an /rest/all write that mixes both kinds.
    assert written_attributes(stack)["special_price"] == "20.00"
    assert written_attributes(stack)["color"] == "Navy"
    assert attributes(product)["description"] == "<p>Light and quick-drying.</p>"
    assert product_writes(stack) == ["POST /rest/all/V1/products"]
    binding = bindings.find(stack.runtime.store, "product", f"heartland:{created['id']}", "magento")
    assert binding is not None and binding.external_ref == SKU and binding.source_version == created["updated_at"]

    updated = heartland(stack, "PUT", f"items/{created['id']}", {"price": 26.0, "active": False})
    stack.wait_for(lambda: settled(stack, 2) and (magento_product_now(stack) or {}).get("status") == 2,
                   timeout=40, what="the item update in Magento")
    product = magento_product_now(stack)
    assert product is not None and product["price"] == 26.0
    assert written_attributes(stack)["special_price"] == ""  # cleared: no longer below the original price
    assert product_writes(stack) == ["POST /rest/all/V1/products", f"PUT /rest/all/V1/products/{SKU}"]

    # A redelivered identical hint is a duplicate: nothing new stored, nothing written.
    last = [d for d in requests.get(f"{stack.heartland.url}/__sandbox/webhook_deliveries", timeout=10)
            .json()["deliveries"] if d["event"] == "item_updated"][-1]
    again = hook(stack, last["payload"])
    assert again.status_code == 200 and again.json()["status"] == "duplicate"

    # A hint claiming a newer version re-reads the item: nothing changed, so no Magento write.
    forged = hook(stack, {**last["payload"], "updated_at": "2099-01-01T00:00:00Z", "price": 1.0})
    assert forged.status_code == 202
    stack.wait_for(lambda: items.get(stack.runtime.store, forged.json()["item_id"]).state == "ignored",  # type: ignore[union-attr]
                   timeout=30, what="the forged hint ignored")
    assert "no changes" in items.get(stack.runtime.store, forged.json()["item_id"]).reason  # type: ignore[union-attr]

    # A binding ahead of what Heartland now says: the re-read item is stale and ignored with reason.
    bindings.bind(stack.runtime.store, entity="product", key=f"heartland:{created['id']}", system="magento",
                  external_id=binding.external_id, source_version="2099-01-01T00:00:00Z")
    stale = hook(stack, {**last["payload"], "updated_at": "2098-01-01T00:00:00Z"})
    stack.wait_for(lambda: items.get(stack.runtime.store, stale.json()["item_id"]).state == "ignored",  # type: ignore[union-attr]
                   timeout=30, what="the stale hint ignored")
    assert "stale" in items.get(stack.runtime.store, stale.json()["item_id"]).reason  # type: ignore[union-attr]
    assert len(product_writes(stack)) == 2
    assert updated["updated_at"] >= created["updated_at"]

    # A wrong token is refused and nothing is stored.
    before = stack.states()
    refused = hook(stack, {**last["payload"], "updated_at": "2097-01-01T00:00:00Z"}, token="not-the-token")
    assert refused.status_code == 401
    assert stack.states() == before


def test_special_price_written_before_is_cleared_and_versions_compare_as_instants() -> None:
    mapped = {"sku": "A", "name": "A", "heartland_price": 10.0, "heartland_original_price": None,
              "attributes": {"description": "d", "color": None}}
    first = magento_product(mapped)
    assert attributes(first) == {"description": "d"} and first["price"] == 10.0
    sale = magento_product({**mapped, "heartland_original_price": 12.0})
    assert sale["price"] == 12.0 and attributes(sale)["special_price"] == "10.00"
    assert attributes(magento_product(mapped, sale))["special_price"] == ""
    assert is_older("2026-11-27T09:00:00Z", "2026-11-27T10:00:00+01:00") is False
    assert is_older("2026-11-27T08:59:59Z", "2026-11-27T09:00:00+00:00") is True
    assert is_older("", "2026-11-27T09:00:00Z") is False


def test_a_product_already_in_magento_is_updated_not_created_again(stack: Stack) -> None:
    """No binding yet (first sync, or a crash between create and bind): the lookup by SKU finds it."""
    stack.start_worker()
    heartland(stack, "POST", "webhooks", {"url": f"{stack.web.url}/webhooks/heartland/{HOOK_TOKEN}",
                                          "events": list(EVENTS)})
    existing = heartland(stack, "GET", "items?per_page=500", None)["results"]
    tee = next(i for i in existing if i["public_id"] == "TEE-1000")
    assert stack.magento_get("products/TEE-1000")["sku"] == "TEE-1000"
    heartland(stack, "PUT", f"items/{tee['id']}", {"description": "Classic Tee", "price": 31.0})
    stack.wait_for(lambda: settled(stack, 1), timeout=40, what="the item update synced")
    assert product_writes(stack) == ["PUT /rest/all/V1/products/TEE-1000"]
    product = stack.magento_get("products/TEE-1000")
    assert (product["name"], product["price"]) == ("Classic Tee", 31.0)
    done = [i for i in product_items(stack) if i.state == "done"]
    assert len(done) == 1 and "updated" in done[0].reason


def magento_items(stack: Stack) -> list[Any]:
    return sorted((i for i in items.search(stack.runtime.store, flow="products", limit=500)
                   if i.entity_key.startswith("products:magento:")), key=lambda i: i.id)


def test_a_price_changed_in_magento_is_set_back_and_our_own_writes_are_not(stack: Stack) -> None:
    """Heartland owns the products Tillbridge writes: Magento's echo of our write changes nothing; a
    merchant's price edit in Magento is set back to Heartland's price, once."""
    stack.start_worker()
    heartland(stack, "POST", "webhooks", {"url": f"{stack.web.url}/webhooks/heartland/{HOOK_TOKEN}",
                                          "events": list(EVENTS)})
    heartland(stack, "POST", "items", {"public_id": SKU, "description": "Trail Tee", "price": 20.0,
                                       "original_price": 25.0, "weight": 0.4})
    stack.wait_for(lambda: settled(stack, 1) and magento_product_now(stack) is not None, timeout=40,
                   what="the item created in Magento")
    # Magento's product.saved of our own write: nothing to do.
    stack.wait_for(lambda: any(i.state == "ignored" for i in magento_items(stack)), what="the echo ignored")
    [echo] = magento_items(stack)
    assert "holds what Tillbridge last wrote" in echo.reason
    writes = len(product_writes(stack))

    response = requests.put(f"{stack.magento.url}/rest/all/V1/products/{SKU}", timeout=10,
                            json={"product": {"sku": SKU, "price": 99.0}},
                            headers={"Authorization": "Bearer magento-test-token"})
    assert response.status_code == 200, response.text
    stack.wait_for(lambda: (magento_product_now(stack) or {}).get("price") == 25.0, timeout=40,
                   what="Heartland's price set back in Magento")
    edit = magento_items(stack)[1]
    assert edit.state == "done" and "price changed in Magento" in edit.reason, edit.reason
    restore = items.get(stack.runtime.store, edit.result["restore_item"])
    assert restore is not None
    stack.wait_for(lambda: settled(stack, 2), what="the restore settled")
    assert "price changed in Magento, set back to Heartland's values" in (items.get(stack.runtime.store, restore.id)
                                                                          .reason)  # type: ignore[union-attr]
    # The restore's own echo changes nothing: one restore write, no ping-pong.
    stack.wait_for(lambda: len(magento_items(stack)) >= 3 and all(i.state in ("done", "ignored")
                                                                   for i in magento_items(stack)),
                   what="the restore's echo handled")
    time.sleep(1.0)
    assert len(magento_items(stack)) == 3 and magento_items(stack)[2].state == "ignored"
    assert len(product_writes(stack)) == writes + 2  # the merchant's edit and the restore


def test_with_magento_edits_keep_an_edit_in_magento_is_left_until_heartlands_next_change(
        settings: dict[str, Any], tmp_path: Path) -> None:
    import shutil

    from service.app.factory import create_app
    from service.engine.trace import Trace
    from service.settings import repo_path

    rules = tmp_path / "rules"
    shutil.copytree(repo_path("rules"), rules)
    (rules / "products.yaml").write_text("magento_edits: keep\n", encoding="utf-8")
    app = create_app({**settings, "AUTO_MIGRATE": False, "RULES_DIR": str(rules)})
    runtime = app.extensions["tillbridge"]
    try:
        written = {"sku": SKU, "name": "Trail Tee", "price": 25.0, "custom_attributes": []}
        bindings.bind(runtime.store, entity="product", key="heartland:7", system="magento", external_id="41",
                      external_ref=SKU, source_version="2026-11-27T09:00:00+00:00",
                      data={"written": written, "held": written})
        flow = runtime.flow("products")
        envelope = {"event": "product.saved", "store_code": "default",
                    "data": {"id": 41, "sku": SKU, "name": "Trail Tee", "price": 99.0, "custom_attributes": []}}
        outcome = flow.from_magento(envelope, Trace())
        assert outcome.state == "ignored" and "price changed in Magento; kept" in outcome.reason
        assert items.search(runtime.store, flow="products") == []  # no restore queued
        echo = flow.from_magento({**envelope, "data": {**envelope["data"], "price": 25.0}}, Trace())
        assert echo.state == "ignored" and "holds what Tillbridge last wrote" in echo.reason
    finally:
        runtime.store.dispose()
