"""The Magento sandbox under concurrent requests: racing writes leave a consistent store."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from service.sandbox.magento.app import create_app
from service.sandbox.server import RunningSandbox, start_in_thread

TOKEN = "magento-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    running = start_in_thread(create_app(seed="demo", token=TOKEN, history_orders=0))
    yield running
    running.stop()


def race(*actions: Callable[[], Any]) -> list[Any]:
    results: list[Any] = [None] * len(actions)
    barrier = threading.Barrier(len(actions))

    def run(n: int) -> None:
        barrier.wait()
        results[n] = actions[n]()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(actions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def post(sandbox: RunningSandbox, path: str, body: Any = None) -> requests.Response:
    return requests.post(f"{sandbox.url}/rest/V1/{path}", json=body, headers=AUTH, timeout=10)


def test_invoice_racing_cancel_never_leaves_both(sandbox: RunningSandbox) -> None:
    for n in range(12):
        placed = requests.post(f"{sandbox.url}/__sandbox/checkout",
                               json={"items": [{"sku": f"TEE-{1000 + 8 * n}", "qty": 1}]}, timeout=10).json()
        oid = placed["entity_id"]
        invoiced, canceled = race(lambda o=oid: post(sandbox, f"order/{o}/invoice", {}),
                                  lambda o=oid: post(sandbox, f"orders/{o}/cancel"))
        final = requests.get(f"{sandbox.url}/rest/V1/orders/{oid}", headers=AUTH, timeout=10).json()
        if canceled.json() is True:
            assert invoiced.status_code == 400 and final["state"] == "canceled" and final["total_invoiced"] == 0
        else:
            assert invoiced.status_code == 200 and final["state"] == "processing"
            assert final["total_paid"] == final["grand_total"]


def test_concurrent_gift_card_adjustments_add_up_and_apply_once(sandbox: RunningSandbox) -> None:
    post(sandbox, "tillbridge/giftcards", {"giftCard": {"code": "RACE-1", "balance": 100}})

    def adjust(key: str) -> Callable[[], requests.Response]:
        return lambda: post(sandbox, "tillbridge/giftcards/RACE-1/adjustments",
                            {"adjustment": {"amount": -3, "idempotency_key": key}})

    answers = race(*[adjust(f"k{n % 10}") for n in range(30)])  # 10 keys, each sent 3 times at once
    assert all(a.status_code == 200 for a in answers)
    card = requests.get(f"{sandbox.url}/rest/V1/tillbridge/giftcards/RACE-1", headers=AUTH, timeout=10).json()
    assert card["balance"] == 70


def test_concurrent_customer_creates_with_one_email_make_one_customer(sandbox: RunningSandbox) -> None:
    body = {"customer": {"email": "twin@example.com", "firstname": "Twin", "lastname": "Race"}}
    answers = race(*[lambda: post(sandbox, "customers", body) for _ in range(8)])
    assert sorted(a.status_code for a in answers) == [200] + [400] * 7
    found = requests.get(f"{sandbox.url}/rest/V1/customers/search", headers=AUTH, timeout=10, params={
        "searchCriteria[filter_groups][0][filters][0][field]": "email",
        "searchCriteria[filter_groups][0][filters][0][value]": "twin@example.com"}).json()
    assert found["total_count"] == 1
