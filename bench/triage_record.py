"""Record the failure corpus of bench/triage.py from real runs: bench/data/triage_failures.jsonl.

Runs the real stack in this process (both sandboxes over HTTP, the web service, SQLite and the
embedded Redis; items run through the real pipeline one by one, no worker), and in each of
``--rounds`` rounds makes the failures a store meets, through the real flows:

  unknown SKU   web orders of products Magento sells and Heartland lacks: new web-only items
                (GIFT-…), old lowercase SKUs of a Heartland item (tee-1000-…), test products (TEST-…)
  outage        Heartland answers 503 (fault injection): the breaker opens, the item gives up waiting
  throttled     Heartland answers 429
  credentials   Heartland answers 401
  mapping       an activated mapping version reads the grand total from a field Magento lacks

Each failure is written as triage reads it (flow, class, message, HTTP status, answer, record) with
its time and the scenario. What the person then did is **not** observed here: it is drawn from a
fixed, seeded operator policy per scenario (``POLICY``, with its noise), because a sandbox has no
operator. The failures are real; the resolutions are a stated assumption.

    .venv/bin/python bench/triage_record.py [--rounds 12] [--out bench/data/triage_failures.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.settings.secrets import REQUIRED, generate, problem  # noqa: E402

for _name in REQUIRED:
    if problem(_name, os.environ.get(_name)) is not None:
        os.environ[_name] = generate()

from cryptography.fernet import Fernet  # noqa: E402

os.environ.setdefault("TILLBRIDGE_ENCRYPTION_KEY", Fernet.generate_key().decode())

from sqlalchemy import func, select  # noqa: E402

from service.app.embedded import embedded_redis_url, stop_embedded_redis  # noqa: E402
from service.operations import triage  # noqa: E402
from service.store import mappings as versions_store  # noqa: E402
from service.store.db import Store, database_url  # noqa: E402
from service.store.tables import DeadLetter, SyncItem  # noqa: E402

# scenario → [(what the person did, weight)]: the operator policy the resolutions are drawn from.
POLICY: dict[str, list[tuple[str, float]]] = {
    "unknown_sku_new_item": [("retry", 0.85), ("resolve", 0.15)],
    "unknown_sku_old_sku": [("apply_mapping_change", 0.8), ("retry", 0.2)],
    "unknown_sku_test_product": [("resolve", 0.9), ("retry", 0.1)],
    "outage": [("retry", 0.9), ("resolve", 0.1)],
    "throttled": [("retry", 0.95), ("resolve", 0.05)],
    "credentials": [("retry", 1.0)],
    "mapping": [("apply_mapping_change", 0.85), ("edit_payload", 0.15)],
}
FAST = {"RETRY_BASE_SECONDS": 0.05, "RETRY_CAP_SECONDS": 0.1, "BREAKER_OPEN_SECONDS": 0.5,
        "BREAKER_FAILURE_THRESHOLD": 2, "MAX_ATTEMPTS": 2, "WAIT_LIMIT_SECONDS": 0, "HTTP_TIMEOUT_SECONDS": 5.0,
        "JOB_TIMEOUT_SECONDS": 10, "LEASE_GRACE_SECONDS": 2, "LOCK_WAIT_SECONDS": 1.0}


def run_pending(stack: Any, limit_seconds: float = 20.0) -> None:
    """Run every item due, in this process, until none is left in received."""
    deadline = time.time() + limit_seconds
    with stack.app.app_context():
        while time.time() < deadline:
            with stack.runtime.store.session() as s:
                due = list(s.scalars(select(SyncItem.id).where(SyncItem.state == "received")))
            if not due:
                return
            for item_id in due:
                stack.runtime.pipeline.run_item(item_id)
            time.sleep(0.05)


def item_count(stack: Any) -> int:
    with stack.runtime.store.session() as s:
        return int(s.scalar(select(func.count(SyncItem.id))) or 0)


def record(stack: Any, scenario: str, rng: random.Random, seen: set[tuple[str, int]], at: int) -> list[dict[str, Any]]:
    """The failures made since the last call, as triage reads them, each with the person's action."""
    out = []
    with stack.runtime.store.session() as s:
        letters = list(s.scalars(select(DeadLetter).where(DeadLetter.resolved_at.is_(None))))
        reviews = [i for i in s.scalars(select(SyncItem).where(SyncItem.state == "review"))
                   if not (i.result or {}).get("review_id")]  # fraud holds are not failures
    details = triage._dead_letter_details(stack.runtime.store, [d.item_id for d in letters])
    failures = [("dead_letter", d.id, triage.letter_failure(d, details.get(d.item_id))) for d in letters]
    failures += [("review", i.id, triage.review_failure(i)) for i in reviews]
    for kind, source_id, failure in failures:
        if (kind, source_id) in seen:
            continue
        seen.add((kind, source_id))
        actions, weights = zip(*POLICY[scenario], strict=True)
        out.append({"at": at, "scenario": scenario, "kind": kind, "flow": failure.flow,
                    "failure_class": failure.failure_class, "message": failure.message, "status": failure.status,
                    "body": failure.body, "fields": failure.fields,
                    "person": rng.choices(actions, weights=weights)[0]})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--out", default=str(ROOT / "bench" / "data" / "triage_failures.jsonl"))
    args = parser.parse_args()
    from tests.stack import build_stack

    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="triage-record-"))
    url = database_url("", str(workdir))
    store = Store(url)
    store.upgrade()
    store.dispose()
    settings = {"DATABASE_URL": url, "REDIS_URL": embedded_redis_url(str(workdir / "redis")),
                "DATA_DIR": str(workdir), **FAST}
    stack = build_stack(settings, workdir)
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    at = 0
    try:
        def step(scenario: str, make: Any, faults: dict[str, Any] | None = None) -> None:
            nonlocal at
            if faults:
                stack.faults(stack.heartland, **faults)
            before = item_count(stack)
            make()
            # The Magento sandbox sends its event on its own thread: wait for the item it makes.
            deadline = time.time() + 10
            while item_count(stack) <= before and time.time() < deadline:
                time.sleep(0.05)
            run_pending(stack)
            if faults:
                stack.faults(stack.heartland)
                stack.runtime.redis.flushdb()  # breakers closed again for the next scenario
            at += 1
            rows.extend(record(stack, scenario, rng, seen, at))

        def order(sku: str) -> Any:
            email = f"shopper{rng.randrange(10**6)}@example.com"  # one shopper an order, as in a real store
            return lambda: stack.checkout([{"sku": sku, "qty": 1 + rng.randrange(3)}], email=email)

        def product(sku: str) -> None:
            stack.magento_post("products", {"product": {
                "sku": sku, "name": f"Product {sku}", "price": 9.5, "attribute_set_id": 4, "type_id": "simple",
                "status": 1, "visibility": 4,
                "extension_attributes": {"stock_item": {"qty": 1000, "is_in_stock": True}}}})

        bad_total = triage_bad_mapping(stack)
        for r in range(args.rounds):
            plan: list[tuple[str, Any, dict[str, Any] | None]] = []
            for n in range(rng.randint(1, 3)):
                sku = f"GIFT-{r}{n}{rng.randrange(100)}"
                product(sku)
                plan.append(("unknown_sku_new_item", order(sku), None))
            for n in range(rng.randint(1, 2)):
                sku = f"{rng.choice(['tee', 'mug', 'cap'])}-100{rng.randrange(6)}-{r}{n}"
                product(sku)
                plan.append(("unknown_sku_old_sku", order(sku), None))
            if rng.random() < 0.6:
                sku = f"TEST-{r}{rng.randrange(1000)}"
                product(sku)
                plan.append(("unknown_sku_test_product", order(sku), None))
            plan += [("outage", order("TEE-1000"), {"error_rate": 1.0, "status": 503})
                     for _ in range(rng.randint(0, 2))]
            plan += [("throttled", order("MUG-1003"), {"error_rate": 1.0, "status": 429})
                     for _ in range(rng.randint(0, 2))]
            if rng.random() < 0.4:
                plan.append(("credentials", order("CAP-1002"), {"error_rate": 1.0, "status": 401}))
            if rng.random() < 0.5:
                plan.append(("mapping", bad_total(order("BAG-1004")), None))
            rng.shuffle(plan)
            for scenario, make, faults in plan:
                step(scenario, make, faults)
            print(f"round {r + 1}/{args.rounds}: {len(rows)} failures", flush=True)
    finally:
        stack.stop()
        stop_embedded_redis()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w") as fh:
        for row in rows:
            fh.write(json.dumps(row, sort_keys=True, default=str) + "\n")
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["scenario"]] = counts.get(row["scenario"], 0) + 1
    print(f"wrote {len(rows)} failures to {args.out}: {counts}")


def triage_bad_mapping(stack: Any) -> Any:
    """Wrap an order so it runs under a mapping version that reads the grand total from a missing
    field (a mistake made on the mapping page), then the file's mapping again."""
    template = "orders.magento_to_canonical"

    def wrap(make: Any) -> Any:
        def run() -> None:
            from service.flows.templates import current_spec, file_version

            spec, _ = current_spec(stack.runtime, template)
            spec["fields"]["grand_total"] = {"path": "base_grand_total_incl_fees", "transform": "money",
                                             "required": True}
            version = versions_store.save(stack.runtime.store, template, spec, created_by="bench",
                                          floor=file_version(stack.runtime.rules, template))
            versions_store.activate(stack.runtime.store, template, version.version, by="bench")
            make()
            run_pending(stack)
            versions_store.deactivate(stack.runtime.store, template)

        return run

    return wrap


if __name__ == "__main__":
    main()
