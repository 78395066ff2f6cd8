"""Ingest against a bare app: `POST /webhooks/magento` versus one insert and commit per request.

Starts, on one store (a SQLite file, or DATABASE_URL: a database ``<name>_ingest`` beside it)
and one Redis (REDIS_URL, else embedded), both served by gunicorn with the web service's settings
(service/app/webserver.py: gthread, ``--workers`` processes of 8 threads):

  tillbridge  `tillbridge web`: signature check, card screening, envelope validation, the event
              and its sync item committed, the item enqueued, 202
  bare        bench/bare_ingest.py: the body kept with one insert and one commit, 202

then sends the same signed Magento order events to each from ``--clients`` concurrent clients,
in alternating rounds (so both see the same machine), and prints requests/s and latency
percentiles of each, and the ratio. Every answer must be 202 and every event stored.

    .venv/bin/python bench/ingest.py [--events 2000] [--clients 16] [--rounds 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bare_ingest import events as bare_events  # noqa: E402
from bare_ingest import metadata as bare_metadata  # noqa: E402
from sandboxes import free_port, own_database  # noqa: E402
from sqlalchemy import delete, func, select  # noqa: E402

from service.app.processes import ProcessGroup  # noqa: E402
from service.kernel.signing import signed_headers  # noqa: E402
from service.store.db import Store, database_url  # noqa: E402
from service.store.tables import InboxEvent, SyncItem  # noqa: E402
from training.synthetic import generate_history  # noqa: E402

SECRET = secrets.token_urlsafe(32)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))]


def event_bodies(n: int) -> list[bytes]:
    orders = generate_history(n, seed=3).orders[:n]
    return [json.dumps({"event": "order.created", "occurred_at": "2026-11-27T10:00:00+00:00",
                        "store_code": "default", "data": {**order, "entity_id": 500_000 + i}}).encode()
            for i, order in enumerate(orders)]


def send_all(url: str, bodies: list[bytes], clients: int) -> tuple[float, list[float]]:
    """(requests per second, latencies in ms) of posting every body once, ``clients`` at a time."""
    local = threading.local()
    prepared = []
    for body in bodies:
        event_id = str(uuid.uuid4())
        prepared.append((body, signed_headers(SECRET, event_id, body)))
    latencies: list[float] = []
    lock = threading.Lock()

    def post(item: tuple[bytes, dict[str, str]]) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        body, headers = item
        t0 = time.perf_counter()
        response = session.post(url, data=body, headers=headers, timeout=60)
        elapsed = (time.perf_counter() - t0) * 1000
        if response.status_code != 202:
            raise SystemExit(f"{url} answered {response.status_code}: {response.text[:300]}")
        with lock:
            latencies.append(elapsed)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(post, prepared))
    return len(bodies) / (time.perf_counter() - started), latencies


def answering(url: str, timeout: float) -> None:
    """Until ``url`` answers at all (a loaded machine starts gunicorn's workers slowly)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not come up within {timeout:.0f} s") from None
            time.sleep(0.2)


def group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) used so far by the live processes of a process group (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the command: state, ppid, pgrp, …, utime (12), stime (13)
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000, help="events per app per round")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes of each app")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="tillbridge-ingest-"))
    env = dict(os.environ)
    configured = own_database(env["DATABASE_URL"], "ingest") if env.get("DATABASE_URL") else ""
    url = database_url(configured, str(workdir))
    from service.app.embedded import embedded_redis_url, stop_embedded_redis

    redis_url = env.get("REDIS_URL") or embedded_redis_url(str(workdir))
    store = Store(url)
    store.upgrade()
    bare_metadata.create_all(store.engine)
    with store.engine.begin() as conn:  # a database of the benchmark's own: start from empty tables
        conn.execute(delete(bare_events))
        conn.execute(delete(SyncItem))
        conn.execute(delete(InboxEvent))
    env.update({"DATA_DIR": str(workdir), "DATABASE_URL": url, "REDIS_URL": redis_url, "AUTO_MIGRATE": "0",
                "TILLBRIDGE_WEBHOOK_SECRET": SECRET, "SECRET_KEY": secrets.token_urlsafe(32),
                "TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN": secrets.token_urlsafe(32), "LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(ROOT)})
    ours_port, bare_port = free_port(), free_port()
    procs = ProcessGroup(workdir, env, cwd=ROOT)
    procs.start("web", "web", "--port", str(ours_port), "--workers", str(args.workers))
    procs.start("bare", argv=[sys.executable, str(ROOT / "bench" / "bare_ingest.py"), url, str(bare_port),
                              str(args.workers)])
    try:
        ours = f"http://127.0.0.1:{ours_port}/webhooks/magento"
        bare = f"http://127.0.0.1:{bare_port}/events"
        for url in (f"http://127.0.0.1:{ours_port}/healthz", f"http://127.0.0.1:{bare_port}/"):
            answering(url, timeout=120)
        bodies = event_bodies(args.events)
        send_all(ours, bodies[:50], args.clients)  # warm both up: connections, first requests
        send_all(bare, bodies[:50], args.clients)
        results: dict[str, tuple[list[float], list[float]]] = {"bare": ([], []), "tillbridge": ([], [])}
        cpu = {"bare": 0.0, "tillbridge": 0.0}
        pgids = {"tillbridge": procs.processes["web"].pid, "bare": procs.processes["bare"].pid}
        for round_no in range(args.rounds):
            for name, target in (("bare", bare), ("tillbridge", ours)):
                before = group_cpu_seconds(pgids[name])
                rate, latencies = send_all(target, bodies, args.clients)
                cpu[name] += group_cpu_seconds(pgids[name]) - before
                results[name][0].append(rate)
                results[name][1].extend(latencies)
                print(f"round {round_no + 1}: {name:<10} {rate:8.1f} requests/s", flush=True)
        with store.session() as s:
            stored_ours = s.scalar(select(func.count()).select_from(InboxEvent)) or 0
            stored_bare = s.scalar(select(func.count()).select_from(bare_events)) or 0
        sent = args.events * args.rounds + 50
        print()
        print(f"store {'sqlite' if store.is_sqlite else 'postgresql'}, {args.workers} gunicorn workers x 8 threads "
              f"each, {args.clients} clients, {args.events} events x {args.rounds} rounds")
        for name in ("bare", "tillbridge"):
            rates, latencies = results[name]
            print(f"{name:<10} {sum(rates) / len(rates):8.1f} requests/s   p50 {percentile(latencies, 50):6.1f} ms  "
                  f"p95 {percentile(latencies, 95):6.1f} ms  p99 {percentile(latencies, 99):6.1f} ms   "
                  f"server CPU {cpu[name] / len(latencies) * 1000:5.2f} ms/request")
        ratio = (sum(results["tillbridge"][0]) / len(results["tillbridge"][0])) / (
            sum(results["bare"][0]) / len(results["bare"][0]))
        print(f"ratio      {ratio:8.2f}x  (tillbridge / bare)")
        print(f"stored     tillbridge {stored_ours} of {sent} events, bare {stored_bare} of {sent}")
    finally:
        for problem in procs.stop(15):
            print(problem, file=sys.stderr)
        store.dispose()
        if not os.environ.get("REDIS_URL"):
            stop_embedded_redis()


if __name__ == "__main__":
    main()
