"""Signed events from the Magento sandbox: envelope, signature, order, retries."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask, request

from service.kernel.signing import verify
from service.sandbox.magento.app import create_app
from service.sandbox.server import RunningSandbox, start_in_thread

SECRET = "events-test-secret"
TOKEN = "magento-test-token"


class Receiver:
    """A stand-in for the service's webhook endpoint that fails the first ``failures`` posts."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[dict[str, Any]] = []
        self.attempts = 0
        self.lock = threading.Lock()
        self.app = Flask("receiver")
        self.app.add_url_rule("/webhooks/magento", "hook", self.hook, methods=["POST"])

    def hook(self) -> tuple[str, int]:
        raw = request.get_data()
        with self.lock:
            self.attempts += 1
            if self.failures > 0:
                self.failures -= 1
                return "try later", 503
            event_id = verify([SECRET], dict(request.headers), raw)
            self.received.append({"id": event_id, "raw": raw, "body": json.loads(raw)})
        return "", 202

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"got {len(self.received)} events, wanted {count}")


@pytest.fixture()
def receiver() -> Iterator[tuple[Receiver, RunningSandbox]]:
    hook = Receiver(failures=2)
    server = start_in_thread(hook.app)
    yield hook, server
    server.stop()


def test_events_are_signed_ordered_and_retried(receiver: tuple[Receiver, RunningSandbox]) -> None:
    hook, server = receiver
    app = create_app(seed="demo", token=TOKEN, events_url=f"{server.url}/webhooks/magento", webhook_secret=SECRET,
                     history_orders=5)
    sandbox = start_in_thread(app)
    try:
        placed = requests.post(f"{sandbox.url}/__sandbox/checkout", json={"items": [{"sku": "TEE-1000", "qty": 1}]},
                               timeout=10).json()
        oid = placed["entity_id"]
        auth = {"Authorization": f"Bearer {TOKEN}"}
        requests.post(f"{sandbox.url}/rest/V1/orders/{oid}/hold", headers=auth, timeout=10)
        requests.post(f"{sandbox.url}/rest/V1/orders/{oid}/unhold", headers=auth, timeout=10)
        events = hook.wait_for(3)
        names = [e["body"]["event"] for e in events]
        assert names == ["order.created", "order.updated", "order.updated"]
        assert [e["body"]["data"]["state"] for e in events] == ["new", "holded", "new"]
        first = events[0]["body"]
        assert set(first) == {"event", "occurred_at", "store_code", "data"}
        assert first["store_code"] == "default" and first["occurred_at"].endswith("+00:00")
        assert first["data"] == placed
        assert len({e["id"] for e in events}) == 3
        assert events[0]["raw"] == json.dumps(first, separators=(",", ":"), ensure_ascii=False).encode()
        assert hook.attempts == 5  # two refusals, retried, then three deliveries
        current = requests.get(f"{sandbox.url}/rest/V1/orders/{oid}", headers=auth, timeout=10).json()
        assert events[-1]["body"]["data"] == current
        log = requests.get(f"{sandbox.url}/__sandbox/events", timeout=10).json()
        assert [e["delivered"] for e in log["events"]] == [True, True, True]
    finally:
        sandbox.stop()
        app.extensions["magento_sandbox"].events.stop()


def test_without_a_url_events_are_only_recorded() -> None:
    client = create_app(seed="demo", token=TOKEN, history_orders=0).test_client()
    client.post("/__sandbox/checkout", json={"items": [{"sku": "MUG-1003", "qty": 1}]})
    log = client.get("/__sandbox/events").get_json()
    assert [e["event"] for e in log["events"]] == ["order.created"]
    assert log["events"][0]["delivered"] is False
    client.post("/__sandbox/reset")
    assert client.get("/__sandbox/events").get_json()["events"] == []


def test_envelope_bytes_follow_the_module_json_flags() -> None:
    from service.sandbox.magento.events import envelope

    raw = envelope("customer.updated", {"lastname": "Müller/Şahin", "note": "a\u2028b", "total": 5.0})
    assert b'"lastname":"M\xc3\xbcller/\xc5\x9eahin"' in raw
    assert b'"note":"a\\u2028b"' in raw and b'"total":5.0' in raw
    assert raw.startswith(b'{"event":"customer.updated","occurred_at":"') and b'+00:00","store_code":"default"' in raw
