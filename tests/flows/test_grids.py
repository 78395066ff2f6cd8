"""Heartland grids → Magento configurable products, end to end: the Heartland sandbox's webhook
deliveries to the real app, a real RQ worker, the Magento sandbox over HTTP."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from service.api.heartland_hooks import EVENTS
from service.flows.grids import GridRules, parse_rules, unmapped_reason
from service.kernel.errors import DataError
from service.store import bindings, items
from tests.stack import HEARTLAND_TOKEN, Stack, build_stack

HOOK_TOKEN = "grids-hook-token-7d1e-long-enough-for-a-real-deployment"
GRID_RULES = """
attributes:
  Color: {magento: color}
  Size: {magento: size, custom_field: size, values: {Small: S, Medium: M}}
parent_sku: "{public_id}"
"""


@pytest.fixture
def stack(settings: dict[str, Any], tmp_path: Path) -> Iterator[Stack]:
    rules = tmp_path / "rules"
    shutil.copytree(Path(__file__).resolve().parents[2] / "rules", rules)
    (rules / "grids.yaml").write_text(GRID_RULES, encoding="utf-8")
    s = build_stack({**settings, "TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN": HOOK_TOKEN, "RULES_DIR": str(rules)},
                    tmp_path)
    try:
        yield s
    finally:
        s.stop()


def heartland(stack: Stack, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = requests.request(method, f"{stack.heartland.url}/api/{path}", json=body, timeout=10,
                                headers={"Authorization": f"Bearer {HEARTLAND_TOKEN}"})
    assert response.status_code in (200, 201), response.text
    if not response.content and response.headers.get("Location"):
        return heartland(stack, "GET", response.headers["Location"].split("/api/", 1)[1])
    return dict(response.json()) if response.content else {}


def add_grid(stack: Stack, public_id: str, description: str, attribute_names: list[str]) -> int:
    """A grid as the merchant sets it up in Heartland's back office (the API cannot create grids)."""
    app: Any = stack.heartland.server.app
    sandbox = app.extensions["heartland_sandbox"]
    with sandbox.state.lock:
        now = sandbox.state.now()
        grid = sandbox.state.item_grids.add({
            "public_id": public_id, "description": description, "item_price": 24.0, "item_cost": 9.0,
            "item_primary_vendor_id": None, "item_custom": {}, "attribute_names": attribute_names,
            "created_at": now, "updated_at": now})
    return int(grid["id"])


def writes(stack: Stack) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in stack.requests_log(stack.magento, "/rest")
            if r["method"] in ("POST", "PUT")]


def magento(stack: Stack, path: str) -> Any:
    return stack.magento_get(path)


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


def test_a_mapped_grid_becomes_one_configurable_product_and_a_replay_writes_nothing(stack: Stack) -> None:
    stack.start_worker()
    heartland(stack, "POST", "webhooks", {"url": f"{stack.web.url}/webhooks/heartland/{HOOK_TOKEN}",
                                          "events": list(EVENTS)})
    trail = add_grid(stack, "G-TRAIL", "Trail Tee", ["Color", "Size"])
    fit = add_grid(stack, "G-FIT", "Fit Chino", ["Color", "Fit"])
    # Red and S/M are among Magento's options already; Storm is not, and "Medium" is translated.
    variants = [("TRL-RED-S", "Red", "S"), ("TRL-RED-M", "Red", "Medium"), ("TRL-STORM-S", "Storm", "S"),
                ("TRL-STORM-M", "Storm", "M")]
    for sku, color, size in variants:
        heartland(stack, "POST", "items", {"public_id": sku, "description": f"Trail Tee - {color} {size}",
                                           "price": 24.0, "cost": 9.0, "grid_id": trail,
                                           "custom": {"color": color, "size": size}})
    chino = heartland(stack, "POST", "items", {"public_id": "FIT-RED-SLIM", "description": "Fit Chino - Red Slim",
                                               "price": 40.0, "cost": 15.0, "grid_id": fit,
                                               "custom": {"color": "Red", "fit": "Slim"}})
    stack.wait_for(lambda: settled(stack, 5), timeout=60, what="the grid items synced")
    # Then an item with the same colour and size as a linked one: it cannot be a variant.
    twin = heartland(stack, "POST", "items", {"public_id": "TRL-RED-S2", "description": "Trail Tee - Red S (2)",
                                              "price": 24.0, "cost": 9.0, "grid_id": trail,
                                              "custom": {"color": "red", "size": "Small"}})
    stack.wait_for(lambda: settled(stack, 6), timeout=60, what="the twin item synced")

    parent = magento(stack, "products/G-TRAIL")
    assert (parent["type_id"], parent["name"], parent["visibility"]) == ("configurable", "Trail Tee", 4)
    colors = {o["label"]: o["value"] for o in magento(stack, "products/attributes/color/options")}
    sizes = {o["label"]: o["value"] for o in magento(stack, "products/attributes/size/options")}
    children = magento(stack, "configurable-products/G-TRAIL/children")
    assert sorted(c["sku"] for c in children) == sorted(sku for sku, _, _ in variants)
    wanted = {sku: (colors[color], sizes[{"Medium": "M"}.get(size, size)]) for sku, color, size in variants}
    assert {c["sku"]: (attributes(c)["color"], attributes(c)["size"]) for c in children} == wanted
    assert all(c["visibility"] == 1 and c["type_id"] == "simple" for c in children)
    options = magento(stack, "configurable-products/G-TRAIL/options/all")
    assert sorted((o["attribute_id"], o["label"]) for o in options) == [("144", "Size"), ("93", "Color")]
    by_attribute = {o["attribute_id"]: sorted(v["value_index"] for v in o["values"]) for o in options}
    assert by_attribute["93"] == sorted(int(colors[c]) for c in ("Red", "Storm"))

    sent = writes(stack)
    assert sent.count("POST /rest/default/V1/products/attributes/color/options") == 1  # Storm, once
    assert not [w for w in sent if "attributes/size/options" in w]
    assert sent.count("POST /rest/all/V1/products") == 7  # the parent, four children, the twin, the chino
    assert sent.count("POST /rest/default/V1/configurable-products/G-TRAIL/options") == 2
    assert sent.count("POST /rest/default/V1/configurable-products/G-TRAIL/child") == 4
    assert not [w for w in sent if w.startswith("PUT")]
    grid_binding = bindings.find(stack.runtime.store, "product_grid", f"heartland:{trail}", "magento")
    assert grid_binding is not None and grid_binding.external_ref == "G-TRAIL"
    assert grid_binding.data["children"] == sorted(sku for sku, _, _ in variants)

    assert (magento(stack, "products/TRL-RED-S2")["type_id"], magento(stack, "products/TRL-RED-S2")["visibility"]) \
        == ("simple", 4)
    twin_item = next(i for i in product_items(stack) if i.entity_key.endswith(f":{twin['id']}"))
    assert twin_item.state == "done" and "same Color/Size (red/Small) as SKU TRL-RED-S" in twin_item.reason

    # The grid with an unmapped attribute: a simple product, visible, with the reason in the trace.
    simple = magento(stack, "products/FIT-RED-SLIM")
    assert (simple["type_id"], simple["visibility"]) == ("simple", 4)
    item = next(i for i in product_items(stack) if i.entity_key.endswith(f":{chino['id']}"))
    assert item.state == "done" and "'Fit' is not mapped" in item.reason and "rules/grids.yaml" in item.reason
    notes = [s.message for s in items.steps(stack.runtime.store, item.id) if s.step == "grid"]
    assert any("'Fit' is not mapped" in n for n in notes), notes

    # A replay of every hint (claiming a newer version, so each one is re-read and run): no writes.
    before = len(writes(stack))
    deliveries = requests.get(f"{stack.heartland.url}/__sandbox/webhook_deliveries", timeout=10).json()["deliveries"]
    for delivery in [d for d in deliveries if d["event"] == "item_created"]:
        forged = requests.post(f"{stack.web.url}/webhooks/heartland/{HOOK_TOKEN}", timeout=10,
                               json={**delivery["payload"], "updated_at": "2099-01-01T00:00:00Z"})
        assert forged.status_code == 202, forged.text
    stack.wait_for(lambda: settled(stack, 12), timeout=60, what="the replayed hints")
    assert len(writes(stack)) == before, writes(stack)[before:]
    replayed = [i for i in product_items(stack) if i.source_version.startswith("2099")]
    assert len(replayed) == 6 and all(i.state == "ignored" or "sent as a simple product" in i.reason
                                      for i in replayed), [(i.state, i.reason) for i in replayed]

    # Lost bindings (a crash between the Magento writes and binding them): every step reads first,
    # finds what is there, and writes nothing.
    with stack.runtime.store.session() as session:
        from service.store.tables import Binding

        session.query(Binding).filter(Binding.entity.in_(["product", "product_grid"])).delete()
    first = next(d for d in deliveries if d["event"] == "item_created" and d["payload"]["public_id"] == "TRL-STORM-M")
    again = requests.post(f"{stack.web.url}/webhooks/heartland/{HOOK_TOKEN}", timeout=10,
                          json={**first["payload"], "updated_at": "2099-01-02T00:00:00Z"})
    assert again.status_code == 202
    stack.wait_for(lambda: settled(stack, 13), timeout=60, what="the hint after lost bindings")
    assert len(writes(stack)) == before, writes(stack)[before:]
    recovered = items.get(stack.runtime.store, again.json()["item_id"])
    assert recovered is not None and recovered.state == "ignored" and "nothing to write" in recovered.reason


def test_rules_and_reasons_name_what_to_fix() -> None:
    rules = parse_rules({"attributes": {"Color": {"magento": "color"}, "Shoe Width": {"magento": "width"}}})
    assert rules.attribute("COLOR") is not None and rules.attribute("shoe width").custom_field == "shoe_width"  # type: ignore[union-attr]
    grid = {"id": 7, "public_id": "G-7", "attribute_names": ["Color", "Size"]}
    item = {"custom": {"color": "Red", "size": "M"}}
    reason = unmapped_reason(grid, rules, item)
    assert reason is not None and "'Size' is not mapped" in reason and "rules/grids.yaml" in reason
    assert unmapped_reason({**grid, "attribute_names": ["Color"]}, rules, item) is None
    missing = unmapped_reason({**grid, "attribute_names": ["Color"]}, rules, {"custom": {"color": " "}})
    assert missing is not None and "no Color value" in missing
    assert "names no attributes" in (unmapped_reason({**grid, "attribute_names": []}, rules, item) or "")
    assert parse_rules({"attributes": {}}) == GridRules(attributes={}, parent_sku="{public_id}")
    with pytest.raises(DataError, match="names no Magento attribute code"):
        parse_rules({"attributes": {"Color": {"custom_field": "color"}}})
