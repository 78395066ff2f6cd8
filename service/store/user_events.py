"""The record of what was done to user accounts: who did what to whom, and when.

Rows are written in the same transaction as the change they describe, so the record cannot miss a
change that happened, nor show one that was rolled back. Never a password, only that it changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.store.db import Store
from service.store.tables import UserEvent


@dataclass(frozen=True)
class Event:
    at: datetime
    actor: str
    action: str
    username: str
    detail: str


def record(s: Session, *, actor: str, action: str, username: str, detail: str = "") -> None:
    s.add(UserEvent(actor=actor[:80], action=action, username=username, detail=detail[:200]))


def recent(store: Store, limit: int = 50) -> list[Event]:
    """The newest events first."""
    with store.session() as s:
        rows = s.scalars(select(UserEvent).order_by(UserEvent.id.desc()).limit(limit))
        return [Event(r.at, r.actor, r.action, r.username, r.detail) for r in rows]
