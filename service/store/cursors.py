"""Poll cursors: per source resource, the moment up to which its changes have been read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.store.db import Store
from service.store.tables import PollCursor, utcnow


def get(store: Store, resource: str) -> PollCursor | None:
    with store.session() as s:
        return s.get(PollCursor, resource)


def position(store: Store, resource: str) -> datetime | None:
    cursor = get(store, resource)
    return cursor.position if cursor is not None else None


def advance(session: Session, resource: str, to: datetime, *, changes: int = 0) -> None:
    """Move the cursor in the caller's transaction, so it moves only if the items it covers commit.

    A cursor never goes back: two schedulers racing keep the later position.
    """
    now = utcnow()
    cursor = session.get(PollCursor, resource, with_for_update=True)
    if cursor is None:
        session.add(PollCursor(resource=resource, position=to, polled_at=now, changes=changes))
        return
    if to > cursor.position:
        cursor.position = to
    cursor.polled_at = now
    cursor.changes = changes


def all_cursors(store: Store) -> list[PollCursor]:
    with store.session() as s:
        return list(s.scalars(select(PollCursor).order_by(PollCursor.resource)))
