"""Inventory burst benchmark: Heartland stock changes → poller → RQ workers → Magento sandbox.

Starts both sandboxes and the web service in this process (over HTTP), the scheduler and N
workers as subprocesses (tests/stack.py), on the embedded Redis and a SQLite file (or REDIS_URL /
DATABASE_URL when set). Each round sends a burst of Heartland adjustment-set lines spread over
the SKUs, then waits until Magento shows Heartland's salable quantity for every SKU. Prints:

  changes/s absorbed   changes in the round / (last SKU in step in Magento − burst start)
  delay                per SKU, from its last change in Heartland to its last Magento stock write
                       (p50 / p95 over all SKUs and rounds)
  writes               Magento stock writes per round against changes per round (coalescing)

The delay is bounded below by INVENTORY_SETTLE_SECONDS (the wait that lets a burst coalesce) and
the poll interval; --settle 0 shows the raw pipeline and how many extra writes that costs.

    .venv/bin/python bench/inventory_burst.py [--changes 1000] [--skus 50] [--rounds 3] [--workers 2]
                                              [--poll-interval 0.5] [--settle 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.connectors.heartland.client import HeartlandClient  # noqa: E402
from tests.stack import HEARTLAND_TOKEN, Stack, build_stack  # noqa: E402

FIRST_ITEM = 100001
LOCATIONS = (100001, 100002, 100003)  # the demo seed's three stores, all selling in rules/inventory.yaml
REASON_RECOUNT = 100003


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def adjust(client: HeartlandClient, location_id: int, deltas: dict[int, float]) -> None:
    created = client.create("inventory/adjustment_sets", {
        "location_id": location_id, "adjustment_reason_id": REASON_RECOUNT,
        "lines": [{"item_id": item_id, "qty": qty} for item_id, qty in deltas.items()]})
    client.update(f"inventory/adjustment_sets/{created['id']}", {"status": "complete"})


def magento_writes(stack: Stack, since_seq: int) -> list[dict[str, Any]]:
    response = requests.get(f"{stack.magento.url}/__sandbox/requests",
                            params={"path": "/rest", "since": str(since_seq)}, timeout=30)
    # Single-source stores (the shipped rules/inventory.yaml): one PUT per SKU written.
    return [r for r in response.json()["requests"] if r["method"] == "PUT" and "/stockItems/" in r["path"]]


def last_seq(stack: Stack) -> int:
    return int(requests.get(f"{stack.magento.url}/__sandbox/requests", params={"path": "/nothing"},
                            timeout=10).json()["last"])


def in_step(stack: Stack, client: HeartlandClient, skus: dict[int, str]) -> bool:
    wanted = client.available_by_item(list(skus), LOCATIONS)
    for item_id, sku in skus.items():
        if float(stack.magento_get(f"stockItems/{sku}")["qty"]) != float(wanted[item_id]):
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=1000, help="stock changes per burst")
    parser.add_argument("--skus", type=int, default=50, help="distinct SKUs the burst touches")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--poll-interval", type=float, default=0.5, help="POLL_INTERVAL_SECONDS")
    parser.add_argument("--settle", type=float, default=2.0, help="INVENTORY_SETTLE_SECONDS")
    args = parser.parse_args()

    from service.app.embedded import embedded_redis_url
    from service.store.db import Store, database_url

    workdir = Path(tempfile.mkdtemp(prefix="tillbridge-inventory-bench-"))
    db = database_url(os.environ.get("DATABASE_URL", ""), str(workdir))
    store = Store(db)
    store.upgrade()
    store.dispose()
    settings = {"DATABASE_URL": db, "REDIS_URL": os.environ.get("REDIS_URL") or embedded_redis_url(str(workdir)),
                "DATA_DIR": str(workdir), "POLL_INTERVAL_SECONDS": args.poll_interval, "POLL_OVERLAP_SECONDS": 30,
                "INVENTORY_SETTLE_SECONDS": args.settle,
                "SCHEDULER_TICK_SECONDS": 0.2, "LOG_LEVEL": "WARNING"}
    stack = build_stack(settings, workdir)
    client = HeartlandClient(f"{stack.heartland.url}/api", HEARTLAND_TOKEN, rate_per_second=10_000)
    item_ids = list(range(FIRST_ITEM, FIRST_ITEM + args.skus))
    skus = {i: str(client.item(i)["public_id"]) for i in item_ids}
    lines_per_set = args.skus
    sets = max(1, args.changes // lines_per_set)
    absorbed: list[float] = []
    delays: list[float] = []
    writes_per_round: list[int] = []
    try:
        for n in range(args.workers):
            stack.start_worker(f"worker{n}")
        stack.start_scheduler()
        time.sleep(2.0)  # workers up and the first poll taken
        for round_no in range(args.rounds):
            seq = last_seq(stack)
            last_change: dict[int, float] = {}
            started = time.time()
            for n in range(sets):
                adjust(client, LOCATIONS[n % len(LOCATIONS)], {i: 1 + (n + round_no) % 3 for i in item_ids})
                now = time.time()
                for i in item_ids:
                    last_change[i] = now
            sent = time.time()
            deadline = sent + 120
            while not in_step(stack, client, skus):
                if time.time() > deadline:
                    raise SystemExit(f"round {round_no + 1}: Magento not in step after 120 s\n{stack.logs()}")
                time.sleep(0.1)
            writes = magento_writes(stack, seq)
            last_write: dict[str, float] = {}
            for w in writes:
                sku = w["path"].split("/products/", 1)[-1].split("/", 1)[0]
                last_write[sku] = max(last_write.get(sku, 0.0), float(w["at"]))
            finished = max(last_write.values()) if last_write else time.time()
            absorbed.append(sets * lines_per_set / (finished - started))
            delays += [last_write[skus[i]] - last_change[i] for i in item_ids if skus[i] in last_write]
            writes_per_round.append(len(writes))
            print(f"round {round_no + 1}: {sets * lines_per_set} changes sent in {sent - started:.2f} s, "
                  f"Magento in step {finished - started:.2f} s after the first, {len(writes)} Magento writes")
    finally:
        stack.stop()
    print(f"\nchanges/s absorbed: mean {sum(absorbed) / len(absorbed):.0f}, min {min(absorbed):.0f}")
    if delays:
        print(f"delay last change → Magento updated: p50 {percentile(delays, 50):.2f} s, "
              f"p95 {percentile(delays, 95):.2f} s (poll interval {args.poll_interval} s, settle {args.settle} s)")
    print(f"Magento stock writes per round: {writes_per_round} for {sets * lines_per_set} changes to {args.skus} SKUs")


if __name__ == "__main__":
    main()
