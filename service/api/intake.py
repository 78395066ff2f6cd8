"""What every ingest endpoint does once an event is checked: keep it in the inbox with its sync item
in one commit, then enqueue. A replayed event (same source and event id) is not stored twice."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from service.flows import ENABLED_FLOWS
from service.flows.context import Context
from service.kernel.cards import refuse_card_numbers
from service.store import inbox, items

log = logging.getLogger(__name__)


@dataclass
class IncomingEvent:
    source: str
    event_id: str
    event_type: str
    store_code: str
    occurred_at: datetime | None
    document: dict[str, Any]  # kept in the inbox as it arrived
    flow: str
    direction: str
    entity_key: str
    label: str
    payload: dict[str, Any]  # what the flow runs on
    source_version: str
    # Set for an event that means nothing for the other system: kept, recorded as ignored with this reason.
    ignored_reason: str = ""


def printable(text: str, limit: int) -> str:
    """A label as a person reads it: control characters (which PostgreSQL text refuses) dropped, cut to fit."""
    cleaned = "".join(ch for ch in text if ch >= " " and ch != "\x7f")
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def accept(runtime: Context, event: IncomingEvent) -> int | None:
    """Store the event and its item, then enqueue; the item id, or None for an event already stored.

    Events whose flow is not enabled yet are kept as ignored items, ready to replay. The endpoints
    answer 422 to a card number before calling this; it refuses one too (CardNumberRefused), so no
    ingest path can store one.
    """
    refuse_card_numbers(event.document, "the event")
    refuse_card_numbers(event.payload, "the event")
    enabled = event.flow in ENABLED_FLOWS and not event.ignored_reason
    reason = event.ignored_reason or f"the {event.flow} flow is not enabled yet; the event is kept for replay"
    try:
        with runtime.store.session() as session:
            if inbox.find(session, event.source, event.event_id) is not None:
                return None
            stored = inbox.add(session, source=event.source, event_id=event.event_id, event_type=event.event_type,
                               store_code=event.store_code, occurred_at=event.occurred_at, payload=event.document)
            item = items.create(
                session,
                flow=event.flow,
                direction=event.direction,
                entity_key=event.entity_key,
                label=printable(event.label, 200),
                payload=event.payload,
                source_version=event.source_version,
                inbox_event_id=stored.id,
                state="received" if enabled else "ignored",
                reason="" if enabled else reason,
            )
            item_id = item.id
    except IntegrityError:
        return None  # another delivery of the same event was stored first
    if enabled:
        try:
            runtime.enqueue([item_id])
        except Exception:  # noqa: BLE001 - the item is committed; the scheduler will enqueue it
            log.exception("enqueue of item %s failed; the scheduler will send it", item_id)
    return item_id
