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
from service.store.api_tables import EventCursor, WebhookDelivery, WebhookEvent
from service.store.tables import CustomerReview, SyncItem, utcnow

log = logging.getLogger(__name__)

SCAN_OVERLAP = timedelta(minutes=2)
SCAN_BATCH = 500


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
    payload = payload_for(event_type, data, url, int(runtime.settings["WEBHOOK_MAX_PAYLOAD_BYTES"]))
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


def _cursor(s: Any, name: str) -> EventCursor:
    row = s.get(EventCursor, name)
    if row is None:
        row = EventCursor(name=name, position="")
        s.add(row)
    return row


def facts_of(item: SyncItem) -> list[tuple[str, str]]:
    """The (event type, dedup key) a finished item stands for."""
    result = item.result or {}
    facts: list[tuple[str, str]] = []
    if item.flow in ("orders", "channel_orders"):
        if item.state == "done" and result.get("heartland_number"):
            facts.append(("order.synced", f"order.synced:item:{item.id}"))
        if item.state == "done" and result.get("captured") is not None:
            facts.append(("payment.succeeded", f"payment.succeeded:item:{item.id}"))
        if item.state == "review" and result.get("gateway_code") is not None:
            facts.append(("payment.failed", f"payment.failed:item:{item.id}"))
    elif item.flow == "inventory" and item.state == "done":
        facts.append(("inventory.updated", f"inventory.updated:item:{item.id}"))
    return facts


def data_for(runtime: Any, event_type: str, item: SyncItem) -> tuple[dict[str, Any], str]:
    """The resource an item's event carries, as the API answers it, and its URL."""
    from service.api.v1.orders import ORDER_FLOWS, load_orders, order_id_of

    result = item.result or {}
    if item.flow in ORDER_FLOWS:
        found = load_orders([item.entity_key], runtime.store)
        order = found[0] if found else {"id": order_id_of(item.entity_key), "object": "order"}
        if event_type == "order.synced":
            return order, f"/v1/orders/{order['id']}"
        from service.canonical.money import money

        total = order.get("total")
        currency = str(total.get("currency", "USD")) if isinstance(total, dict) else "USD"
        payment = {"id": f"{order['id']}:item:{item.id}", "object": "payment", "order": order["id"],
                   "heartland": order.get("heartland"),
                   "status": "succeeded" if event_type == "payment.succeeded" else "failed",
                   "captured": money(result.get("captured") or 0, currency),
                   "failure_code": result.get("gateway_code"), "reason": item.reason[:500]}
        return payment, f"/v1/payments?order={order['id']}"
    sku = str(result.get("sku") or "")
    return ({"id": sku, "object": "inventory", "sku": sku, "magento_qty": result.get("qty"),
             "sources": result.get("sources")}, f"/v1/inventory/{sku}")


def scan(runtime: Any) -> int:
    """Emit the events of items finished and reviews decided since the last scan; how many were new."""
    emitted = 0
    store = runtime.store
    with store.session() as s:
        cursor = _cursor(s, "items")
        since = _parse(cursor.position)
        query = (select(SyncItem).where(SyncItem.finished_at.is_not(None), SyncItem.state.in_(("done", "review")),
                                        SyncItem.flow.in_(("orders", "channel_orders", "inventory")))
                 .order_by(SyncItem.finished_at).limit(SCAN_BATCH))
        if since is not None:
            query = query.where(SyncItem.finished_at >= since - SCAN_OVERLAP)
        found = list(s.scalars(query))
        s.expunge_all()
    newest = since
    candidates = {key for item in found for _, key in facts_of(item)}
    with store.session() as s:
        seen = set(s.scalars(select(WebhookEvent.dedup_key).where(WebhookEvent.dedup_key.in_(candidates)))) \
            if candidates else set()
    for item in found:
        for event_type, key in facts_of(item):
            if key in seen:
                continue  # the overlap re-reads what an earlier scan emitted
            data, url = data_for(runtime, event_type, item)
            if emit(runtime, event_type, data, dedup_key=key, url=url) is not None:
                emitted += 1
        if item.finished_at is not None and (newest is None or item.finished_at > newest):
            newest = item.finished_at
    emitted += _scan_merges(runtime)
    if newest is not None and newest != since:
        with store.session() as s:
            _cursor(s, "items").position = newest.isoformat()
    return emitted


def _scan_merges(runtime: Any) -> int:
    emitted = 0
    with runtime.store.session() as s:
        cursor = _cursor(s, "customer_reviews")
        since = _parse(cursor.position)
        query = select(CustomerReview).where(CustomerReview.state == "merged", CustomerReview.decided_at.is_not(None))
        if since is not None:
            query = query.where(CustomerReview.decided_at >= since - SCAN_OVERLAP)
        reviews = list(s.scalars(query.order_by(CustomerReview.decided_at).limit(SCAN_BATCH)))
        s.expunge_all()
    newest = since
    for review in reviews:
        data = {"id": f"heartland:{review.right_id}", "object": "customer", "merged": review.left_key,
                "into": {"system": review.right_system, "id": review.right_id}, "decided_by": review.decided_by}
        if emit(runtime, "customer.merged", data, dedup_key=f"customer.merged:review:{review.id}",
                url=f"/v1/customers/heartland:{review.right_id}") is not None:
            emitted += 1
        if review.decided_at is not None and (newest is None or review.decided_at > newest):
            newest = review.decided_at
    if newest is not None and newest != since:
        with runtime.store.session() as s:
            _cursor(s, "customer_reviews").position = newest.isoformat()
    return emitted


def purge(runtime: Any) -> int:
    """Forget events older than RETENTION_DAYS once none of their deliveries is still pending."""
    from sqlalchemy import delete, exists

    days = float(runtime.settings.get("RETENTION_DAYS") or 0)
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


def _parse(position: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(position) if position else None


def reconciliation_exception(runtime: Any, result_id: int, result: Any) -> None:
    """The ``reconciliation.exception`` event of a new exception (service/reconciliation/run.py)."""
    data = {"id": f"rx_{result_id}", "object": "reconciliation_exception", "category": result.category,
            "business_date": result.business_date, "delta": {"amount": result.delta, "currency": result.currency},
            "reason": result.reason,
            "magento": {"number": result.magento.number} if result.magento else None,
            "heartland": {"number": result.heartland.number} if result.heartland else None}
    emit(runtime, "reconciliation.exception", data, dedup_key=f"reconciliation.exception:{result_id}:"
         f"{result.category}", url=f"/v1/reports/reconciliation/exceptions/rx_{result_id}")
