"""``GET /metrics`` through the real app, store and Redis: strict Prometheus text, the figures an
operator alerts on, and who may read them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from service.api.metrics import Family, render
from service.store import cursors, items
from service.store.tables import utcnow
from tests.api.prometheus_text import parse_samples

LOCAL = {"REMOTE_ADDR": "127.0.0.1"}
REMOTE = {"REMOTE_ADDR": "203.0.113.9"}


def scrape(app: Any, environ: dict[str, str] = LOCAL, **headers: str) -> Any:
    return app.test_client().get("/metrics", environ_base=environ, headers=headers)


def test_figures_by_flow_state_dead_letters_breakers_and_poll_lag(app: Any, runtime: Any) -> None:
    store = runtime.store
    with store.session() as s:
        for state in ("received", "done", "done"):
            items.create(s, flow="orders", entity_key="orders:magento:default:1", payload={}, state=state)
        doomed = items.create(s, flow="inventory", entity_key="inventory:heartland:7", payload={"item_id": 7})
        cursors.advance(s, "heartland:items", utcnow() - timedelta(seconds=90))
    fence = items.claim(store, doomed.id, 60).fence  # type: ignore[union-attr]
    items.kill(store, doomed, fence=fence, failure_class="data", error="bad", attempts=1, steps=[])
    breaker = runtime.breaker("magento")
    for _ in range(int(runtime.settings.BREAKER_FAILURE_THRESHOLD)):
        breaker.record_failure()

    response = scrape(app)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples = parse_samples(response.get_data(as_text=True))
    assert samples[("tillbridge_items", (("flow", "orders"), ("state", "done")))] == 2
    assert samples[("tillbridge_items", (("flow", "orders"), ("state", "received")))] == 1
    assert samples[("tillbridge_items", (("flow", "inventory"), ("state", "dead")))] == 1
    assert samples[("tillbridge_dead_letters", ())] == 1
    assert samples[("tillbridge_breaker_open", (("destination", "magento"),))] == 1
    assert samples[("tillbridge_breaker_open", (("destination", "heartland"),))] == 0
    assert samples[("tillbridge_breaker_opened_total", (("destination", "magento"),))] == 1
    assert samples[("tillbridge_poll_cursor_lag_seconds", (("resource", "heartland:items"),))] == pytest.approx(90, abs=5)
    # Before any drift check: every kind at 0, and no last check.
    assert samples[("tillbridge_drift_records", (("kind", "stock"),))] == 0
    assert samples[("tillbridge_drift_records", (("kind", "order_status"),))] == 0
    assert samples[("tillbridge_drift_last_check_timestamp_seconds", ())] == 0
    assert samples[("tillbridge_oldest_pending_seconds", ())] >= 0


def test_without_a_token_only_this_machine_may_read(app: Any, runtime: Any) -> None:
    runtime.reconfigure(METRICS_TOKEN="")
    assert scrape(app, LOCAL).status_code == 200
    refused = scrape(app, REMOTE)
    assert refused.status_code == 403 and "METRICS_TOKEN" in refused.json["message"]


def test_with_a_token_every_caller_needs_it(app: Any, runtime: Any) -> None:
    runtime.reconfigure(METRICS_TOKEN="scrape-me-5c1d")
    assert scrape(app, LOCAL).status_code == 401
    assert scrape(app, REMOTE, Authorization="Bearer wrong").status_code == 401
    assert scrape(app, REMOTE, Authorization="Bearer scrape-me-5c1d").status_code == 200


def test_label_values_and_numbers_are_escaped_as_the_format_requires() -> None:
    family = Family("tillbridge_test", "gauge", "Help with a \\ backslash.")
    family.add(1.5, resource='a "quoted"\\name\nnext')
    family.add(float("inf"), resource="big")
    text = render([family])
    assert 'resource="a \\"quoted\\"\\\\name\\nnext"} 1.5' in text
    samples = parse_samples(text)
    assert samples[("tillbridge_test", (("resource", "big"),))] == float("inf")
