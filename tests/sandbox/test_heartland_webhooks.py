"""Heartland sandbox webhooks: registration, bare payloads with ``?`` booleans, retries."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from flask import Flask, request

from service.sandbox.heartland.app import create_app
from service.sandbox.server import RunningSandbox, start_in_thread

TOKEN = "heartland-hooks-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Receiver:
    """A real HTTP endpoint that records what it is sent and fails the first ``fail_first`` posts."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.attempts = 0
        self.fail_first = 0
        self.lock = threading.Lock()
        app = Flask("receiver")

        @app.post("/hooks/<name>")
        def hook(name: str) -> tuple[str, int]:
            with self.lock:
                self.attempts += 1
                if self.attempts <= self.fail_first:
                    return "try later", 500
                self.received.append((name, request.get_json()))
            return "", 204

        self.running = start_in_thread(app)

    def url(self, name: str) -> str:
        return f"{self.running.url}/hooks/{name}?token=shared-secret"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[str, dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        return list(self.received)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rx = Receiver()
    yield rx
    rx.running.stop()


@pytest.fixture
def heartland() -> Iterator[RunningSandbox]:
    running = start_in_thread(create_app(seed="demo", token=TOKEN, seed_products=30, seed_customers=10,
                                         webhook_retry_base_seconds=0.05, webhook_max_attempts=4))
    yield running
    running.stop()


def _call(heartland: RunningSandbox) -> Callable[..., requests.Response]:
    def call(method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(method, f"{heartland.url}/api/{path}", json=body, headers=AUTH, timeout=10)
    return call


def test_registration_answers_json_and_validates(heartland: RunningSandbox, receiver: Receiver) -> None:
    call = _call(heartland)
    created = call("POST", "webhooks", {"url": receiver.url("items"), "events": ["item_created", "item_updated"]})
    assert created.status_code == 201
    body = created.json()
    assert body["id"] >= 100001 and body["events"] == ["item_created", "item_updated"] and body["active"] is True
    assert created.headers["Location"].endswith(f"/api/webhooks/{body['id']}")
    bad = call("POST", "webhooks", {"url": "ftp://x", "events": ["order_created"]})
    assert bad.status_code == 422 and set(bad.json()["details"]) == {"url", "events"}
    assert call("GET", "webhooks").json()["total"] == 1
    assert call("DELETE", f"webhooks/{body['id']}").status_code == 204
    assert call("GET", "webhooks").json()["total"] == 0


def test_item_events_deliver_the_bare_record_with_question_mark_booleans(
        heartland: RunningSandbox, receiver: Receiver) -> None:
    call = _call(heartland)
    call("POST", "webhooks", {"url": receiver.url("items"), "events": ["item_created", "item_updated"]})
    made = call("POST", "items", {"public_id": "HOOK-1", "description": "Hooked", "price": 5})
    item_id = int(made.headers["Location"].rsplit("/", 1)[1])
    call("PUT", f"items/{item_id}", {"price": 6})
    got = receiver.wait_for(2)
    assert [name for name, _ in got] == ["items", "items"]
    # Two delivery workers: arrival order is not guaranteed, as with Heartland's own deliveries.
    created, updated = sorted((body for _, body in got), key=lambda body: body["price"])
    assert created["id"] == item_id and created["public_id"] == "HOOK-1"
    assert created["active?"] is True and "active" not in created and created["track_inventory?"] is True
    assert "event" not in created and "data" not in created
    assert updated["price"] == 6


def test_customer_and_transaction_events(heartland: RunningSandbox, receiver: Receiver) -> None:
    call = _call(heartland)
    call("POST", "webhooks", {"url": receiver.url("customers"), "events": ["customer_created", "customer_updated"]})
    call("POST", "webhooks", {"url": receiver.url("sales"), "events": ["sales_transaction_completed"]})
    made = call("POST", "customers", {"first_name": "Hook", "last_name": "Person", "email": "hook@example.com"})
    customer_id = int(made.headers["Location"].rsplit("/", 1)[1])
    station = call("GET", "stations").json()["results"][0]
    item = call("GET", "items").json()["results"][0]
    ticket = call("POST", "sales/tickets", {"station_id": station["id"], "customer_id": customer_id,
                                            "status": "complete", "item_lines": [{"item_id": item["id"], "qty": 1}]})
    assert ticket.status_code == 201
    got = receiver.wait_for(2)
    by_name = {name: body for name, body in got}
    assert by_name["customers"]["email"] == "hook@example.com" and by_name["customers"]["active?"] is True
    sale = by_name["sales"]
    assert sale["type"] == "Ticket" and sale["completed?"] is True and sale["customer_id"] == customer_id
    assert sale["total"] == item["price"]


def test_failed_deliveries_are_retried_until_2xx(heartland: RunningSandbox, receiver: Receiver) -> None:
    receiver.fail_first = 2
    call = _call(heartland)
    call("POST", "webhooks", {"url": receiver.url("items"), "events": ["item_created"]})
    call("POST", "items", {"description": "Retried"})
    got = receiver.wait_for(1)
    assert len(got) == 1 and got[0][1]["description"] == "Retried"

    def deliveries() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = requests.get(f"{heartland.url}/__sandbox/webhook_deliveries",
                                                   timeout=10).json()["deliveries"]
        return found

    # The receiver answers before the sandbox writes that attempt down: wait for the log to say so.
    deadline = time.monotonic() + 10
    while not any(d["delivered"] for d in deliveries()) and time.monotonic() < deadline:
        time.sleep(0.05)
    log = deliveries()
    assert [(d["attempt"], d["status"], d["delivered"]) for d in log] == [(1, 500, False), (2, 500, False),
                                                                          (3, 204, True)]


def test_unreachable_receivers_give_up_after_max_attempts(heartland: RunningSandbox) -> None:
    call = _call(heartland)
    call("POST", "webhooks", {"url": "http://127.0.0.1:9/nothing-listens", "events": ["item_created"]})
    call("POST", "items", {"description": "Nobody hears"})
    deadline = time.monotonic() + 5
    log: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        log = requests.get(f"{heartland.url}/__sandbox/webhook_deliveries", timeout=10).json()["deliveries"]
        if len(log) >= 4:
            break
        time.sleep(0.05)
    assert [d["attempt"] for d in log] == [1, 2, 3, 4]
    assert all(d["status"] is None and d["error"] for d in log)


def test_events_without_a_subscription_send_nothing(heartland: RunningSandbox, receiver: Receiver) -> None:
    call = _call(heartland)
    hook = call("POST", "webhooks", {"url": receiver.url("items"), "events": ["item_updated"]}).json()
    call("POST", "items", {"description": "Silent"})
    call("PUT", f"webhooks/{hook['id']}", {"active": False})
    call("PUT", "items/100001", {"price": 1})
    time.sleep(0.3)
    assert receiver.received == []
