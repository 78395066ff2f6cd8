"""The scan that turns what finished into /v1 events: orders and stock that synced, customers merged.

The scheduler runs it (service/app/api_duties.py) from a cursor per source, re-reading a short overlap so
nothing committed late is missed; the dedup key of each event makes the re-read harmless.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import load_only

from service.api.outbound.events import emit
from service.store.api_tables import EventCursor, WebhookEvent
from service.store.tables import CustomerReview, SyncItem

log = logging.getLogger(__name__)

SCAN_OVERLAP = timedelta(minutes=2)
SCAN_BATCH = 500
# The columns facts_of and data_for read.
EVENT_COLUMNS = (SyncItem.id, SyncItem.flow, SyncItem.state, SyncItem.result, SyncItem.finished_at,
                 SyncItem.entity_key, SyncItem.reason)


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
        # What an event needs of an item, not its payload: the overlap is re-read every sweep.
        query = (select(SyncItem).options(load_only(*EVENT_COLUMNS))
                 .where(SyncItem.finished_at.is_not(None), SyncItem.state.in_(("done", "review")),
                        SyncItem.flow.in_(("orders", "channel_orders", "inventory"))))
        found = []
        if since is not None:
            # The overlap whole (items that committed late), then a batch of new ones: a batch that
            # held the overlap too would never get past a busy couple of minutes.
            found = list(s.scalars(query.where(SyncItem.finished_at >= since - SCAN_OVERLAP,
                                               SyncItem.finished_at <= since)))
            query = query.where(SyncItem.finished_at > since)
        found += list(s.scalars(query.order_by(SyncItem.finished_at).limit(SCAN_BATCH)))
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


def _parse(position: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(position) if position else None
