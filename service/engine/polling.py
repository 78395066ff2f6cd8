"""The polling backstop: read a source resource's changes since a persisted cursor.

Webhooks get lost, so the scheduler also asks each source what changed. A poll reads from the
cursor minus an overlap window (the source stamps changes with its own clock, and a change may
become visible after a later one), lets the resource's ``record`` write sync items in a
transaction, and moves the cursor in that same transaction: if the items do not commit, the
cursor does not move and the next poll reads the changes again. Reading a change twice is
harmless: flows ignore what is already in step. The engine knows no entity: a resource is a
name, a ``read`` and a ``record``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy.orm import Session

from service.kernel.errors import SyncError
from service.store import cursors
from service.store.db import Store
from service.store.tables import SyncItem, utcnow

log = logging.getLogger(__name__)

PAGE_SIZE = 200  # changes recorded per transaction


@dataclass
class Poller:
    resource: str  # the cursor's name, e.g. "heartland:inventory"
    read: Callable[[datetime], Iterable[Any]]  # changes at or after the given moment, best lazily, page by page
    record: Callable[[Session, Sequence[Any]], list[int]]  # write items for them; ids to enqueue


@dataclass
class PollResult:
    resource: str
    since: datetime
    position: datetime
    changes: int
    item_ids: list[int]


def batched(values: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(values)
    while page := list(islice(iterator, size)):
        yield page


def poll(store: Store, poller: Poller, *, overlap_seconds: float, page_size: int = PAGE_SIZE,
         enqueue: Callable[[list[int]], Any] | None = None, clock: Callable[[], datetime] = utcnow) -> PollResult:
    """One poll of one resource. Changes are recorded ``page_size`` at a time, each page in its own
    transaction and enqueued (when ``enqueue`` is given) once committed, so a poll after a long
    outage never holds every change in memory. The cursor moves after the last page: a poll that
    fails half-way reads again from the same place, and the pages already recorded are covered."""
    started = clock()
    last = cursors.position(store, poller.resource)
    # The first poll starts at "now": the initial load is the backfill's job, not the poller's.
    since = (last if last is not None else started) - timedelta(seconds=overlap_seconds)
    seen, item_ids = 0, []
    for page in batched(poller.read(since), page_size):
        with store.session() as s:
            page_ids = poller.record(s, page)
        seen += len(page)
        item_ids.extend(page_ids)
        if enqueue is not None and page_ids:
            enqueue(page_ids)
    with store.session() as s:
        # The new position is when this read began: anything stamped after it is read next time.
        cursors.advance(s, poller.resource, started, changes=seen)
    return PollResult(poller.resource, since, started, seen, item_ids)


def is_due(store: Store, resource: str, interval_seconds: float, now: datetime | None = None) -> bool:
    cursor = cursors.get(store, resource)
    return _due(cursor.polled_at if cursor is not None else None, interval_seconds, now or utcnow())


def _due(polled_at: datetime | None, interval_seconds: float, now: datetime) -> bool:
    return polled_at is None or now - polled_at >= timedelta(seconds=interval_seconds)


def poll_due(store: Store, pollers: Sequence[Poller], *, interval_seconds: float, overlap_seconds: float,
             enqueue: Callable[[list[int]], Any]) -> list[PollResult]:
    """Poll every resource whose last poll is older than the interval; one failing resource does
    not stop the others (its cursor stays put, so the next tick reads the same changes)."""
    results = []
    # Every resource's last poll in one read (the scheduler asks every tick, and most ticks none is due).
    polled = {cursor.resource: cursor.polled_at for cursor in cursors.all_cursors(store)}
    now = utcnow()
    for poller in pollers:
        if not _due(polled.get(poller.resource), interval_seconds, now):
            continue
        try:
            result = poll(store, poller, overlap_seconds=overlap_seconds, enqueue=enqueue)
        except SyncError as exc:  # the source is down or refusing: say so in one line, retry next tick
            log.warning("polling %s failed (%s); the cursor stays where it was", poller.resource, exc)
            continue
        except Exception:  # noqa: BLE001 - a bug: keep the traceback, and keep the other sources going
            log.exception("polling %s failed; the cursor stays where it was", poller.resource)
            continue
        results.append(result)
    return results


# -- does an item already cover a polled change? ----------------------------------------------------
# Sources stamp changes in whole seconds (Heartland's ISO 8601, Magento's "YYYY-MM-DD HH:MM:SS" UTC),
# and a poll re-reads its overlap window: a change an item already covers gets no second item.
SAME_SECOND = timedelta(seconds=2)  # one-second stamps, plus a second of clock skew


def stamp_instant(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def is_older(version: str, than: str) -> bool:
    """Whether the source's ``updated_at`` ``version`` is strictly older than ``than``."""
    if not version or not than:
        return False
    a, b = stamp_instant(version), stamp_instant(than)
    if a is None or b is None:
        return version < than
    return a < b


def covers(last: SyncItem, version: str) -> bool:
    """Whether an item already made for a record covers its change stamped ``version``.

    A later version covers it; so does the same version while that item still waits (its run
    re-reads the record). Stamps are whole seconds, so a finished item at the same version covers
    it only if it was made after that second had passed (its re-read saw every edit stamped then);
    otherwise one more item re-reads the record and finds nothing new, or the edit.
    """
    if not version or is_older(version, last.source_version):
        return True
    if is_older(last.source_version, version):
        return False
    if last.state == "received":
        return True
    stamped = stamp_instant(version)
    made = last.created_at if last.created_at.tzinfo else last.created_at.replace(tzinfo=UTC)
    return stamped is not None and made >= stamped + SAME_SECOND
