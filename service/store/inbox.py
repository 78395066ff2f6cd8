"""The inbox: every event as it arrived, unique on (source, event id)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from service.store import bulk, items
from service.store.tables import InboxEvent, SyncItem


def find(session: Session, source: str, event_id: str) -> InboxEvent | None:
    return session.scalars(
        select(InboxEvent).where(InboxEvent.source == source, InboxEvent.event_id == event_id)
    ).first()


def add_new(session: Session, rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Insert the events (column values) not in the inbox yet, in one statement: the new ones' ids
    by (source, event id). An event already there (a replay, or another process's delivery of it
    committed meanwhile) is left alone and not in the answer."""
    if not rows:
        return {}
    table = cast(Table, InboxEvent.__table__)
    dialect = session.get_bind().dialect.name
    inserted: list[tuple[Any, ...]]
    if dialect == "postgresql":  # one statement text for any number of events (service/store/bulk.py)
        inserted = bulk.insert_rows(session, table, rows, returning=("id", "source", "event_id"),
                                    skip_conflicts_on=("source", "event_id"))
    else:
        statement = sqlite_insert(table).on_conflict_do_nothing(index_elements=["source", "event_id"])
        inserted = [tuple(row) for row in session.connection().execute(
            statement.returning(table.c.id, table.c.source, table.c.event_id), rows)]
    return {(source, event_id): int(event) for event, source, event_id in inserted}


def add_new_with_items(session: Session, pairs: Sequence[tuple[dict[str, Any], dict[str, Any]]]
                       ) -> dict[tuple[str, str], int]:
    """Insert the events (column values) not in the inbox yet, each with its item (``item_values``,
    linked to the event here): the new events' item ids by (source, event id). An event already
    there is left alone, as ``add_new`` leaves it, and gets no item. No two events may share a
    (source, event id).

    On PostgreSQL one statement does it all (service/store/bulk.py): the group committer's
    batches take one round trip, and an item whose payload is its event's document sends it once.
    """
    if not pairs:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        linked = bulk.insert_linked(session, cast(Table, InboxEvent.__table__), pairs,
                                    child=cast(Table, SyncItem.__table__), link="inbox_event_id",
                                    key=("source", "event_id"))
        return {(str(source), str(event_id)): item_id for (source, event_id), item_id in linked.items()}
    new_ids = add_new(session, [event for event, _ in pairs])
    keyed = (((event["source"], event["event_id"]), item) for event, item in pairs)
    fresh = [(key, {**item, "inbox_event_id": new_ids[key]}) for key, item in keyed if key in new_ids]
    item_ids = items.add_many(session, [item for _, item in fresh]) if fresh else []
    return {key: item_id for (key, _), item_id in zip(fresh, item_ids, strict=True)}


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
