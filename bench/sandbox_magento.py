"""How many requests per second the Magento sandbox serves, per operation and authentication.

Runs the sandbox as its own process (``tillbridge sandbox magento``) so the load generator does not
share its interpreter, then drives it from a few client threads for a fixed time per operation:
GET an order, search orders (a filtered page of 20), GET a product, place an order through the
checkout helper, add an order comment; GET an order once more with OAuth 1.0a signing.

    .venv/bin/python bench/sandbox_magento.py [--threads 4] [--seconds 4] [--in-process]
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
from collections.abc import Callable

import requests
from requests_oauthlib import OAuth1
from sandboxes import start_sandbox

TOKEN = "magento-bench-token"
OAUTH = OAuth1("tillbridge-consumer-key", "tillbridge-consumer-secret", TOKEN, "tillbridge-access-token-secret",
               signature_method="HMAC-SHA256")


def start_subprocess() -> tuple[str, Callable[[], None]]:
    return start_sandbox("magento", TOKEN)


def start_in_process() -> tuple[str, Callable[[], None]]:
    from service.sandbox.magento.app import create_app
    from service.sandbox.server import start_in_thread

    running = start_in_thread(create_app(seed="demo", token=TOKEN))
    return running.url, running.stop


Operation = Callable[[requests.Session, random.Random], requests.Response]


def operations(url: str) -> dict[str, Operation]:
    rest = f"{url}/rest/default/V1"
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    search = {"searchCriteria[filter_groups][0][filters][0][field]": "state",
              "searchCriteria[filter_groups][0][filters][0][value]": "complete",
              "searchCriteria[sortOrders][0][field]": "created_at",
              "searchCriteria[sortOrders][0][direction]": "DESC",
              "searchCriteria[pageSize]": 20}

    def get_order(s: requests.Session, rng: random.Random) -> requests.Response:
        return s.get(f"{rest}/orders/{rng.randint(1, 300)}", headers=bearer, timeout=10)

    def search_orders(s: requests.Session, rng: random.Random) -> requests.Response:
        return s.get(f"{rest}/orders", params={**search, "searchCriteria[currentPage]": rng.randint(1, 8)},
                     headers=bearer, timeout=10)

    def get_product(s: requests.Session, rng: random.Random) -> requests.Response:
        n = rng.randint(0, 499)
        prefix = ["TEE", "HOD", "CAP", "MUG", "BAG", "SCK", "JKT", "BTL"][n % 8]
        return s.get(f"{rest}/products/{prefix}-{1000 + n}", headers=bearer, timeout=10)

    def checkout(s: requests.Session, rng: random.Random) -> requests.Response:
        n = rng.randint(0, 499)
        prefix = ["TEE", "HOD", "CAP", "MUG", "BAG", "SCK", "JKT", "BTL"][n % 8]
        return s.post(f"{url}/__sandbox/checkout", json={"items": [{"sku": f"{prefix}-{1000 + n}", "qty": 1}]},
                      timeout=10)

    def comment(s: requests.Session, rng: random.Random) -> requests.Response:
        oid = rng.randint(1, 300)
        body = {"statusHistory": {"comment": "bench", "is_customer_notified": 0, "is_visible_on_front": 0,
                                  "parent_id": oid}}
        return s.post(f"{rest}/orders/{oid}/comments", json=body, headers=bearer, timeout=10)

    def get_order_oauth(s: requests.Session, rng: random.Random) -> requests.Response:
        return s.get(f"{rest}/orders/{rng.randint(1, 300)}", auth=OAUTH, timeout=10)

    return {"GET order": get_order, "search orders (20)": search_orders, "GET product": get_product,
            "checkout (POST)": checkout, "add comment (POST)": comment, "GET order, OAuth 1.0a": get_order_oauth}


def drive(operation: Operation, threads: int, seconds: float) -> tuple[int, list[float], int]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker(n: int) -> None:
        nonlocal errors
        rng = random.Random(n)
        session = requests.Session()
        mine: list[float] = []
        failed = 0
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            response = operation(session, rng)
            mine.append(time.perf_counter() - started)
            if response.status_code >= 400:
                failed += 1
        with lock:
            latencies.extend(mine)
            errors += failed

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return len(latencies), latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--in-process", action="store_true", help="serve from a thread of this process")
    args = parser.parse_args()
    url, stop = start_in_process() if args.in_process else start_subprocess()
    try:
        print(f"Magento sandbox at {url}, {args.threads} client threads, {args.seconds:.0f} s per operation")
        print(f"{'operation':<24} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7}")
        for name, operation in operations(url).items():
            count, latencies, errors = drive(operation, args.threads, args.seconds)
            latencies.sort()
            p50 = statistics.median(latencies) * 1000
            p95 = latencies[int(len(latencies) * 0.95) - 1] * 1000
            print(f"{name:<24} {count / args.seconds:>8.0f} {p50:>8.1f} {p95:>8.1f} {errors:>7}")
    finally:
        stop()


if __name__ == "__main__":
    main()
