"""The one outgoing-request queue both sandboxes send their events through.

Magento's module posts signed events from an outbox *in order*: a delivery that fails (non-2xx, no
answer) is retried with capped exponential backoff before the next one is sent. Heartland posts
webhooks from several workers, each delivery retried on its own schedule up to a number of
attempts. :class:`Deliveries` does both, chosen by ``ordered``; every attempt is recorded, a reset
(:meth:`Deliveries.clear`) drops what is queued and what is in flight, and idle threads end, so
sandboxes built and dropped by tests leave none behind.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

IDLE_EXIT_SECONDS = 30.0
MAX_LOGGED_ATTEMPTS = 10_000


@dataclass
class Delivery:
    """One request to make: where, what, and how it went so far."""

    seq: int
    url: str
    body: bytes
    headers: Callable[[Delivery], dict[str, str]]
    label: str
    meta: dict[str, Any] = field(default_factory=dict)
    due: float = 0.0
    attempts: int = 0
    delivered: bool = False
    last_error: str = ""


@dataclass
class Attempt:
    seq: int
    delivery: Delivery
    number: int  # the delivery's first attempt is 1
    status: int | None
    error: str
    at: float

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Deliveries:
    """Posts queued requests from background threads, retrying failures with capped backoff.

    ``ordered``: one thread, and no delivery is sent before the one queued ahead of it succeeded
    (or ran out of attempts). Otherwise ``workers`` threads send whatever is due. ``max_attempts``
    None retries until delivered.
    """

    def __init__(self, name: str, *, ordered: bool = False, workers: int = 1, timeout: float = 10.0,
                 retry_base_seconds: float = 1.0, retry_cap_seconds: float = 60.0,
                 max_attempts: int | None = None) -> None:
        self.name = name
        self.ordered = ordered
        self.workers = 1 if ordered else max(1, workers)
        self.timeout = timeout
        self.retry_base = retry_base_seconds
        self.retry_cap = retry_cap_seconds
        self.max_attempts = max_attempts
        self.cond = threading.Condition()
        self.queue: list[tuple[tuple[float, int], Delivery]] = []
        self.counter = itertools.count(1)
        self.attempt_counter = itertools.count(1)
        self.attempts: list[Attempt] = []
        self.threads: list[threading.Thread] = []
        self.generation = 0
        self.stopped = False

    def enqueue(self, url: str, body: bytes, headers: Callable[[Delivery], dict[str, str]], label: str,
                **meta: Any) -> Delivery:
        delivery = Delivery(next(self.counter), url, body, headers, label, meta, due=time.monotonic())
        with self.cond:
            self._push(delivery)
            self._start()
            self.cond.notify()
        return delivery

    def pending(self) -> int:
        with self.cond:
            return len(self.queue)

    def history(self) -> list[Attempt]:
        with self.cond:
            return list(self.attempts)

    def clear(self) -> None:
        """Drop what is queued and forget the attempts; a delivery in flight is not retried."""
        with self.cond:
            self.queue.clear()
            self.attempts.clear()
            self.generation += 1

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()
            threads = list(self.threads)
        for thread in threads:
            thread.join(timeout=self.timeout + 1)

    def backoff(self, attempts: int) -> float:
        return float(min(self.retry_cap, self.retry_base * 2 ** (attempts - 1)))

    # -- the threads ----------------------------------------------------------------------------
    def _push(self, delivery: Delivery) -> None:
        # Ordered: the queue is in the order events happened, whatever their retry times.
        key = (0.0, delivery.seq) if self.ordered else (delivery.due, delivery.seq)
        heapq.heappush(self.queue, (key, delivery))

    def _start(self) -> None:
        while len(self.threads) < self.workers and not self.stopped:
            thread = threading.Thread(target=self._run, name=f"{self.name}-{len(self.threads)}", daemon=True)
            self.threads.append(thread)
            thread.start()

    def _next(self) -> tuple[Delivery, int] | None:
        """The next due delivery; None when stopped, or idle long enough to let the thread go."""
        with self.cond:
            while not self.stopped:
                if self.queue:
                    wait = self.queue[0][1].due - time.monotonic()
                    if wait <= 0:
                        return heapq.heappop(self.queue)[1], self.generation
                    self.cond.wait(timeout=wait)
                elif not self.cond.wait(timeout=IDLE_EXIT_SECONDS) and not self.queue:
                    self.threads.remove(threading.current_thread())
                    return None
            return None

    def _run(self) -> None:
        session = requests.Session()  # one per thread: Session is not documented as thread-safe
        while True:
            picked = self._next()
            if picked is None:
                return
            delivery, generation = picked
            delivery.attempts += 1
            status, error = self._post(session, delivery)
            attempt = Attempt(next(self.attempt_counter), delivery, delivery.attempts, status, error, time.time())
            with self.cond:
                if generation != self.generation:
                    continue  # the sandbox was reset while this was in flight
                delivery.delivered = attempt.ok
                delivery.last_error = "" if attempt.ok else error or f"HTTP {status}"
                self.attempts.append(attempt)
                if len(self.attempts) > MAX_LOGGED_ATTEMPTS:
                    del self.attempts[: len(self.attempts) - MAX_LOGGED_ATTEMPTS]
                if not attempt.ok and (self.max_attempts is None or delivery.attempts < self.max_attempts):
                    delivery.due = time.monotonic() + self.backoff(delivery.attempts)
                    self._push(delivery)
                    self.cond.notify()

    def _post(self, session: requests.Session, delivery: Delivery) -> tuple[int | None, str]:
        try:
            response = session.post(delivery.url, data=delivery.body, headers=delivery.headers(delivery),
                                    timeout=self.timeout)
        except requests.RequestException as exc:
            return None, f"{type(exc).__name__}: {exc}"[:300]
        if 200 <= response.status_code < 300:
            return response.status_code, ""
        return response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"
