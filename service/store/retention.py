"""Retention: what the store forgets, and when.

Finished work is kept RETENTION_DAYS, then purged with its trace steps and the inbox events it
came from. Items still waiting for a person are kept until that person acts: a dead letter until
it is retried or resolved, an order in review until the risk team decides, a customer pair until
an integrator does; from then on the same period applies. Bindings, cursors, order facts (the
anomaly scorer's history), mappings and users are never purged here.

Purging goes in batches, each its own short transaction, and stops when a sweep's time budget is
spent: the next sweep carries on where this one stopped.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from redis import Redis
from sqlalchemy import Select, and_, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from service.settings import Settings
from service.store.db import Store
from service.store.tables import (
    CustomerReview,
    DeadLetter,
    InboxEvent,
    OrderReview,
    SyncItem,
    TraceStep,
    utcnow,
)

log = logging.getLogger(__name__)

OPEN_ORDER_REVIEWS = ("queued", "escalated")
# Nothing is purged sooner than this after it finished, whatever RETENTION_DAYS or ``purge --days``
# say: a flow may then trust that a record changed in the last day has all its items still in the
# store (service/flows/orders.py skips a lookup on that basis).
MIN_RETENTION_DAYS = 1.0
DUE_KEY = "tillbridge:retention:ran"


@dataclass
class PurgeResult:
    cutoff: datetime
    counts: dict[str, int] = field(default_factory=dict)  # table → rows purged (or purgeable, dry run)
    finished: bool = True  # False: the time budget ran out with more to purge

    def add(self, table: str, rows: int) -> None:
        self.counts[table] = self.counts.get(table, 0) + rows

    def lines(self) -> list[str]:
        return [f"{table}: {rows}" for table, rows in sorted(self.counts.items())] or ["nothing to purge"]


def _purgeable_items(cutoff: datetime) -> Select[int]:
    """Items past retention that no one is waiting on."""
    finished = func.coalesce(SyncItem.finished_at, SyncItem.updated_at)
    open_letter = exists().where(DeadLetter.item_id == SyncItem.id,
                                 or_(DeadLetter.resolved_at.is_(None), DeadLetter.resolved_at >= cutoff))
    open_review = exists().where(OrderReview.item_id == SyncItem.id,
                                 or_(OrderReview.state.in_(OPEN_ORDER_REVIEWS), OrderReview.decided_at.is_(None),
                                     OrderReview.decided_at >= cutoff))
    return select(SyncItem.id).where(
        or_(SyncItem.state.in_(("done", "ignored")),
            and_(SyncItem.state == "dead", exists().where(DeadLetter.item_id == SyncItem.id)),
            and_(SyncItem.state == "review", exists().where(OrderReview.item_id == SyncItem.id))),
        finished < cutoff, ~open_letter, ~open_review)


def _orphan_events(cutoff: datetime) -> Select[int]:
    return select(InboxEvent.id).where(InboxEvent.received_at < cutoff,
                                       ~exists().where(SyncItem.inbox_event_id == InboxEvent.id))


def _decided_customer_reviews(cutoff: datetime) -> Select[int]:
    return select(CustomerReview.id).where(CustomerReview.state != "pending", CustomerReview.decided_at.is_not(None),
                                           CustomerReview.decided_at < cutoff)


def _purge_items(session: Session, ids: list[int], result: PurgeResult) -> None:
    result.add("trace_steps", session.execute(delete(TraceStep).where(TraceStep.item_id.in_(ids))).rowcount)  # type: ignore[attr-defined]
    result.add("dead_letters", session.execute(delete(DeadLetter).where(DeadLetter.item_id.in_(ids))).rowcount)  # type: ignore[attr-defined]
    result.add("order_reviews", session.execute(delete(OrderReview).where(OrderReview.item_id.in_(ids))).rowcount)  # type: ignore[attr-defined]
    result.add("sync_items", session.execute(delete(SyncItem).where(SyncItem.id.in_(ids))).rowcount)  # type: ignore[attr-defined]


def purge_due(store: Store, redis: Redis, settings: Settings) -> PurgeResult | None:
    """The scheduler's purge: once per RETENTION_INTERVAL_SECONDS across every scheduler (a Redis
    key says when the last one ran); None when it is not due. RETENTION_DAYS 0 keeps everything."""
    days, interval = settings.RETENTION_DAYS, settings.RETENTION_INTERVAL_SECONDS
    days = max(days, MIN_RETENTION_DAYS) if days > 0 else days
    if days <= 0 or not redis.set(DUE_KEY, "1", nx=True, ex=max(1, int(interval))):
        return None
    result = purge(store, retention_days=days, batch_size=settings.RETENTION_BATCH_SIZE,
                   budget_seconds=settings.RETENTION_SWEEP_SECONDS)
    if result.counts:
        log.info("purged past %g days of retention: %s%s", days, ", ".join(result.lines()),
                 "" if result.finished else " (more next time)")
    if not result.finished:
        redis.delete(DUE_KEY)  # more to do: carry on at the next tick
    return result


def purge(store: Store, *, retention_days: float, batch_size: int = 500, budget_seconds: float = 5.0,
          dry_run: bool = False, now: datetime | None = None) -> PurgeResult:
    """Purge what is past retention, ``batch_size`` rows a transaction, for at most ``budget_seconds``.
    A retention shorter than MIN_RETENTION_DAYS is refused."""
    if retention_days < MIN_RETENTION_DAYS:
        raise ValueError(f"retention of {retention_days:g} days is below the minimum of {MIN_RETENTION_DAYS:g} "
                         "day: items of the last day are kept")
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    result = PurgeResult(cutoff)
    if dry_run:
        with store.session() as s:
            item_ids = select(_purgeable_items(cutoff).subquery().c.id)
            result.add("sync_items", s.scalar(select(func.count()).select_from(_purgeable_items(cutoff).subquery())) or 0)
            result.add("trace_steps", s.scalar(select(func.count()).where(TraceStep.item_id.in_(item_ids))) or 0)
            result.add("inbox_events", s.scalar(select(func.count()).select_from(_orphan_events(cutoff).subquery())) or 0)
            result.add("customer_reviews",
                       s.scalar(select(func.count()).select_from(_decided_customer_reviews(cutoff).subquery())) or 0)
        return result
    give_up = time.monotonic() + budget_seconds
    for query, purge_batch in (
        (_purgeable_items, lambda s, ids: _purge_items(s, ids, result)),
        # After the items: an event whose items are all gone goes too.
        (_orphan_events, lambda s, ids: result.add(
            "inbox_events", s.execute(delete(InboxEvent).where(InboxEvent.id.in_(ids))).rowcount)),
        (_decided_customer_reviews, lambda s, ids: result.add(
            "customer_reviews", s.execute(delete(CustomerReview).where(CustomerReview.id.in_(ids))).rowcount)),
    ):
        while True:
            if time.monotonic() > give_up:
                result.finished = False
                return result
            with store.session() as s:
                batch = list(s.scalars(query(cutoff).order_by(None).limit(batch_size)))
                if not batch:
                    break
                purge_batch(s, batch)
    return result
