"""Webhook registrations and the delivery worker.

Heartland posts the bare record (no envelope, no event name, no signature) to the registered URL;
boolean attributes carry a ``?`` suffix (``active?``, ``track_inventory?``; transactions add
``completed?``). A delivery answered with anything but 2xx, or not answered, is retried with
exponential backoff (``retry_base_seconds`` doubling up to ``retry_cap_seconds``) until
``max_attempts``. Every attempt is listed at ``GET /__sandbox/webhook_deliveries``.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import requests

from service.sandbox.heartland.state import Record, State
from service.sandbox.heartland.validation import Checker

EVENTS = (
    "item_created", "item_updated", "customer_created", "customer_updated",
    "sales_transaction_completed", "item_grid_updated", "location_updated",
)
MAX_LOGGED_DELIVERIES = 10_000
IDLE_EXIT_SECONDS = 30.0


def _check_webhook(check: Checker, webhook: Record | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if webhook is None or check.has("url"):
        url = check.string("url", required=True)
        if url and (urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc):
            check.add("url", "must be an absolute http or https URL")
        fields["url"] = url
    if webhook is None or check.has("events"):
        events = check.body.get("events")
        if not isinstance(events, list) or not events:
            check.add("events", f"must be a non-empty array of: {', '.join(EVENTS)}")
        else:
            unknown = [e for e in events if e not in EVENTS]
            if unknown:
                check.add("events", f"unknown event {unknown[0]!r}; known: {', '.join(EVENTS)}")
            fields["events"] = list(dict.fromkeys(events))
    if check.has("active"):
        fields["active"] = check.boolean("active")
    if check.has("description"):
        fields["description"] = check.string("description")
    return fields


def create_webhook(state: State, body: Any) -> Record:
    check = Checker(body)
    fields = _check_webhook(check, None)
    check.done()
    now = state.now()
    return state.webhooks.add({"active": True, "description": None, **fields, "created_at": now, "updated_at": now})


def update_webhook(state: State, webhook: Record, body: Any) -> Record:
    check = Checker(body)
    fields = _check_webhook(check, webhook)
    check.done()
    fields["updated_at"] = state.now()
    return state.webhooks.update(webhook, fields)


def webhook_payload(record: Record) -> Record:
    """The record as a webhook carries it: booleans renamed with a ``?`` suffix."""
    payload: Record = {}
    for key, value in copy.deepcopy(record).items():
        payload[f"{key}?" if isinstance(value, bool) else key] = value
    if "status" in record and record.get("type") in ("Ticket", "Return", "Invoice"):
        payload["completed?"] = record["status"] == "complete"
    return payload


@dataclass(order=True)
class Delivery:
    due: float
    seq: int
    webhook_id: int = field(compare=False)
    url: str = field(compare=False)
    event: str = field(compare=False)
    payload: Record = field(compare=False)
    attempts: int = field(default=0, compare=False)


class Deliverer:
    """Posts queued webhook payloads from worker threads, retrying failures with backoff."""

    def __init__(self, *, workers: int = 2, timeout: float = 5.0, retry_base_seconds: float = 1.0,
                 retry_cap_seconds: float = 60.0, max_attempts: int = 8) -> None:
        self.workers = workers
        self.timeout = timeout
        self.retry_base = retry_base_seconds
        self.retry_cap = retry_cap_seconds
        self.max_attempts = max_attempts
        self.queue: list[Delivery] = []
        self.cond = threading.Condition()
        self.counter = itertools.count(1)
        self.threads: list[threading.Thread] = []
        self.log: list[dict[str, Any]] = []
        self.generation = 0
        self.stopped = False

    def enqueue(self, webhook_id: int, url: str, event: str, payload: Record) -> None:
        with self.cond:
            self._start()
            heapq.heappush(self.queue, Delivery(time.monotonic(), next(self.counter), webhook_id, url, event, payload))
            self.cond.notify()

    def emit_for(self, state: State) -> Any:
        """The ``State.emit`` hook: queue one delivery per active webhook subscribed to the event."""
        def emit(event: str, record: Record) -> None:
            targets = [w for w in state.webhooks.records.values() if w["active"] and event in w["events"]]
            if not targets:
                return
            payload = webhook_payload(record)
            for webhook in targets:
                self.enqueue(webhook["id"], webhook["url"], event, payload)
        return emit

    def clear(self) -> None:
        with self.cond:
            self.queue.clear()
            self.log.clear()
            self.generation += 1

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()
            threads = list(self.threads)
        for thread in threads:
            thread.join(timeout=self.timeout + 1)

    def pending(self) -> int:
        with self.cond:
            return len(self.queue)

    def deliveries(self, since: int = 0) -> list[dict[str, Any]]:
        with self.cond:
            return [dict(entry) for entry in self.log if entry["seq"] > since]

    def _start(self) -> None:
        while len(self.threads) < self.workers and not self.stopped:
            thread = threading.Thread(target=self._run, name=f"heartland-webhooks-{len(self.threads)}", daemon=True)
            self.threads.append(thread)
            thread.start()

    def _next(self) -> tuple[Delivery, int] | None:
        """The next due delivery; None when stopped or idle long enough to let the thread go."""
        with self.cond:
            while not self.stopped:
                if self.queue:
                    wait = self.queue[0].due - time.monotonic()
                    if wait <= 0:
                        return heapq.heappop(self.queue), self.generation
                    self.cond.wait(timeout=wait)
                elif not self.cond.wait(timeout=IDLE_EXIT_SECONDS) and not self.queue:
                    # Idle threads end, so sandboxes built and dropped by tests leave none behind;
                    # enqueue starts new ones.
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
            ok = status is not None and 200 <= status < 300
            with self.cond:
                if generation != self.generation:
                    continue  # the sandbox was reset while this was in flight
                self.log.append({
                    "seq": next(self.counter), "webhook_id": delivery.webhook_id, "url": delivery.url,
                    "event": delivery.event, "attempt": delivery.attempts, "status": status, "error": error,
                    "delivered": ok, "at": time.time(), "payload": delivery.payload,
                })
                if len(self.log) > MAX_LOGGED_DELIVERIES:
                    del self.log[: len(self.log) - MAX_LOGGED_DELIVERIES]
                if not ok and delivery.attempts < self.max_attempts:
                    backoff = min(self.retry_cap, self.retry_base * 2 ** (delivery.attempts - 1))
                    delivery.due = time.monotonic() + backoff
                    heapq.heappush(self.queue, delivery)
                    self.cond.notify()

    def _post(self, session: requests.Session, delivery: Delivery) -> tuple[int | None, str]:
        try:
            response = session.post(delivery.url, json=delivery.payload, timeout=self.timeout,
                                         headers={"User-Agent": "Heartland-Retail-Webhooks (sandbox)"})
        except requests.RequestException as exc:
            return None, f"{type(exc).__name__}: {exc}"[:300]
        return response.status_code, ""
