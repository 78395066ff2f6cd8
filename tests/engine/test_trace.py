"""A trace keeps what was sent and got, but never more than 64 KB of one body."""

from __future__ import annotations

import json
from typing import Any

from service.engine.trace import MAX_BODY_BYTES, Trace
from service.kernel.exchanges import Exchange
from service.store import items


def test_bodies_over_64_kb_are_cut_with_a_marker_and_stored_so(runtime: Any) -> None:
    catalogue = {"items": [{"sku": f"SKU-{n:05d}", "name": "A long product name " * 3} for n in range(3000)]}
    size = len(json.dumps(catalogue, separators=(",", ":")).encode())
    assert size > MAX_BODY_BYTES
    trace = Trace()
    trace.exchange(Exchange("magento", "GET", "http://m/rest/V1/products", {"sku": "SKU-00001"}, 200, catalogue, 12.0))
    detail = trace.steps[0]["detail"]
    assert detail["request"] == {"sku": "SKU-00001"}  # small bodies are kept as they were
    cut = detail["response"]
    assert isinstance(cut, str) and cut.startswith('{"items":[{"sku":"SKU-00000"')
    assert f"the body was {size:,} bytes; the trace keeps the first {MAX_BODY_BYTES:,}" in cut
    assert len(cut.encode()) < MAX_BODY_BYTES + 200

    with runtime.store.session() as s:
        item_id = int(items.create(s, flow="products", entity_key="products:x", payload={}).id)
    fence = items.claim(runtime.store, item_id, 60).fence  # type: ignore[union-attr]
    items.finish(runtime.store, item_id, fence=fence, state="done", reason="", result={}, attempts=1,
                 steps=trace.steps)
    stored = items.steps(runtime.store, item_id)[0].detail
    assert stored["response"] == cut
