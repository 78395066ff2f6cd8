"""Drift checks against both sandboxes over HTTP, on the real store and Redis: what is changed behind
Tillbridge's back (no event, no poll) is found, counted, shown in /metrics and repaired through the
flow that owns it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from service.app.scheduler import sweep
from service.engine import polling
from service.flows import drift
from service.flows.inventory import entity_key as stock_key
from service.flows.order_polling import POLL_RESOURCE as ORDERS_POLL
from service.flows.order_polling import pollers as order_pollers
from service.sandbox.server import RunningSandbox, start_in_thread
from service.settings import as_environment
from service.store import bindings, items
from tests.api.prometheus_text import parse_samples
from tests.stack import HEARTLAND_TOKEN, MAGENTO_TOKEN

FIRST_ITEM = 100001  # the demo seed's Heartland items are 100001…
MAGENTO_AUTH = {"Authorization": f"Bearer {MAGENTO_TOKEN}"}
HEARTLAND_AUTH = {"Authorization": f"Bearer {HEARTLAND_TOKEN}"}


@pytest.fixture
def sides(runtime: Any) -> Iterator[tuple[RunningSandbox, RunningSandbox]]:
    """Both sandboxes; the Magento one sends no events (its outbox is down for the whole test)."""
    from service.sandbox.heartland.app import create_app as create_heartland
    from service.sandbox.magento.app import create_app as create_magento

    heartland = start_in_thread(create_heartland(seed="demo", token=HEARTLAND_TOKEN))
    magento = start_in_thread(create_magento(seed="demo", token=MAGENTO_TOKEN))
    runtime.reconfigure(**{"TILLBRIDGE_HEARTLAND_URL": f"{heartland.url}/api",
                             "TILLBRIDGE_HEARTLAND_TOKEN": HEARTLAND_TOKEN,
                             "TILLBRIDGE_MAGENTO_URL": f"{magento.url}/rest",
                             "TILLBRIDGE_MAGENTO_TOKEN": MAGENTO_TOKEN})
    try:
        yield heartland, magento
    finally:
        heartland.stop()
        magento.stop()


def magento_qty(magento: RunningSandbox, sku: str) -> float:
    return float(requests.get(f"{magento.url}/rest/V1/stockItems/{sku}", headers=MAGENTO_AUTH, timeout=10).json()["qty"])


def scrape(app: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.status_code == 200, response.data
    return parse_samples(response.get_data(as_text=True))


def test_stock_changed_in_magento_is_counted_repaired_by_the_inventory_flow_and_shown(
        app: Any, runtime: Any, sides: tuple[RunningSandbox, RunningSandbox]) -> None:
    _, magento = sides
    before = drift.check(runtime, repair=False)
    assert before.checked["stock"] >= 100  # the whole seeded catalogue, in batches
    # The seeds do not agree everywhere; take the first SKU that is in step.
    drifted = {r.key for r in before.records}
    item_id = next(i for i in range(FIRST_ITEM, FIRST_ITEM + 100) if stock_key(i) not in drifted)
    sku = runtime.heartland.item(item_id)["public_id"]
    stock = requests.get(f"{magento.url}/rest/V1/stockItems/{sku}", headers=MAGENTO_AUTH, timeout=10).json()
    in_step = float(stock["qty"])

    # Someone sets Magento's stock by hand: no event, no Heartland change, nothing for a poll.
    requests.put(f"{magento.url}/rest/V1/products/{sku}/stockItems/{stock['item_id']}",
                 json={"stockItem": {"qty": in_step + 7}}, headers=MAGENTO_AUTH, timeout=10).raise_for_status()
    calls_before = len(requests.get(f"{magento.url}/__sandbox/requests", timeout=10).json()["requests"])
    report = drift.check(runtime)
    [found] = [r for r in report.records if r.key == stock_key(item_id)]
    assert found.what == f"stock of {sku}: Heartland {in_step:g}, Magento {in_step + 7:g}"
    assert report.drifted["stock"] == before.drifted["stock"] + 1
    # Batched: a few searches for the whole catalogue, not one call per SKU.
    calls = requests.get(f"{magento.url}/__sandbox/requests", timeout=10).json()["requests"][calls_before:]
    assert 0 < len(calls) <= 10, len(calls)

    repair = items.get(runtime.store, int(found.repair.split()[-1]))
    assert repair is not None and repair.flow == "inventory" and repair.label.startswith(f"drift: stock of {sku}")
    assert runtime.pipeline.run_item(repair.id) == "done"
    assert magento_qty(magento, sku) == in_step

    metrics = scrape(app)
    assert metrics[("tillbridge_drift_records", (("kind", "stock"),))] == report.drifted["stock"]
    assert metrics[("tillbridge_drift_last_check_timestamp_seconds", ())] == pytest.approx(report.at)
    assert metrics[("tillbridge_items", (("flow", "inventory"), ("state", "done")))] == 1

    # Repaired: the next check finds that SKU in step; the other SKUs' repair items still wait, so
    # their differences are in flight, not drift, and no second item is made for them.
    after = drift.check(runtime)
    assert after.drifted["stock"] == 0 and after.repaired == []


def test_order_statuses_that_drifted_are_found_and_repaired_or_sent_to_review(
        app: Any, runtime: Any, sides: tuple[RunningSandbox, RunningSandbox]) -> None:
    heartland, magento = sides
    placed = [requests.post(f"{magento.url}/__sandbox/checkout", json={"items": [{"sku": sku, "qty": 1}]},
                            timeout=10).json() for sku in ("MUG-1003", "CAP-1002")]
    # The order events are lost; the orders poll finds both orders and the flow syncs them.
    [poller] = order_pollers(runtime)
    result = polling.poll(runtime.store, poller, overlap_seconds=3600)
    assert len(result.item_ids) == 2
    assert {runtime.pipeline.run_item(i) for i in result.item_ids} == {"done"}
    bound = {o["increment_id"]: bindings.find(runtime.store, "order", f"magento:default:{o['entity_id']}", "heartland")
             for o in placed}
    assert all(bound.values())
    assert drift.check(runtime, repair=False).drifted["order_status"] == 0

    kept, cancelled = placed
    # Heartland cancels one order (Magento owns orders: a person has to act) and Magento cancels the
    # other with its event lost (the orders flow cancels the Heartland order).
    kept_binding, cancelled_binding = bound[kept["increment_id"]], bound[cancelled["increment_id"]]
    assert kept_binding is not None and cancelled_binding is not None
    requests.put(f"{heartland.url}/api/sales/orders/{kept_binding.external_id}", json={"status": "cancelled"},
                 headers=HEARTLAND_AUTH, timeout=10).raise_for_status()
    assert requests.post(f"{magento.url}/rest/V1/orders/{cancelled['entity_id']}/cancel", headers=MAGENTO_AUTH,
                         timeout=10).json() is True

    report = drift.check(runtime)
    assert report.checked["order_status"] == 2 and report.drifted["order_status"] == 2
    by_key = {r.key: r for r in report.records if r.kind == "order_status"}
    review = by_key[f"orders:magento:default:{kept['entity_id']}"]
    assert review.what.startswith(f"Heartland order #{kept_binding.external_ref} is cancelled but Magento order "
                                  f"#{kept['increment_id']} is ")
    review_item = items.get(runtime.store, int(review.repair.split()[-1]))
    assert review_item is not None and review_item.state == "review" and review_item.reason.startswith("drift: ")
    fix = by_key[f"orders:magento:default:{cancelled['entity_id']}"]
    assert fix.what == (f"order #{cancelled['increment_id']} is canceled in Magento but Heartland order "
                        f"#{cancelled_binding.external_ref} is open")
    assert fix.repair.startswith("item ") and int(fix.repair.split()[-1]) in report.repaired
    assert runtime.pipeline.run_item(int(fix.repair.split()[-1])) == "done"
    status = requests.get(f"{heartland.url}/api/sales/orders/{cancelled_binding.external_id}", headers=HEARTLAND_AUTH,
                          timeout=10).json()["status"]
    assert status == "cancelled"

    again = drift.check(runtime)
    assert again.drifted["order_status"] == 1  # the one a person must settle is still counted…
    [still] = [r for r in again.records if r.kind == "order_status"]
    assert still.repair == f"item {review_item.id} already review"  # …not queued twice
    assert items.counts_by_state(runtime.store).get("review") == 1
    metrics = scrape(app)
    assert metrics[("tillbridge_drift_records", (("kind", "order_status"),))] == 1
    assert (("tillbridge_poll_cursor_lag_seconds", (("resource", ORDERS_POLL),))) in metrics


def test_the_scheduler_checks_once_the_interval_has_passed(runtime: Any,
                                                          sides: tuple[RunningSandbox, RunningSandbox]) -> None:
    # The interval is long against a check (under a second here, a few on a loaded machine), so the
    # sweep right after one is surely within it.
    runtime.reconfigure(**{"DRIFT_INTERVAL_SECONDS": 4.0, "POLL_INTERVAL_SECONDS": 0})
    sweep(runtime)
    assert drift.last_run(runtime) is None  # a scheduler starting is not a reason to read everything
    time.sleep(4.1)
    sweep(runtime)
    first = drift.last_run(runtime)
    assert first is not None and first["checked"]["stock"] > 0
    sweep(runtime)
    assert drift.last_run(runtime) == first  # not again before the interval
    runtime.reconfigure(DRIFT_INTERVAL_SECONDS=0)
    time.sleep(4.1)
    sweep(runtime)
    assert drift.last_run(runtime) == first  # 0 turns it off


def test_the_cli_prints_what_differs_and_repairs_only_when_asked(
        settings: dict[str, Any], runtime: Any, sides: tuple[RunningSandbox, RunningSandbox]) -> None:
    from click.testing import CliRunner

    from service.cli.main import main

    env = {k: str(v) for k, v in {**settings, **as_environment(runtime.settings)}.items()
           if k.startswith(("TILLBRIDGE_", "DATABASE_URL", "REDIS_URL", "DATA_DIR"))}
    looked = CliRunner().invoke(main, ["drift", "check", "--no-repair"], env=env)
    assert looked.exit_code == 0, looked.output
    lines = looked.output.splitlines()
    assert lines[-1].startswith("drift check at ") and lines[-1].endswith("nothing repaired (--no-repair)")
    assert any(line.startswith("stock         stock of ") for line in lines[:-1])
    assert items.counts_by_state(runtime.store) == {}
    repaired = CliRunner().invoke(main, ["drift", "check", "--json"], env=env)
    assert repaired.exit_code == 0, repaired.output
    run = json.loads(repaired.output)
    assert run["repaired"] == run["drifted"]["stock"] > 0
    assert items.counts_by_state(runtime.store) == {"received": run["repaired"]}
