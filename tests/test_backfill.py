"""Backfill, Heartland → Magento, against both sandboxes over HTTP (no workers: the run is in-process)."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from service.flows.backfill import Backfill, BackfillError, Summary
from service.sandbox.heartland.app import create_app as create_heartland
from service.sandbox.magento.app import create_app as create_magento
from service.sandbox.server import RunningSandbox, start_in_thread
from service.settings import as_environment
from service.store import backfills, bindings
from service.store.tables import Binding, DeadLetter, SyncItem

ROOT = Path(__file__).resolve().parent.parent
HEARTLAND_TOKEN = "heartland-test-token"
MAGENTO_TOKEN = "magento-test-token"
ITEMS = 60  # Heartland items; Magento starts with the first seed products only
MAGENTO_PRODUCTS = 20


@dataclass
class Sides:
    runtime: Any
    heartland: RunningSandbox
    magento: RunningSandbox

    def requests(self, server: RunningSandbox, path: str = "", since: int = 0) -> list[dict[str, Any]]:
        got = requests.get(f"{server.url}/__sandbox/requests", params={"path": path, "since": str(since)}, timeout=10)
        return list(got.json()["requests"])

    def last(self, server: RunningSandbox) -> int:
        got = requests.get(f"{server.url}/__sandbox/requests", params={"path": "/nothing"}, timeout=10)
        return int(got.json()["last"])

    def heartland_api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.heartland.url}/api/{path}", timeout=10,
                                    headers={"Authorization": f"Bearer {HEARTLAND_TOKEN}"}, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def magento_api(self, path: str, **params: Any) -> Any:
        response = requests.get(f"{self.magento.url}/rest/all/V1/{path}", params=params, timeout=10,
                                headers={"Authorization": f"Bearer {MAGENTO_TOKEN}"})
        response.raise_for_status()
        return response.json()

    def items(self) -> list[dict[str, Any]]:
        return list(self.heartland_api("GET", "items", params={"per_page": 500, "sort[]": "id"})["results"])

    def backfill(self, resource: str, **kwargs: Any) -> Summary:
        return Backfill(self.runtime, resource, page_size=kwargs.pop("page_size", 20), **kwargs).run()


def _sides(settings: dict[str, Any], tmp_path: Path, *, msi: bool = False,
           magento_sources: tuple[str, ...] = ("downtown", "web"), magento_products: int = MAGENTO_PRODUCTS,
           ) -> Iterator[Sides]:
    from service.app.factory import create_app

    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    magento_options: dict[str, Any] = {"products": magento_products, "customers": 0, "history_orders": 0}
    if msi:
        stock = yaml.safe_load((rules / "inventory.yaml").read_text())
        stock.update(mode="msi", sources={"Downtown Store": "downtown", "Northside Store": "downtown",
                                          "Web Warehouse": "web"}, msi_batch_size=25)
        (rules / "inventory.yaml").write_text(yaml.safe_dump(stock))
        magento_options["sources"] = list(magento_sources)
    heartland = start_in_thread(create_heartland(seed="demo", token=HEARTLAND_TOKEN, seed_products=ITEMS,
                                                 seed_customers=6))
    magento = start_in_thread(create_magento(seed="demo", token=MAGENTO_TOKEN, **magento_options))
    app = create_app({**settings, "AUTO_MIGRATE": False, "RULES_DIR": str(rules),
                      "TILLBRIDGE_HEARTLAND_URL": f"{heartland.url}/api", "TILLBRIDGE_HEARTLAND_TOKEN": HEARTLAND_TOKEN,
                      "TILLBRIDGE_MAGENTO_URL": f"{magento.url}/rest", "TILLBRIDGE_MAGENTO_TOKEN": MAGENTO_TOKEN,
                      "MAGENTO_RATE_PER_SECOND": 0, "HEARTLAND_RATE_PER_SECOND": 0})
    sides = Sides(app.extensions["tillbridge"], heartland, magento)
    try:
        yield sides
        # Every request the backfill sent to Magento must be one Adobe's published schema accepts.
        from tests.connectors.magento_schema import schema_path, validate_request

        if schema_path().exists():
            problems = [f"{r['method']} {r['path']}: {problem}" for r in sides.requests(magento, "/rest")
                        for problem in validate_request(r["method"], r["path"], r["body"], r["query"])]
            assert not problems, "requests outside the Magento schema:\n" + "\n".join(problems[:10])
    finally:
        app.extensions["tillbridge"].store.dispose()
        heartland.stop()
        magento.stop()


@pytest.fixture
def sides(settings: dict[str, Any], tmp_path: Path) -> Iterator[Sides]:
    yield from _sides(settings, tmp_path)


@pytest.fixture
def msi_sides(settings: dict[str, Any], tmp_path: Path) -> Iterator[Sides]:
    yield from _sides(settings, tmp_path, msi=True)


@pytest.fixture
def msi_sides_without_web(settings: dict[str, Any], tmp_path: Path) -> Iterator[Sides]:
    yield from _sides(settings, tmp_path, msi=True, magento_sources=("downtown",))


@pytest.fixture
def empty_magento(settings: dict[str, Any], tmp_path: Path) -> Iterator[Sides]:
    yield from _sides(settings, tmp_path, magento_products=0)


def _adjust(sides: Sides, items: list[dict[str, Any]], qty: float) -> None:
    """Move Heartland stock of these items at the Downtown Store (a completed adjustment set)."""
    created = sides.heartland_api("POST", "inventory/adjustment_sets", json={
        "location_id": 100001, "adjustment_reason_id": 100003,
        "lines": [{"item_id": item["id"], "qty": qty} for item in items]})
    set_id = created["id"] if created else sides.heartland_api(
        "GET", "inventory/adjustment_sets", params={"sort[]": "-id", "per_page": 1})["results"][0]["id"]
    sides.heartland_api("PUT", f"inventory/adjustment_sets/{set_id}", json={"status": "complete"})


def _writes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["method"] in ("POST", "PUT") and r["path"].startswith("/rest/")]


def test_products_then_inventory_then_a_rerun_writes_nothing(sides: Sides) -> None:
    heartland_items = sides.items()
    assert len(heartland_items) == ITEMS
    in_magento = sides.magento_api("products", **{"searchCriteria[pageSize]": 500})["total_count"]
    seq = sides.last(sides.magento)

    products = sides.backfill("products")
    assert products.done == products.total == ITEMS and not products.interrupted
    assert products.counts["created"] == ITEMS - in_magento
    assert products.counts["created"] + products.counts["updated"] + products.counts["unchanged"] == ITEMS
    writes = _writes(sides.requests(sides.magento, "/rest", seq))
    assert len(writes) == products.counts["created"] + products.counts["updated"]
    assert all(w["path"].startswith("/rest/all/V1/products") for w in writes)  # global scope, as the flow writes
    # Magento holds every Heartland item, bound for the products flow's later events and polls.
    for item in heartland_items:
        product = sides.magento_api(f"products/{item['public_id']}")
        assert product["name"] == item["description"]
        binding = bindings.find(sides.runtime.store, "product", f"heartland:{item['id']}", "magento")
        assert binding is not None and binding.external_ref == item["public_id"]
        assert binding.data["written"]["sku"] == item["public_id"]
        assert binding.source_version == item["updated_at"]
    # The products flow sees them as in step: an event for one is ignored without a Magento write.
    from service.engine.trace import Trace

    flow = sides.runtime.flow("products")
    outcome = flow.run(SyncItem(id=0, payload={"id": heartland_items[-1]["id"]}), Trace())
    assert outcome.state == "ignored" and "no changes" in outcome.reason

    # Single source: a created product carries its opening stock in its create, no second write.
    def available() -> dict[int, float]:
        rows = sides.heartland_api("GET", "inventory/values", params={"group[]": "item_id", "per_page": 500})
        return {row["item_id"]: float(row["qty_available"]) for row in rows["results"]}

    opening = available()
    creates = {w["body"]["product"]["sku"]: w["body"]["product"] for w in writes if w["method"] == "POST"}
    assert len(creates) == products.counts["created"]
    for item in heartland_items:
        if item["public_id"] in creates:
            stock_item = creates[item["public_id"]]["extension_attributes"]["stock_item"]
            assert stock_item == {"qty": opening.get(item["id"], 0.0), "is_in_stock": opening.get(item["id"], 0.0) > 0}

    # Stock moves in Heartland for three items: the stock backfill writes those three, nothing else.
    moved = heartland_items[2:5]
    _adjust(sides, moved, 4)
    seq = sides.last(sides.magento)
    stock = sides.backfill("inventory")
    assert stock.done == ITEMS and stock.counts == {"updated": 3, "unchanged": ITEMS - 3}
    stock_writes = _writes(sides.requests(sides.magento, "/rest", seq))
    assert sorted(w["path"].split("/products/")[1].split("/")[0] for w in stock_writes) == \
        sorted(item["public_id"] for item in moved)
    assert all("/stockItems/" in w["path"] for w in stock_writes)
    levels = available()
    for item in heartland_items[::7] + moved:
        assert float(sides.magento_api(f"stockItems/{item['public_id']}")["qty"]) == levels.get(item["id"], 0.0)

    # Again: everything is in step, so nothing is written; products cost no Magento read at all.
    seq = sides.last(sides.magento)
    again = sides.backfill("products")
    assert again.counts == {"unchanged": ITEMS}
    assert sides.requests(sides.magento, "/rest", seq) == []
    again_stock = sides.backfill("inventory")
    assert again_stock.counts == {"unchanged": ITEMS}
    reads = sides.requests(sides.magento, "/rest", seq)
    assert not _writes(reads) and len(reads) == ITEMS // 20  # one bulk read per page of 20


def test_interrupted_run_resumes_after_the_last_finished_page(sides: Sides) -> None:
    heartland_items = sides.items()
    pages_seen: list[int] = []

    def stop_after_two_pages(summary: Summary) -> None:
        pages_seen.append(summary.pages)
        if summary.pages == 2:
            raise KeyboardInterrupt

    first = Backfill(sides.runtime, "products", page_size=20, on_page=stop_after_two_pages).run()
    assert first.interrupted and first.done == 40 and first.last_id == heartland_items[39]["id"]
    assert any("resume" in line for line in first.lines())
    row = backfills.get(sides.runtime.store, "products")
    assert row is not None and row.finished_at is None and row.last_id == heartland_items[39]["id"]

    # A crash in the middle of the third page: five of its records are written and bound, the page is not done.
    written_mid_page: list[int] = []
    third = Backfill(sides.runtime, "products", page_size=20, concurrency=1)
    original = third._write_product

    def write_then_die(work: Any) -> Any:
        result = original(work)
        written_mid_page.append(work[0].heartland_id)
        if len(written_mid_page) == 5:
            raise RuntimeError("process died")
        return result

    third._write_product = write_then_die  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        third.run()
    assert len(written_mid_page) == 5
    row = backfills.get(sides.runtime.store, "products")
    assert row is not None and row.last_id == heartland_items[39]["id"]  # the crashed page is not counted

    seq_h, seq_m = sides.last(sides.heartland), sides.last(sides.magento)
    rest = Backfill(sides.runtime, "products", page_size=20).run()
    assert rest.resumed_after == heartland_items[39]["id"] and not rest.interrupted
    assert rest.done == ITEMS and rest.total == ITEMS and rest.handled == 20
    assert rest.counts["unchanged"] >= len(written_mid_page)  # bound before the crash: not written again
    pages = [r for r in sides.requests(sides.heartland, "/api/items", seq_h) if "per_page=20" in r["query"]]
    # The resumed scan starts after the last finished page (then finds the end); no earlier page is read.
    assert len(pages) == 2
    assert all(f"%22%24gt%22%3A{heartland_items[i]['id']}%7D" in p["query"] for i, p in zip((39, 59), pages, strict=True))
    # Every SKU was created exactly once over the three runs.
    creates = [w["body"]["product"]["sku"] for w in _writes(sides.requests(sides.magento, "/rest"))
               if w["method"] == "POST"]
    assert len(creates) == len(set(creates))
    sku_of = {i["id"]: i["public_id"] for i in heartland_items}
    resumed_writes = {w["body"]["product"]["sku"] for w in _writes(sides.requests(sides.magento, "/rest", seq_m))}
    assert resumed_writes and not resumed_writes & {sku_of[i] for i in written_mid_page}
    row = backfills.get(sides.runtime.store, "products")
    assert row is not None and row.finished_at is not None
    assert sum(row.counts.values()) == ITEMS  # outcomes over the interrupted and the resumed invocations
    with pytest.raises(BackfillError):
        Backfill(sides.runtime, "products", since="yesterday").run()


def test_since_limits_the_run_and_dry_run_writes_nothing(sides: Sides) -> None:
    assert sides.backfill("products").counts["created"] > 0
    heartland_items = sides.items()
    changed = heartland_items[5:8]
    for item in changed:
        sides.heartland_api("PUT", f"items/{item['id']}", json={"price": float(item["price"]) + 3})
    since = "2026-10-01"  # after the seed's timestamps, before the edits above (the sandbox clock is real time)

    seq = sides.last(sides.magento)
    dry = sides.backfill("products", since=since, dry_run=True)
    assert dry.total == 3 and dry.counts == {"updated": 3} and dry.dry_run
    assert not _writes(sides.requests(sides.magento, "/rest", seq))

    run = sides.backfill("products", since=since)
    assert run.total == 3 and run.counts == {"updated": 3}
    for item in changed:
        assert sides.magento_api(f"products/{item['public_id']}")["price"] == pytest.approx(float(item["price"]) + 3)
    assert len(_writes(sides.requests(sides.magento, "/rest", seq))) == 3

    # Inventory --since: the items whose stock moved since then (Heartland's ledger), not every item.
    _adjust(sides, heartland_items[20:22], -1)
    stock = sides.backfill("inventory", since=datetime.now(UTC).date().isoformat())
    assert stock.total == 2 and stock.counts == {"updated": 2}


def test_msi_writes_source_items_of_many_skus_per_call(msi_sides: Sides) -> None:
    sides = msi_sides
    sides.backfill("products")
    seq = sides.last(sides.magento)
    run = sides.backfill("inventory", page_size=60)
    assert run.counts["updated"] == ITEMS
    posts = [w for w in _writes(sides.requests(sides.magento, "/rest", seq))
             if w["path"].endswith("/inventory/source-items")]
    # Two sources per SKU, 25 source items a call (msi_batch_size): 120 rows in 5 calls, never one call per SKU.
    assert [len(p["body"]["sourceItems"]) for p in posts] == [24, 24, 24, 24, 24]
    assert len(_writes(sides.requests(sides.magento, "/rest", seq))) == len(posts)
    item = sides.items()[3]
    rows = sides.heartland_api("GET", "inventory/values", params={
        "group[]": ["item_id", "location_id"], "per_page": 500,
        "_filter": f'{{"item_id":{item["id"]}}}'})["results"]
    downtown = sum(r["qty_available"] for r in rows if r["location_id"] in (100001, 100002))
    found = sides.magento_api("inventory/source-items", **{
        "searchCriteria[filter_groups][0][filters][0][field]": "sku",
        "searchCriteria[filter_groups][0][filters][0][value]": item["public_id"]})["items"]
    assert {r["source_code"]: r["quantity"] for r in found}["downtown"] == downtown
    again = sides.backfill("inventory", page_size=60)
    assert again.counts == {"unchanged": ITEMS}


def test_a_refused_msi_batch_is_written_sku_by_sku_and_each_failure_kept(msi_sides_without_web: Sides) -> None:
    sides = msi_sides_without_web  # rules/inventory.yaml names source "web"; this Magento has no such source
    sides.backfill("products")
    seq = sides.last(sides.magento)

    def one_page(summary: Summary) -> None:
        raise KeyboardInterrupt

    run = Backfill(sides.runtime, "inventory", page_size=10, on_page=one_page).run()
    assert run.done == 10 and run.counts == {"dead": 10}
    posts = _writes(sides.requests(sides.magento, "/rest", seq))
    assert [len(p["body"]["sourceItems"]) for p in posts] == [20] + [2] * 10  # the batch, then SKU by SKU
    with sides.runtime.store.session() as s:
        letters = s.query(DeadLetter).filter(DeadLetter.flow == "inventory").all()
        assert len(letters) == 10 and all('Source with code "web" does not exist' in letter.error for letter in letters)
        assert {letter.payload["item_id"] for letter in letters} == {i["id"] for i in sides.items()[:10]}


def test_a_bad_record_ends_classified_and_the_rest_go_through(sides: Sides, tmp_path: Path) -> None:
    # The merchant maps a Heartland custom field to the weight; one item carries text there.
    template = tmp_path / "rules" / "mappings" / "products.heartland_to_magento.yaml"
    spec = yaml.safe_load(template.read_text())
    spec["fields"]["weight"] = {"first_of": ["custom.shipping_weight", "weight"], "transform": "float"}
    template.write_text(yaml.safe_dump(spec))
    heartland_items = sides.items()
    bad = heartland_items[50]  # not in Magento yet
    sides.heartland_api("PUT", f"items/{bad['id']}", json={"custom": {**bad["custom"], "shipping_weight": "n/a"}})
    run = sides.backfill("products")
    assert run.done == ITEMS
    assert run.counts["dead"] == 1 and run.counts["created"] + run.counts["updated"] + run.counts["unchanged"] == ITEMS - 1
    with sides.runtime.store.session() as s:
        item = s.query(SyncItem).filter(SyncItem.flow == "products").one()
        letter = s.query(DeadLetter).one()
        assert item.state == "dead" and item.payload == {"id": bad["id"]} and item.failure_class == "data"
        assert letter.item_id == item.id and letter.payload == {"id": bad["id"]} and letter.error
        assert s.query(Binding).filter(Binding.key == f"heartland:{bad['id']}").count() == 0
    assert any(outcome == "dead" and str(bad["public_id"]) in label for outcome, label, _ in run.problems)
    # Stock for a SKU Magento does not have goes to review, with the hint to backfill products first.
    stock = sides.backfill("inventory")
    assert stock.counts["review"] == 1
    with sides.runtime.store.session() as s:
        review = s.query(SyncItem).filter(SyncItem.flow == "inventory").one()
        assert review.state == "review" and review.payload == {"item_id": bad["id"]}
        assert "backfill products" in review.reason


def test_customers_go_through_the_customers_flow_and_a_rerun_skips_them(sides: Sides) -> None:
    customers = sides.heartland_api("GET", "customers", params={"per_page": 100})["results"]
    with_email = [c for c in customers if c.get("email")]
    assert with_email
    run = sides.backfill("customers", page_size=4)
    assert run.done == len(customers) and run.counts["created"] == len(with_email)
    for customer in with_email:
        found = sides.magento_api("customers/search", **{
            "searchCriteria[filter_groups][0][filters][0][field]": "email",
            "searchCriteria[filter_groups][0][filters][0][value]": customer["email"]})
        assert found["total_count"] == 1
    with sides.runtime.store.session() as s:
        ran = s.query(SyncItem).filter(SyncItem.flow == "customers").all()
        assert {i.state for i in ran} <= {"done", "ignored"} and all(i.label.endswith("(backfill)") for i in ran)
    seq = sides.last(sides.magento)
    again = sides.backfill("customers", page_size=4)
    assert again.counts["unchanged"] == len(with_email)
    assert not _writes(sides.requests(sides.magento, "/rest", seq))


def test_grid_items_go_through_the_products_flow_once_grids_are_mapped(sides: Sides, tmp_path: Path) -> None:
    grids = tmp_path / "rules" / "grids.yaml"
    spec = yaml.safe_load(grids.read_text()) if grids.exists() else {}
    spec["attributes"] = {"Color": {"magento": "color", "custom_field": "color"}}
    grids.write_text(yaml.safe_dump(spec))
    in_grids = {i["id"] for i in sides.items() if i.get("grid_id")}
    assert 0 < len(in_grids) < ITEMS
    run = sides.backfill("products")
    assert run.done == ITEMS and not run.counts.get("dead")
    with sides.runtime.store.session() as s:
        ran = {i.payload["id"]: i.state for i in s.query(SyncItem).filter(SyncItem.flow == "products")}
    assert set(ran) == in_grids and set(ran.values()) <= {"done", "ignored"}


def test_the_benchmark_runs_small(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}  # its own SQLite and Redis
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "backfill.py"), "--items", "60", "--baseline", "10",
                           "--page-size", "20"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = {line.split("  ")[0].strip(): line for line in done.stdout.splitlines() if " items/s " in line}
    # MSI: at most one source-items call per page of 20 SKUs, never a per-SKU write.
    batches = re.search(r"\[(\d+) source-items\]", lines["stock (msi)"])
    assert batches is not None and 1 <= int(batches.group(1)) <= 3, lines["stock (msi)"]
    assert "[60 stockItems PUT]" in lines["stock (single)"]
    assert "[no writes]" in lines["products re-run"] and "60 unchanged" in lines["products re-run"]
    assert "[no writes]" in lines["stock re-run"]
    assert "Magento  4.000 calls/item" in lines["baseline (flows)"]


def test_the_command_prints_a_summary_and_the_status(sides: Sides, settings: dict[str, Any], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from service.cli.main import main

    env = {k: v for k, v in as_environment(sides.runtime.settings).items()
           if k.startswith("TILLBRIDGE_") or k in ("DATABASE_URL", "REDIS_URL", "DATA_DIR", "RULES_DIR")}
    runner = CliRunner()
    dry = runner.invoke(main, ["backfill", "products", "--dry-run", "--page-size", "25"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "dry run, nothing written" in dry.output and f"{ITEMS - MAGENTO_PRODUCTS} created" in dry.output
    assert "\r" not in dry.output  # no progress line when the output is not a terminal
    assert bindings.count(sides.runtime.store, "product", "magento") == 0
    ran = runner.invoke(main, ["backfill", "products", "--page-size", "25"], env=env)
    assert ran.exit_code == 0, ran.output
    assert f"products: {ITEMS} of {ITEMS} records handled" in ran.output
    status = runner.invoke(main, ["backfill", "status"], env=env)
    assert f"products: {ITEMS}/{ITEMS} records, finished" in status.output
    bad = runner.invoke(main, ["backfill", "inventory", "--since", "last tuesday"], env=env)
    assert bad.exit_code != 0 and "is not a date" in bad.output


def test_an_unavailable_magento_stops_the_run_with_nothing_lost(sides: Sides) -> None:
    requests.post(f"{sides.magento.url}/__sandbox/faults", json={"outage_seconds": 30}, timeout=5).raise_for_status()
    stopped = sides.backfill("products")
    assert stopped.stopped and "503" in stopped.stopped and not stopped.counts
    assert any("run the same command again to resume" in line for line in stopped.lines())
    with sides.runtime.store.session() as s:
        assert s.query(SyncItem).count() == 0  # not one dead letter per record for an outage
    row = backfills.get(sides.runtime.store, "products")
    assert row is not None and row.last_id == 0 and row.finished_at is None
    requests.post(f"{sides.magento.url}/__sandbox/faults", json={}, timeout=5).raise_for_status()
    time.sleep(float(sides.runtime.settings.BREAKER_OPEN_SECONDS) + 0.2)  # the breaker lets calls through again
    again = sides.backfill("products")
    assert not again.stopped and again.done == ITEMS and not again.counts.get("dead")


@pytest.mark.parametrize("stop_signal", ["SIGINT", "SIGTERM"])
def test_ctrl_c_on_the_command_keeps_the_progress_and_the_next_command_resumes(sides: Sides, stop_signal: str) -> None:
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, **{k: v for k, v in as_environment(sides.runtime.settings).items()
                            if k.startswith("TILLBRIDGE_") or k.endswith("_URL") or k in ("DATA_DIR", "RULES_DIR")},
           "AUTO_MIGRATE": "0"}
    # Slow Magento down so the run is still writing when Ctrl-C arrives.
    requests.post(f"{sides.magento.url}/__sandbox/faults", json={"latency_ms": 250}, timeout=5).raise_for_status()
    # Ctrl-C as a terminal sends it: the default SIGINT disposition (a shell's background job ignores it).
    proc = subprocess.Popen([sys.executable, "-m", "service", "backfill", "products", "--page-size", "5"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 60
    while time.time() < deadline:
        row = backfills.get(sides.runtime.store, "products")
        if row is not None and row.pages >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(getattr(signal, stop_signal))
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, output
    assert "interrupted: run the same command again to resume" in output
    row = backfills.get(sides.runtime.store, "products")
    assert row is not None and row.finished_at is None and 2 <= row.pages < ITEMS // 5
    stopped_at = row.last_id
    requests.post(f"{sides.magento.url}/__sandbox/faults", json={}, timeout=5).raise_for_status()

    rest = sides.backfill("products", page_size=5)
    assert rest.resumed_after == stopped_at and rest.done == ITEMS and not rest.interrupted
    creates = [w["body"]["product"]["sku"] for w in _writes(sides.requests(sides.magento, "/rest"))
               if w["method"] == "POST"]
    assert len(creates) == len(set(creates)) == ITEMS - MAGENTO_PRODUCTS  # every new SKU created once


def test_the_progress_line_shows_on_a_terminal_only() -> None:
    import io

    from service.cli.backfill import ProgressLine

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    summary = Summary(resource="products", total=400, done=100)
    summary.counts["created"] = 100
    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        line = ProgressLine(stream)
        line(summary)
        line.close()
    assert pipe.getvalue() == ""
    shown = terminal.getvalue()
    assert shown.startswith("\rproducts [######------------------] 100/400  25%") and "/s  ETA " in shown
    assert shown.endswith("\n")


def test_stock_before_products_stops_at_once_instead_of_a_review_per_sku(empty_magento: Sides) -> None:
    sides = empty_magento
    run = sides.backfill("inventory")
    assert "backfill products first" in run.stopped and not run.counts and run.done == 0
    with sides.runtime.store.session() as s:
        assert s.query(SyncItem).count() == 0
    assert sides.backfill("products").counts == {"created": ITEMS}
    # Created with their opening stock: nothing left for the stock backfill, which resumes from the start.
    assert sides.backfill("inventory").counts == {"unchanged": ITEMS}


def test_gift_cards_are_opened_in_magento_through_the_gift_cards_flow_and_a_rerun_writes_nothing(sides: Sides) -> None:
    cards = sides.heartland_api("GET", "gift_cards", params={"per_page": 100})["results"]
    assert cards
    dry = sides.backfill("giftcards", dry_run=True)
    assert dry.counts["created"] == len(cards)
    run = sides.backfill("giftcards", page_size=10)
    assert run.done == len(cards) and run.counts["created"] == len(cards), run.lines()
    for card in cards:
        account = sides.magento_api(f"tillbridge/giftcards/{card['number']}")
        assert float(account["balance"]) == pytest.approx(float(card["balance"]))
    with sides.runtime.store.session() as s:
        ran = s.query(SyncItem).filter(SyncItem.flow == "giftcards").all()
        assert {i.state for i in ran} == {"done"} and all(i.label.endswith("(backfill)") for i in ran)
        # A card's number is a bearer credential: items carry its last four characters only.
        assert not [i for i in ran for c in cards if c["number"] in f"{i.label} {i.payload} {i.entity_key}"]
    seq = sides.last(sides.magento)
    again = sides.backfill("giftcards", page_size=10)
    assert again.counts["unchanged"] == len(cards), again.lines()
    assert not _writes(sides.requests(sides.magento, "/rest", seq))
