"""Backfill progress: per resource, the last Heartland id whose page is fully written and bound."""

from __future__ import annotations

from typing import Any

from service.store.db import Store
from service.store.tables import BackfillProgress, utcnow


def get(store: Store, resource: str) -> BackfillProgress | None:
    with store.session() as s:
        return s.get(BackfillProgress, resource)


def start(store: Store, resource: str, *, since: str, total: int) -> BackfillProgress:
    """A new run from the first record, replacing what an earlier run of this resource left."""
    with store.session() as s:
        row = s.get(BackfillProgress, resource, with_for_update=True)
        now = utcnow()
        if row is None:
            row = BackfillProgress(resource=resource)
            s.add(row)
        row.since = since
        row.last_id = 0
        row.pages = 0
        row.done = 0
        row.total = total
        row.counts = {}
        row.started_at = now
        row.updated_at = now
        row.finished_at = None
        s.flush()
        return row


def advance(store: Store, resource: str, *, last_id: int, pages: int, done: int, total: int,
            counts: dict[str, Any]) -> None:
    """Record a page as finished: everything up to ``last_id`` is written and bound."""
    with store.session() as s:
        row = s.get(BackfillProgress, resource, with_for_update=True)
        if row is None:
            return
        row.last_id = last_id
        row.pages = pages
        row.done = done
        row.total = total
        row.counts = dict(counts)
        row.updated_at = utcnow()


def finish(store: Store, resource: str, counts: dict[str, Any]) -> None:
    with store.session() as s:
        row = s.get(BackfillProgress, resource, with_for_update=True)
        if row is not None:
            row.counts = dict(counts)
            row.finished_at = utcnow()
            row.updated_at = row.finished_at
