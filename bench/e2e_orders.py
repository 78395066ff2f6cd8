"""End-to-end orders benchmark: Magento events → ingest → RQ workers → Heartland sandbox.

Starts the Heartland and Magento sandboxes, the web service (gunicorn), the scheduler and N
workers as separate processes on the embedded defaults (or REDIS_URL / DATABASE_URL when set),
places the sample orders in the Magento sandbox, then:

  baseline   the same Heartland calls made directly in a loop (create with lines, deposit, open)
  tillbridge signed events posted to ingest; timed until every order is done in the store

and prints orders/s, end-to-end latency percentiles and the ratio. No latency is injected.

    .venv/bin/python bench/e2e_orders.py [--orders 2000] [--workers 4] [--senders 8]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from counted import reset_counts, settle_counts  # noqa: E402
from sandboxes import free_port, own_database, wait_up  # noqa: E402

from service.app.processes import ProcessGroup  # noqa: E402
from service.kernel.signing import signed_headers  # noqa: E402
from service.sandbox.seed import generate  # noqa: E402

SECRET = secrets.token_urlsafe(32)  # web, worker and scheduler refuse short or published secrets
HL_TOKEN = "bench-heartland"
MG_TOKEN = "bench-magento"


def cpu_ticks() -> dict[str, int]:
    """CPU ticks (user + system) used so far by every live process, by process group (``pg:<id>``)
    and by process id (``pid:<id>``), from Linux /proc."""
    ticks: Counter[str] = Counter()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # state, ppid, pgrp, …, utime (12th), stime (13th)
        except OSError:
            continue
        used = int(fields[11]) + int(fields[12])
        ticks[f"pg:{fields[2]}"] += used
        ticks[f"pid:{stat.parent.name}"] = used
    return dict(ticks)


def wait_for_first_sweep(store: Any, timeout: float = 300) -> None:
    """Until the scheduler's first sweep has run its daily duties: the reconciliation, then the stock
    forecasts (their run recorded done or failed). Not the orders' cost, they would otherwise share
    the timed window's CPU."""
    from sqlalchemy import func, select

    from service.store.forecast_tables import ForecastRun

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with store.session() as s:
            if s.scalar(select(func.count()).select_from(ForecastRun).where(ForecastRun.state != "running")):
                print(f"scheduler's first sweep (reconciliation, stock forecasts) done after "
                      f"{time.monotonic() - started:.0f} s", flush=True)
                return
        time.sleep(0.5)
    print(f"no stock forecast run finished within {timeout:.0f} s; timing anyway", flush=True)


def wait_until_idle(pgid: int, what: str, *, busy_share: float = 0.1, timeout: float = 300) -> None:
    """Until a process group uses under ``busy_share`` of a core for a whole second."""
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    started = time.monotonic()
    last = cpu_ticks().get(f"pg:{pgid}", 0)
    while time.monotonic() - started < timeout:
        time.sleep(1.0)
        now = cpu_ticks().get(f"pg:{pgid}", 0)
        if now - last < busy_share * ticks_per_second:
            print(f"{what} idle after {time.monotonic() - started:.0f} s", flush=True)
            return
        last = now
    print(f"{what} still busy after {timeout:.0f} s; timing anyway", flush=True)


def server_pids(redis_url: str, database_url: str) -> dict[str, list[int]]:
    """The Redis server's process and the PostgreSQL backends serving the benchmark's database (a
    server shared with others is counted only for our connections; Redis is counted whole)."""
    from redis import Redis

    pids = {"redis server": [int(Redis.from_url(redis_url).info("server")["process_id"])]}
    if database_url.startswith("postgresql"):
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        engine = create_engine(database_url)
        try:
            with engine.connect() as conn:
                pids["postgresql backends"] = list(conn.execute(
                    text("SELECT pid FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid()"),
                    {"db": make_url(database_url).database}).scalars())
        finally:
            engine.dispose()
    return pids


def cpu_per_order(before: dict[str, int], after: dict[str, int], groups: dict[str, list[int]],
                  servers: dict[str, list[int]], n: int) -> dict[str, float]:
    """CPU milliseconds per order by kind of process between two ``cpu_ticks`` snapshots (a process
    that exited in between is not counted)."""
    per_tick = 1000 / os.sysconf("SC_CLK_TCK") / max(1, n)

    def used(key: str) -> float:
        return (after.get(key, 0) - before.get(key, 0)) * per_tick

    out = {kind: sum(used(f"pg:{pgid}") for pgid in pgids) for kind, pgids in groups.items()}
    out.update({kind: sum(used(f"pid:{pid}") for pid in pids) for kind, pids in servers.items()})
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


class Processes(ProcessGroup):
    """The bench's processes (service/app/processes.py), started from the repository's root."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        super().__init__(workdir, env, cwd=ROOT)

    def start_counted(self, name: str, role: str, *args: str) -> subprocess.Popen[bytes]:
        """``tillbridge <args>`` as its own process, its database transactions counted under ``role``
        (bench/counted.py)."""
        return self.start(name, argv=[sys.executable, str(ROOT / "bench" / "counted.py"), self.env["REDIS_URL"],
                                      role, *args])

    def groups(self) -> dict[str, list[int]]:
        """Process group ids by kind (the name without its number: ``worker-0`` → ``worker``)."""
        kinds: dict[str, list[int]] = {}
        for name, proc in self.processes.items():
            kinds.setdefault(name.split("-")[0], []).append(proc.pid)  # each started in a session of its own
        return kinds


def wait_for_workers(redis_url: str, count: int, timeout: float = 120) -> None:
    """Until every worker has loaded its models and registered with RQ, so none of the timing is start-up."""
    from redis import Redis
    from rq import Worker

    redis = Redis.from_url(redis_url)
    deadline = time.time() + timeout
    while Worker.count(connection=redis) < count:
        if time.time() > deadline:
            raise SystemExit(f"only {Worker.count(connection=redis)} of {count} workers started")
        time.sleep(0.2)


def place_orders(magento: str, n: int) -> list[dict[str, Any]]:
    seed = generate("demo")
    rng = random.Random(11)
    session = requests.Session()
    orders = []
    for i in range(n):
        # One order per shopper, as a day of web traffic looks: the seeded customers first, then
        # guests. (Many orders from one email within minutes is a velocity burst the anomaly check
        # rightly holds for review.)
        email = seed.customers[i].email if i < len(seed.customers) else f"shopper{i}@example.net"
        lines = [{"sku": p.sku, "qty": rng.randint(1, 2)} for p in rng.sample(seed.products[:200], rng.randint(1, 3))]
        r = session.post(f"{magento}/__sandbox/checkout", json={"customer_email": email, "items": lines,
                                                                "payment_method": "checkmo"}, timeout=10)
        r.raise_for_status()
        orders.append(r.json())
    return orders


def request_log_position(sandbox: str) -> int:
    return int(requests.get(f"{sandbox}/__sandbox/requests", params={"since": str(1 << 62)}, timeout=30).json()["last"])


def calls_since(sandbox: str, since: int, prefix: str) -> Counter[str]:
    """The API calls a sandbox answered after ``since``, by method and path (ids shown as {id})."""
    rows = requests.get(f"{sandbox}/__sandbox/requests", params={"since": str(since), "path": prefix},
                        timeout=120).json()["requests"]
    return Counter(f"{r['method']} {re.sub(r'/[0-9]+(?=/|$)', '/{id}', r['path'])}" for r in rows)


def count_heartland_orders(heartland: str) -> int:
    response = requests.get(f"{heartland}/api/sales/orders", params={"per_page": 1},
                            headers={"Authorization": f"Bearer {HL_TOKEN}"}, timeout=10)
    return int(response.json()["total"])


def baseline(heartland: str, orders: list[dict[str, Any]]) -> float:
    """Orders/s creating the same orders with direct Heartland calls in one loop."""
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {HL_TOKEN}"
    api = f"{heartland}/api"
    location = s.get(f"{api}/locations").json()["results"][0]["id"]
    station = s.get(f"{api}/locations/{location}/stations").json()["results"][0]["id"]
    ptype = s.get(f"{api}/payment_types").json()["results"][0]["id"]
    skus = sorted({i["sku"] for o in orders for i in o["items"]})
    items: dict[str, int] = {}
    for chunk in range(0, len(skus), 100):
        flt = json.dumps({"public_id": {"$in": skus[chunk:chunk + 100]}})
        for row in s.get(f"{api}/items", params={"_filter": flt, "per_page": "500"}).json()["results"]:
            items[row["public_id"]] = row["id"]
    customer = s.get(f"{api}/customers", params={"per_page": 1}).json()["results"][0]["id"]
    started = time.perf_counter()
    for o in orders:
        body = {"customer_id": customer, "station_id": station, "source_location_id": location,
                "shipping_charge": o.get("shipping_amount", 0),
                "lines": [{"item_id": items[i["sku"]], "qty": i["qty_ordered"], "adjusted_unit_price": i["price"]}
                          for i in o["items"]]}
        r = s.post(f"{api}/sales/orders", json=body)
        order_id = int(r.headers["Location"].rstrip("/").rsplit("/", 1)[1])
        s.post(f"{api}/sales/orders/{order_id}/payments", json={"type": "ExternalPayment", "deposit": True,
                                                                 "amount": o["grand_total"], "payment_type_id": ptype})
        s.put(f"{api}/sales/orders/{order_id}", json={"status": "open"})
    return len(orders) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--senders", type=int, default=8, help="concurrent event senders (the shop's outbox)")
    parser.add_argument("--poll-interval", type=float, default=0.0,
                        help="POLL_INTERVAL_SECONDS (default 0: off). The orders are all placed before their "
                             "events are sent, a gap a real shop's outbox does not leave, so a poll would find "
                             "most of them first; with it on, each order counts once, by whichever item synced it")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="events per second to send (0: as fast as the senders go, a burst)")
    parser.add_argument("--flush-redis", action="store_true",
                        help="empty the Redis database of REDIS_URL first (a run finds another run's dedup index, "
                             "locks and queue there otherwise)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="tillbridge-bench-"))
    hl_port, mg_port, web_port = free_port(), free_port(), free_port()
    env = dict(os.environ)
    env.update({"DATA_DIR": str(workdir), "TILLBRIDGE_WEBHOOK_SECRET": SECRET,
                "SECRET_KEY": secrets.token_urlsafe(32), "TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN": secrets.token_urlsafe(32),
                "TILLBRIDGE_HEARTLAND_URL": f"http://127.0.0.1:{hl_port}/api", "TILLBRIDGE_HEARTLAND_TOKEN": HL_TOKEN,
                "TILLBRIDGE_MAGENTO_URL": f"http://127.0.0.1:{mg_port}/rest", "TILLBRIDGE_MAGENTO_TOKEN": MG_TOKEN,
                "HEARTLAND_RATE_PER_SECOND": "0", "MAGENTO_RATE_PER_SECOND": "0", "LOG_LEVEL": "WARNING",
                "POLL_INTERVAL_SECONDS": str(args.poll_interval)})
    from service.app.embedded import embedded_redis_url
    from service.store.db import Store, database_url

    if not env.get("REDIS_URL"):
        env["REDIS_URL"] = embedded_redis_url(str(workdir))
    else:
        from redis import Redis

        redis = Redis.from_url(env["REDIS_URL"])
        if args.flush_redis:
            redis.flushdb()
        elif redis.dbsize():
            raise SystemExit(f"{env['REDIS_URL']} holds {redis.dbsize()} keys (another run's dedup index, locks, "
                             "queue): point REDIS_URL at an empty database or pass --flush-redis")
    # On PostgreSQL, a database of the benchmark's own beside the configured one, emptied first.
    configured = own_database(env["DATABASE_URL"], "e2e_orders") if env.get("DATABASE_URL") else ""
    env["DATABASE_URL"] = database_url(configured, str(workdir))
    store = Store(env["DATABASE_URL"])
    store.upgrade()
    if not store.is_sqlite:
        from sqlalchemy import text

        from service.store.tables import Base

        with store.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(t.name for t in Base.metadata.sorted_tables)} "
                              "RESTART IDENTITY CASCADE"))
    env["AUTO_MIGRATE"] = "0"
    procs = Processes(workdir, env)
    try:
        procs.start("heartland", "sandbox", "heartland", "--port", str(hl_port), "--seed", "demo", "--token", HL_TOKEN)
        procs.start("magento", "sandbox", "magento", "--port", str(mg_port), "--seed", "demo", "--token", MG_TOKEN)
        procs.start_counted("web", "web", "web", "--port", str(web_port), "--workers", "2")
        heartland, magento, web = (f"http://127.0.0.1:{p}" for p in (hl_port, mg_port, web_port))
        for url in (f"{heartland}/__sandbox/faults", f"{magento}/__sandbox/faults", f"{web}/healthz"):
            wait_up(url, timeout=60)
        print(f"placing {args.orders} orders in the Magento sandbox…", flush=True)
        orders = place_orders(magento, args.orders)

        direct_before, direct_bench_before = cpu_ticks(), os.times()
        direct = baseline(heartland, orders)
        direct_cpu = cpu_per_order(direct_before, cpu_ticks(), {"heartland": procs.groups()["heartland"]}, {},
                                   len(orders))["heartland"]
        direct_bench_after = os.times()
        direct_client = ((direct_bench_after.user + direct_bench_after.system)
                         - (direct_bench_before.user + direct_bench_before.system)) * 1000 / max(1, len(orders))
        requests.post(f"{heartland}/__sandbox/reset", timeout=30).raise_for_status()
        seeded_orders = count_heartland_orders(heartland)

        for n in range(args.workers):
            procs.start_counted(f"worker-{n}", "worker", "worker", "--name", f"bench-{n}-{uuid.uuid4().hex[:4]}")
        procs.start_counted("scheduler", "scheduler", "scheduler")
        wait_for_workers(env["REDIS_URL"], args.workers)
        wait_for_first_sweep(store)
        wait_until_idle(procs.groups()["scheduler"][0], "scheduler")
        settle_counts(env["REDIS_URL"])
        reset_counts(env["REDIS_URL"])
        hl_from, mg_from = request_log_position(heartland), request_log_position(magento)

        sent_at: dict[str, float] = {}
        ingest_ms: list[float] = []
        lock = threading.Lock()
        session = requests.Session()

        def send(numbered: tuple[int, dict[str, Any]]) -> None:
            index, order = numbered
            if args.rate > 0:  # paced arrivals: latency without a backlog in front of the workers
                time.sleep(max(0.0, t_start + index / args.rate - time.time()))
            event_id = str(uuid.uuid4())
            body = json.dumps({"event": "order.created", "occurred_at": "2026-11-27T10:00:00+00:00",
                               "store_code": "default", "data": order}).encode()
            t0 = time.time()
            r = session.post(f"{web}/webhooks/magento", data=body, headers=signed_headers(SECRET, event_id, body),
                             timeout=30)
            elapsed = (time.time() - t0) * 1000
            if r.status_code != 202:
                raise SystemExit(f"ingest answered {r.status_code}: {r.text[:300]}")
            with lock:
                sent_at[event_id] = t0
                ingest_ms.append(elapsed)

        print(f"sending {len(orders)} events with {args.senders} senders to {args.workers} workers…", flush=True)
        cpu_before, bench_before = cpu_ticks(), os.times()
        t_start = time.time()
        with ThreadPoolExecutor(args.senders) as pool:
            list(pool.map(send, enumerate(orders)))
        t_sent = time.time()

        from sqlalchemy import func, select

        from service.store.tables import InboxEvent, SyncItem

        deadline = time.time() + max(120, args.orders / 5)
        while time.time() < deadline:
            with store.session() as s:
                pending = s.scalar(select(func.count()).select_from(SyncItem)
                                   .where(SyncItem.state.in_(["received", "processing"])))
            if not pending:
                break
            time.sleep(0.25)
        cpu_after, bench_after = cpu_ticks(), os.times()
        servers = server_pids(env["REDIS_URL"], env["DATABASE_URL"])
        with store.session() as s:
            sent_rows = s.execute(select(InboxEvent.event_id, SyncItem.entity_key)
                                  .join(SyncItem, SyncItem.inbox_event_id == InboxEvent.id)).all()
            item_rows = s.execute(select(SyncItem.entity_key, SyncItem.state, SyncItem.finished_at)
                                  .where(SyncItem.flow == "orders")).all()
        # Per order (entity key): when its event was sent, and when the first item that synced it
        # (the event's, or a poll's when polling is on) finished.
        sent_for: dict[str, float] = {key: sent_at[event_id] for event_id, key in sent_rows if event_id in sent_at}
        states: dict[str, int] = {}
        synced_at: dict[str, float] = {}
        for key, state, finished in item_rows:
            if key not in sent_for:
                continue  # rows of an earlier run in the same database
            states[state] = states.get(state, 0) + 1
            if state == "done" and finished is not None:
                synced_at[key] = min(synced_at.get(key, float("inf")), finished.timestamp())
        latencies = [(end - sent_for[key]) * 1000 for key, end in synced_at.items()]
        last_finish = max(synced_at.values(), default=t_start)
        total = time.time() - t_start if len(latencies) < len(orders) else last_finish - t_start
        throughput = len(latencies) / total if total > 0 else 0.0
        counts = settle_counts(env["REDIS_URL"])
        hl_calls = calls_since(heartland, hl_from, "/api")
        mg_calls = calls_since(magento, mg_from, "/rest")
        heartland_orders = count_heartland_orders(heartland) - seeded_orders

        print()
        print(f"orders                 {len(orders)}   (workers {args.workers}, senders {args.senders}, "
              f"{f'paced at {args.rate:g}/s' if args.rate else 'burst'}, "
              f"store {'sqlite' if env['DATABASE_URL'].startswith('sqlite') else 'postgresql'}, "
              f"redis {'embedded' if env['REDIS_URL'].startswith('unix') else 'server'})")
        print(f"states                 {states}")
        print(f"heartland orders       {heartland_orders} created for {len(synced_at)} synced orders  "
              f"(duplicates: {heartland_orders - len(synced_at)})")
        print(f"ingest                 {len(orders) / (t_sent - t_start):8.1f} events/s   "
              f"p50 {percentile(ingest_ms, 50):6.1f} ms  p99 {percentile(ingest_ms, 99):6.1f} ms")
        print(f"tillbridge end to end  {throughput:8.1f} orders/s")
        if latencies:
            print(f"  latency              p50 {percentile(latencies, 50):7.0f} ms  p95 {percentile(latencies, 95):7.0f} ms"
                  f"  p99 {percentile(latencies, 99):7.0f} ms  mean {statistics.mean(latencies):7.0f} ms")
        print(f"direct heartland loop  {direct:8.1f} orders/s  (same orders, 3 calls each, one thread; "
              f"cpu {direct_client + direct_cpu:.1f} ms/order: client {direct_client:.1f}, heartland {direct_cpu:.1f})")
        print(f"ratio                  {throughput / direct:8.2f}x  (tillbridge / direct)")
        n = max(1, len(orders))
        print(f"heartland calls/order  {sum(hl_calls.values()) / n:8.2f}   "
              + ", ".join(f"{k} {v / n:.2f}" for k, v in hl_calls.most_common()))
        print(f"magento calls/order    {sum(mg_calls.values()) / n:8.2f}   "
              + ", ".join(f"{k} {v / n:.2f}" for k, v in mg_calls.most_common()))
        for role in ("web", "worker", "scheduler"):
            print(f"db per order, {role:<9} {counts.get(f'{role}:begin', 0) / n:8.2f} transactions  "
                  f"({counts.get(f'{role}:commit', 0) / n:.2f} commits, {counts.get(f'{role}:rollback', 0) / n:.2f} "
                  f"rollbacks, {counts.get(f'{role}:statement', 0) / n:.2f} statements)")
        total_tx = sum(counts.get(f"{role}:begin", 0) for role in ("web", "worker"))
        print(f"db per order, ingest + worker {total_tx / n:5.2f} transactions")
        cpu = cpu_per_order(cpu_before, cpu_after, procs.groups(), servers, len(synced_at))
        cpu["bench (senders, polling)"] = ((bench_after.user + bench_after.system)
                                           - (bench_before.user + bench_before.system)) * 1000 / max(1, len(synced_at))
        print(f"cpu per order          {sum(cpu.values()):8.1f} ms   "
              + ", ".join(f"{kind} {ms:.1f}" for kind, ms in sorted(cpu.items(), key=lambda kv: -kv[1])))
        print(f"                       (wall {total:.1f} s on {os.cpu_count()} cores: "
              f"{sum(cpu.values()) * len(synced_at) / 1000 / max(total, 1e-9) / (os.cpu_count() or 1):.0%} busy "
              "with the processes above)")
        # What the machine allows at best when every core is busy: all of it, and all but the worker's
        # share (the sandboxes, the web, the scheduler, Redis and the senders share the same cores).
        cores_ms = (os.cpu_count() or 1) * 1000
        others = sum(ms for kind, ms in cpu.items() if kind != "worker")
        print(f"ceiling on this machine {cores_ms / max(sum(cpu.values()), 1e-9):7.1f} orders/s with every core busy; "
              f"{cores_ms / max(others, 1e-9):.1f} orders/s ({cores_ms / max(others, 1e-9) / direct:.2f}x) "
              "if the worker cost nothing")
        # Tillbridge's own processes against the direct loop's own (its client): a comparison the
        # sandboxes and the database, which both pay, do not blur.
        own = sum(cpu.get(kind, 0.0) for kind in ("web", "worker", "scheduler"))
        print(f"tillbridge's own cpu   {own:8.1f} ms/order (web, worker, scheduler) against the direct loop's "
              f"client {direct_client:.1f}: {own / max(direct_client, 1e-9):.1f}x")
    finally:
        for problem in procs.stop(10):
            print(problem, file=sys.stderr)
        store.dispose()


if __name__ == "__main__":
    main()
