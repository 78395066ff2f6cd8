"""The products flow as declared steps, over the sandboxes: a grid child whose link to its
configurable product fails once resumes at the link, and its option, child, parent and configurable
option writes are made once, read once."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.api.heartland_hooks import EVENTS
from service.flows.products import entity_key
from service.store import bindings, items
from tests.flows.test_grids import GRID_RULES, HOOK_TOKEN, add_grid, heartland
from tests.stack import Stack, build_stack


@pytest.fixture
def stack(settings: dict[str, Any], tmp_path: Path) -> Iterator[Stack]:
    rules = tmp_path / "rules"
    shutil.copytree(Path(__file__).resolve().parents[2] / "rules", rules)
    (rules / "grids.yaml").write_text(GRID_RULES, encoding="utf-8")
    # No polls: the webhook's item is the one whose failed link is retried, and a poll's second item
    # of the same product must not sync it first.
    s = build_stack({**settings, "TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN": HOOK_TOKEN, "RULES_DIR": str(rules),
                     "POLL_INTERVAL_SECONDS": 0}, tmp_path)
    try:
        yield s
    finally:
        s.stop()


def calls(stack: Stack, method: str, path: str) -> list[int]:
    """The statuses Magento answered to ``method path`` (exactly that path), oldest first."""
    return [int(r["status"]) for r in stack.requests_log(stack.magento, path)
            if r["method"] == method and r["path"] == path]


def test_a_grid_child_whose_link_failed_is_retried_from_the_link(stack: Stack) -> None:
    stack.start_worker()
    stack.start_scheduler()  # it sends the failed item again when its retry is due
    heartland(stack, "POST", "webhooks", {"url": f"{stack.web.url}/webhooks/heartland/{HOOK_TOKEN}",
                                          "events": list(EVENTS)})
    grid = add_grid(stack, "G-RESUME", "Resume Tee", ["Color", "Size"])
    link = "/rest/default/V1/configurable-products/G-RESUME/child"
    stack.faults(stack.magento, fail_next={"method": "POST", "path": link, "count": 1, "status": 503})
    created = heartland(stack, "POST", "items", {"public_id": "RES-STORM-M", "description": "Resume Tee - Storm M",
                                                 "price": 24.0, "cost": 9.0, "grid_id": grid,
                                                 "custom": {"color": "Storm", "size": "Medium"}})
    key = entity_key(created["id"])

    def finished() -> list[Any]:
        return [i for i in items.search(stack.runtime.store, flow="products", limit=100)
                if i.entity_key == key and i.state in ("done", "ignored", "review", "dead")]

    stack.wait_for(lambda: bool(finished()), timeout=60, what="the grid item synced after its link failed once")
    done = finished()
    assert [(i.state, i.attempts) for i in done] == [("done", 2)], [(i.state, i.reason) for i in done]
    assert done[0].progress is None
    assert "as a child of configurable G-RESUME" in done[0].reason and "linked RES-STORM-M" in done[0].reason

    steps = items.steps(stack.runtime.store, done[0].id)
    first = [s for s in steps if s.attempt == 1]
    assert [s.step for s in first if s.step == "link" and s.status == "error"] == ["link"]
    second = [s for s in steps if s.attempt == 2]
    resumed = {s.step for s in second if (s.detail or {}).get("resumed")}
    assert resumed == {"options", "child", "parent", "vary"}, [(s.step, s.message) for s in second]
    ran_again = [s.step for s in second if s.step in ("stale?", "fetch", "transform", "grid", "siblings", "link")]
    assert ran_again == ["stale?", "fetch", "transform", "grid", "siblings", "link"]

    # Each completed write was made once; the link failed once and was made on the retry.
    assert calls(stack, "POST", "/rest/default/V1/products/attributes/color/options") == [200]  # Storm
    assert len(calls(stack, "GET", "/rest/default/V1/products/attributes/color")) == 1
    assert len(calls(stack, "GET", "/rest/all/V1/products/RES-STORM-M")) == 1  # the child's read, not repeated
    assert calls(stack, "POST", "/rest/all/V1/products") == [200, 200]  # the child, then the parent
    assert calls(stack, "POST", "/rest/default/V1/configurable-products/G-RESUME/options") == [200, 200]
    assert calls(stack, "POST", link) == [503, 200]

    children = stack.magento_get("configurable-products/G-RESUME/children")
    assert [c["sku"] for c in children] == ["RES-STORM-M"]
    grid_binding = bindings.find(stack.runtime.store, "product_grid", f"heartland:{grid}", "magento")
    assert grid_binding is not None and grid_binding.data["children"] == ["RES-STORM-M"]
    child_binding = bindings.find(stack.runtime.store, "product", f"heartland:{created['id']}", "magento")
    assert child_binding is not None and child_binding.data["parent_sku"] == "G-RESUME"
