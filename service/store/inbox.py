"""The inbox: every event as it arrived, unique on (source, event id)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.store.tables import InboxEvent, SyncItem


def find(session: Session, source: str, event_id: str) -> InboxEvent | None:
    return session.scalars(
        select(InboxEvent).where(InboxEvent.source == source, InboxEvent.event_id == event_id)
    ).first()


def add(
    session: Session,
    *,
    source: str,
    event_id: str,
    event_type: str,
    store_code: str,
    occurred_at: datetime | None,
    payload: dict[str, Any],
) -> InboxEvent:
    event = InboxEvent(
        source=source,
        event_id=event_id,
        event_type=event_type,
        store_code=store_code,
        occurred_at=occurred_at,
        payload=payload,
    )
    session.add(event)
    session.flush()
    return event


def items_for(session: Session, inbox_event_id: int) -> list[SyncItem]:
    return list(session.scalars(select(SyncItem).where(SyncItem.inbox_event_id == inbox_event_id)))
