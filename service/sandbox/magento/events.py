"""Signed events posted to the Tillbridge service, exactly as the Magento module posts them.

Body: ``{"event", "occurred_at", "store_code", "data"}`` as compact JSON with unescaped slashes and
unicode (the flags of magento-module/Model/Outbox/PayloadJson.php), ``data`` being the entity as the
matching GET returns it; headers from service.kernel.signing. Delivery runs on one background thread,
in order: a failed delivery (non-2xx, connection error) is retried with capped exponential backoff
before the next event is sent, as the module's outbox does. 200 and 202 (any 2xx) mean delivered.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from service.kernel.signing import signed_headers

EVENT_NAMES = (
    "order.created", "order.updated", "customer.created", "customer.updated", "product.saved",
    "creditmemo.created",
)
MAX_BACKOFF_SECONDS = 30.0
KEPT_EVENTS = 5_000


@dataclass
class Event:
    event_id: str
    name: str
    body: bytes
    attempts: int = 0
    delivered: bool = False
    last_error: str = ""
    created: float = field(default_factory=time.time)

    def describe(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event": self.name,
            "attempts": self.attempts,
            "delivered": self.delivered,
            "last_error": self.last_error,
            "envelope": json.loads(self.body),
        }


def envelope(name: str, data: dict[str, Any], store_code: str = "default") -> bytes:
    body = {
        "event": name,
        "occurred_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "store_code": store_code,
        "data": data,
    }
    # The module's flags: JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION,
    # which still escape U+2028/U+2029; compact separators. Same entity, same bytes.
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode("utf-8")


class EventSender:
    """Queues events and delivers them from a daemon thread; without a URL it only records them."""

    def __init__(self, url: str | None, secret: str, *, timeout: float = 10.0, first_backoff: float = 0.5) -> None:
        self.url = url
        self.secret = secret
        self.timeout = timeout
        self.first_backoff = first_backoff
        self.queue: queue.Queue[Event | None] = queue.Queue()
        self.recent: deque[Event] = deque(maxlen=KEPT_EVENTS)
        self.lock = threading.Lock()
        self.generation = 0
        self.thread: threading.Thread | None = None
        self.stopping = threading.Event()
        self.session = requests.Session()

    def emit(self, name: str, data: dict[str, Any], store_code: str = "default") -> Event:
        event = Event(event_id=str(uuid.uuid4()), name=name, body=envelope(name, data, store_code))
        with self.lock:
            self.recent.append(event)
            if self.url:
                if self.thread is None:
                    self.thread = threading.Thread(target=self._run, name="magento-sandbox-events", daemon=True)
                    self.thread.start()
                self.queue.put(event)
        return event

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        with self.lock:
            return [e.describe() for e in list(self.recent)[since:]]

    def pending(self) -> int:
        return self.queue.qsize()

    def clear(self) -> None:
        """Forget recorded and undelivered events (sandbox reset)."""
        with self.lock:
            self.generation += 1
            self.recent.clear()
            while True:
                try:
                    self.queue.get_nowait()
                except queue.Empty:
                    break

    def stop(self) -> None:
        self.stopping.set()
        self.queue.put(None)
        if self.thread is not None:
            self.thread.join(timeout=5)

    def _run(self) -> None:
        while not self.stopping.is_set():
            event = self.queue.get()
            if event is None:
                return
            generation = self.generation
            backoff = self.first_backoff
            while not self.stopping.is_set() and generation == self.generation:
                if self._deliver(event):
                    break
                self.stopping.wait(backoff)
                backoff = min(MAX_BACKOFF_SECONDS, backoff * 2)

    def _deliver(self, event: Event) -> bool:
        assert self.url is not None
        event.attempts += 1
        headers = signed_headers(self.secret, event.event_id, event.body)
        try:
            response = self.session.post(self.url, data=event.body, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            event.last_error = f"{type(exc).__name__}: {exc}"
            return False
        if 200 <= response.status_code < 300:
            event.delivered = True
            event.last_error = ""
            return True
        event.last_error = f"HTTP {response.status_code}: {response.text[:200]}"
        return False
