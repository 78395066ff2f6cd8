"""Outbound events: each fact becomes one event (its dedup key), with one delivery per endpoint
subscribed to its type at that moment.

Facts come from three places: the API itself (``order.created`` when POST /v1/orders accepts an
order), finished sync items (``order.synced``, ``payment.succeeded``, ``payment.failed``,
``inventory.updated``) and decided customer reviews (``customer.merged``), scanned by the scheduler
with a cursor and an overlap (a fact seen twice is still one event); reconciliation raises
``reconciliation.exception`` itself.

The payload is the Standard Webhooks shape ``{"type", "timestamp", "data"}``; ``data`` is the
resource as the API answers it, with its ``url``. Data larger than WEBHOOK_MAX_PAYLOAD_BYTES is
cut to ``{"id", "object", "url", "truncated": true}``: fetch the resource from ``url``.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service.api.outbound import EVENT_TYPES
from service.api.outbound.endpoints import subscribed
from service.store.api_tables import WebhookDelivery, WebhookEvent
from service.store.tables import utcnow

log = logging.getLogger(__name__)



def _rfc3339_now() -> str:
    return utcnow().replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def payload_for(event_type: str, data: dict[str, Any], url: str, max_bytes: int) -> dict[str, Any]:
    body = {**data, "url": url}
    if len(json.dumps(body, separators=(",", ":")).encode()) > max_bytes:
        body = {"id": data.get("id"), "object": data.get("object"), "url": url, "truncated": True}
    return {"type": event_type, "timestamp": _rfc3339_now(), "data": body}


def emit(runtime: Any, event_type: str, data: dict[str, Any], *, dedup_key: str, url: str) -> int | None:
    """Record one event and its deliveries, then queue them; None if this fact was emitted before."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    payload = payload_for(event_type, data, url, runtime.settings.WEBHOOK_MAX_PAYLOAD_BYTES)
    try:
        with runtime.store.session() as s:
            event = WebhookEvent(public_id=f"evt_{secrets.token_hex(12)}", type=event_type,
                                 dedup_key=dedup_key[:200], payload=payload)
            s.add(event)
            s.flush()
            deliveries = [WebhookDelivery(event_id=event.id, endpoint_id=e.id, state="pending", attempts=0,
                                          next_attempt_at=utcnow(), last_error="", last_response="")
                          for e in subscribed(s, event_type)]
            s.add_all(deliveries)
            s.flush()
            ids = [d.id for d in deliveries]
            event_id = event.id
    except IntegrityError:
        return None
    if ids:
        from service.api.outbound.delivery import enqueue

        try:
            enqueue(runtime, ids)
        except Exception:  # noqa: BLE001 - the rows are committed; the scheduler sends what is due
            log.exception("enqueue of webhook deliveries %s failed; the scheduler will send them", ids)
    return event_id


def purge(runtime: Any) -> int:
    """Forget events older than RETENTION_DAYS once none of their deliveries is still pending."""
    from sqlalchemy import delete, exists

    days = runtime.settings.RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = utcnow() - timedelta(days=days)
    with runtime.store.session() as s:
        pending = exists().where(WebhookDelivery.event_id == WebhookEvent.id, WebhookDelivery.state == "pending")
        old = list(s.scalars(select(WebhookEvent.id).where(WebhookEvent.created_at < cutoff, ~pending).limit(1000)))
        if old:
            s.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(old)))
            s.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(old)))
        return len(old)


def reconciliation_exception(runtime: Any, result_id: int, result: Any) -> None:
    """The ``reconciliation.exception`` event of a new exception (service/reconciliation/run.py)."""
    data = {"id": f"rx_{result_id}", "object": "reconciliation_exception", "category": result.category,
            "business_date": result.business_date, "delta": {"amount": result.delta, "currency": result.currency},
            "reason": result.reason,
            "magento": {"number": result.magento.number} if result.magento else None,
            "heartland": {"number": result.heartland.number} if result.heartland else None}
    emit(runtime, "reconciliation.exception", data, dedup_key=f"reconciliation.exception:{result_id}:"
         f"{result.category}", url=f"/v1/reports/reconciliation/exceptions/rx_{result_id}")
