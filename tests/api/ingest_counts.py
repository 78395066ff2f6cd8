"""What ingest left behind: inbox events, items, and jobs on the queue."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select

from service.store.tables import InboxEvent, SyncItem


def counts(runtime: Any) -> tuple[int, int, int]:
    with runtime.store.session() as s:
        inbox = s.scalar(select(func.count()).select_from(InboxEvent))
        items = s.scalar(select(func.count()).select_from(SyncItem))
    return int(inbox or 0), int(items or 0), len(runtime.queue)


def counts_when(runtime: Any, expected: tuple[int, int, int], timeout: float = 5.0) -> tuple[int, int, int]:
    """The counts once they are ``expected``, or as they are after ``timeout``: ingest answers once the
    event is committed and hands the enqueue to a thread of its own, so the queue fills just after."""
    deadline = time.monotonic() + timeout
    found = counts(runtime)
    while found != expected and time.monotonic() < deadline:
        time.sleep(0.02)
        found = counts(runtime)
    return found
