"""Webhook registrations and the delivery worker.

Heartland posts the bare record (no envelope, no event name, no signature) to the registered URL;
boolean attributes carry a ``?`` suffix (``active?``, ``track_inventory?``; transactions add
``completed?``). A delivery answered with anything but 2xx, or not answered, is retried with
exponential backoff (``retry_base_seconds`` doubling up to ``retry_cap_seconds``) until
``max_attempts``. Every attempt is listed at ``GET /__sandbox/webhook_deliveries``.
"""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import urlparse

from service.sandbox.delivery import Deliveries, Delivery
from service.sandbox.heartland.state import Record, State
from service.sandbox.heartland.validation import Checker

EVENTS = (
    "item_created", "item_updated", "customer_created", "customer_updated",
    "sales_transaction_completed", "item_grid_updated", "location_updated",
)


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


class Deliverer:
    """Posts webhook payloads through the sandboxes' delivery queue (service/sandbox/delivery.py):
    ``workers`` threads, each delivery retried on its own backoff up to ``max_attempts``."""

    def __init__(self, *, workers: int = 2, timeout: float = 5.0, retry_base_seconds: float = 1.0,
                 retry_cap_seconds: float = 60.0, max_attempts: int = 8) -> None:
        self.deliveries = Deliveries("heartland-webhooks", workers=workers, timeout=timeout,
                                     retry_base_seconds=retry_base_seconds, retry_cap_seconds=retry_cap_seconds,
                                     max_attempts=max_attempts)

    def enqueue(self, webhook_id: int, url: str, event: str, payload: Record) -> None:
        self.deliveries.enqueue(url, json.dumps(payload).encode(), _headers, event, webhook_id=webhook_id,
                                payload=payload)

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
        self.deliveries.clear()

    def stop(self) -> None:
        self.deliveries.stop()

    def pending(self) -> int:
        return self.deliveries.pending()

    def deliveries_since(self, since: int = 0) -> list[dict[str, Any]]:
        """Every attempt after sequence number ``since``, oldest first, the last 10,000 kept."""
        return [{"seq": a.seq, "webhook_id": a.delivery.meta["webhook_id"], "url": a.delivery.url,
                 "event": a.delivery.label, "attempt": a.number, "status": a.status,
                 "error": "" if a.status is not None else a.error, "delivered": a.ok, "at": a.at,
                 "payload": a.delivery.meta["payload"]}
                for a in self.deliveries.history() if a.seq > since]


def _headers(_delivery: Delivery) -> dict[str, str]:
    return {"Content-Type": "application/json", "User-Agent": "Heartland-Retail-Webhooks (sandbox)"}
