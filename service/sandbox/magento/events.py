"""Signed events posted to the Tillbridge service, exactly as the Magento module posts them.

Body: ``{"event", "occurred_at", "store_code", "data"}`` as compact JSON with unescaped slashes and
unicode (the flags of magento-module/Model/Outbox/PayloadJson.php), ``data`` being the entity as the
matching GET returns it; headers from service.kernel.signing. Delivery runs on one background thread,
in order: a failed delivery (non-2xx, connection error) is retried with capped exponential backoff
before the next event is sent, as the module's outbox does. 200 and 202 (any 2xx) mean delivered.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from service.kernel.signing import signed_headers
from service.sandbox.delivery import Deliveries, Delivery

EVENT_NAMES = (
    "order.created", "order.updated", "customer.created", "customer.updated", "product.saved",
    "creditmemo.created",
)
MAX_BACKOFF_SECONDS = 30.0
KEPT_EVENTS = 5_000


@dataclass
class Event:
    """An event the store raised; ``delivery`` is how its posting went (None when there is no URL)."""

    event_id: str
    name: str
    body: bytes
    delivery: Delivery | None = field(default=None, repr=False)

    def describe(self) -> dict[str, Any]:
        d = self.delivery
        return {
            "event_id": self.event_id,
            "event": self.name,
            "attempts": d.attempts if d else 0,
            "delivered": d.delivered if d else False,
            "last_error": d.last_error if d else "",
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
    """Records events and, given a URL, posts them in order as the module's outbox does
    (service/sandbox/delivery.py, ``ordered``: retried without end, backoff capped at 30 s)."""

    def __init__(self, url: str | None, secret: str, *, timeout: float = 10.0, first_backoff: float = 0.5) -> None:
        self.url = url
        self.secret = secret
        self.recent: deque[Event] = deque(maxlen=KEPT_EVENTS)
        self.lock = threading.Lock()
        self.deliveries = Deliveries("magento-sandbox-events", ordered=True, timeout=timeout,
                                     retry_base_seconds=first_backoff, retry_cap_seconds=MAX_BACKOFF_SECONDS)

    def emit(self, name: str, data: dict[str, Any], store_code: str = "default") -> Event:
        event = Event(event_id=str(uuid.uuid4()), name=name, body=envelope(name, data, store_code))
        with self.lock:
            self.recent.append(event)
            if self.url:
                event.delivery = self.deliveries.enqueue(self.url, event.body, self.headers, name,
                                                         event_id=event.event_id)
        return event

    def headers(self, delivery: Delivery) -> dict[str, str]:
        """Signed at each attempt, as the module signs each post (the timestamp is the attempt's)."""
        return signed_headers(self.secret, delivery.meta["event_id"], delivery.body)

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        with self.lock:
            return [e.describe() for e in list(self.recent)[since:]]

    def pending(self) -> int:
        return self.deliveries.pending()

    def clear(self) -> None:
        """Forget recorded and undelivered events (sandbox reset)."""
        with self.lock:
            self.recent.clear()
            self.deliveries.clear()

    def stop(self) -> None:
        self.deliveries.stop()
