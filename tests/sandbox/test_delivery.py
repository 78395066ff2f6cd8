"""The delivery queue both sandboxes post their events through: in order, or each on its own."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from flask import Flask, request

from service.sandbox.delivery import Deliveries, Delivery
from service.sandbox.server import RunningSandbox, start_in_thread


class Receiver:
    """Answers 503 to every body named in ``refuse`` until told otherwise; records what it accepted."""

    def __init__(self) -> None:
        self.refuse: set[bytes] = set()
        self.accepted: list[bytes] = []
        self.lock = threading.Lock()
        self.app = Flask("receiver")
        self.app.add_url_rule("/hook", "hook", self.hook, methods=["POST"])

    def hook(self) -> tuple[str, int]:
        body = request.get_data()
        with self.lock:
            if body in self.refuse:
                return "later", 503
            self.accepted.append(body)
        return "", 204

    def wait_for(self, count: int, timeout: float = 10.0) -> list[bytes]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.accepted) >= count:
                    return list(self.accepted)
            time.sleep(0.01)
        raise AssertionError(f"accepted {self.accepted}, wanted {count}")


@pytest.fixture()
def receiver() -> Iterator[tuple[Receiver, RunningSandbox]]:
    hook = Receiver()
    server = start_in_thread(hook.app)
    yield hook, server
    server.stop()


def plain(_delivery: Delivery) -> dict[str, str]:
    return {"Content-Type": "text/plain"}


def test_ordered_deliveries_hold_what_follows_a_failing_one(receiver: tuple[Receiver, RunningSandbox]) -> None:
    hook, server = receiver
    hook.refuse = {b"first"}
    queue = Deliveries("test-ordered", ordered=True, retry_base_seconds=0.05, retry_cap_seconds=0.05)
    try:
        for body in (b"first", b"second", b"third"):
            queue.enqueue(f"{server.url}/hook", body, plain, "event")
        time.sleep(0.4)  # several retries of the first have failed by now
        assert hook.accepted == []
        assert [a.number for a in queue.history()][:3] == [1, 2, 3]
        hook.refuse = set()
        assert hook.wait_for(3) == [b"first", b"second", b"third"]
    finally:
        queue.stop()


def test_unordered_deliveries_pass_a_failing_one_and_give_up_after_max_attempts(
        receiver: tuple[Receiver, RunningSandbox]) -> None:
    hook, server = receiver
    hook.refuse = {b"first"}
    queue = Deliveries("test-unordered", workers=2, retry_base_seconds=0.02, retry_cap_seconds=0.02, max_attempts=3)
    try:
        first = queue.enqueue(f"{server.url}/hook", b"first", plain, "event")
        queue.enqueue(f"{server.url}/hook", b"second", plain, "event")
        assert hook.wait_for(1) == [b"second"]
        deadline = time.time() + 5
        while first.attempts < 3 and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        assert first.attempts == 3 and not first.delivered and first.last_error.startswith("HTTP 503")
        assert queue.pending() == 0
    finally:
        queue.stop()


def test_clear_drops_queued_retries(receiver: tuple[Receiver, RunningSandbox]) -> None:
    hook, server = receiver
    hook.refuse = {b"first"}
    queue = Deliveries("test-clear", ordered=True, retry_base_seconds=0.05, retry_cap_seconds=0.05)
    try:
        queue.enqueue(f"{server.url}/hook", b"first", plain, "event")
        time.sleep(0.2)
        queue.clear()
        hook.refuse = set()
        queue.enqueue(f"{server.url}/hook", b"after reset", plain, "event")
        assert hook.wait_for(1) == [b"after reset"]
        time.sleep(0.2)
        assert hook.accepted == [b"after reset"]
    finally:
        queue.stop()
