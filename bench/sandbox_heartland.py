"""How many requests per second the Heartland sandbox serves: GET an item, POST a sales order.

Runs the sandbox as its own process (``tillbridge sandbox heartland``) so the load generator does not
share its interpreter, then drives it from a few client threads for a fixed time per operation.

    .venv/bin/python bench/sandbox_heartland.py [--threads 4] [--seconds 5] [--in-process]
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
from collections.abc import Callable

import requests
from sandboxes import start_sandbox

TOKEN = "heartland-bench-token"


def start_subprocess() -> tuple[str, Callable[[], None]]:
    return start_sandbox("heartland", TOKEN)


def start_in_process() -> tuple[str, Callable[[], None]]:
    from service.sandbox.heartland.app import create_app
    from service.sandbox.server import start_in_thread

    running = start_in_thread(create_app(seed="demo", token=TOKEN))
    return running.url, running.stop


def drive(name: str, threads: int, seconds: float, make: Callable[[requests.Session, random.Random], int]) -> None:
    latencies: list[float] = []
    failures = 0
    guard = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker(n: int) -> None:
        nonlocal failures
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        rng = random.Random(n)
        mine: list[float] = []
        bad = 0
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            status = make(session, rng)
            mine.append(time.perf_counter() - started)
            bad += status >= 400
        with guard:
            latencies.extend(mine)
            failures += bad

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    began = time.monotonic()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.monotonic() - began
    ordered = sorted(latencies)
    p95 = ordered[int(len(ordered) * 0.95) - 1] if ordered else 0.0
    print(f"{name:<28} {len(latencies) / elapsed:8.0f} req/s   p50 {statistics.median(ordered) * 1000:6.2f} ms   "
          f"p95 {p95 * 1000:6.2f} ms   requests {len(latencies):6d}   errors {failures}")


def app_only(seconds: float) -> None:
    """The app's own cost per request (Flask test client, no sockets, one thread)."""
    from service.sandbox.heartland.app import create_app

    client = create_app(seed="demo", token=TOKEN).test_client()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    body = {"customer_id": 100001, "station_id": 100005, "source_location_id": 100003,
            "lines": [{"item_id": 100010, "qty": 1}]}
    cases: list[tuple[str, Callable[[], object]]] = [
        ("GET /api/items/{id}", lambda: client.get("/api/items/100005", headers=headers)),
        ("GET /api/items?~[public_id]=", lambda: client.get("/api/items?~[public_id]=TEE-1000", headers=headers)),
        ("POST /api/sales/orders", lambda: client.post("/api/sales/orders", json=body, headers=headers)),
    ]
    print(f"App only (Flask test client, 1 thread, {seconds:.0f} s per operation)")
    for name, call in cases:
        count = 0
        began = time.perf_counter()
        while time.perf_counter() - began < seconds:
            call()
            count += 1
        elapsed = time.perf_counter() - began
        print(f"{name:<28} {count / elapsed:8.0f} req/s   mean {elapsed / count * 1000:6.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--in-process", action="store_true", help="serve from a thread of this process instead")
    args = parser.parse_args()
    url, stop = start_in_process() if args.in_process else start_subprocess()
    api = f"{url}/api"
    try:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        warehouse = next(loc for loc in requests.get(f"{api}/locations", params={"_include[]": "stations"},
                                                     headers=headers, timeout=10).json()["results"]
                         if loc["public_id"] == "WH")
        customer = requests.get(f"{api}/customers", headers=headers, timeout=10).json()["results"][0]
        catalog = requests.get(f"{api}/items", params=[("per_page", "500"), ("_only[]", "id"), ("_only[]", "public_id")],
                               headers=headers, timeout=10).json()["results"]
        items = [i["id"] for i in catalog]
        skus = [i["public_id"] for i in catalog]

        def get_item(session: requests.Session, rng: random.Random) -> int:
            return session.get(f"{api}/items/{rng.choice(items)}", timeout=10).status_code

        def find_item(session: requests.Session, rng: random.Random) -> int:
            return session.get(f"{api}/items", params={"~[public_id]": rng.choice(skus)}, timeout=10).status_code

        def post_order(session: requests.Session, rng: random.Random) -> int:
            body = {"customer_id": customer["id"], "station_id": warehouse["stations"][0]["id"],
                    "source_location_id": warehouse["id"], "shipping_charge": 5.0,
                    "lines": [{"item_id": rng.choice(items), "qty": 1}]}
            return session.post(f"{api}/sales/orders", json=body, timeout=10).status_code

        mode = "in-process thread" if args.in_process else "separate process"
        print(f"Heartland sandbox ({mode}), {args.threads} client threads, {args.seconds:.0f} s per operation")
        drive("GET /api/items/{id}", args.threads, args.seconds, get_item)
        drive("GET /api/items?~[public_id]=", args.threads, args.seconds, find_item)
        drive("POST /api/sales/orders", args.threads, args.seconds, post_order)
    finally:
        stop()
    app_only(min(args.seconds, 3.0))


if __name__ == "__main__":
    main()
