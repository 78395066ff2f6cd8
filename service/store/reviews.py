"""Order reviews (orders the anomaly scorer held for the risk team) and the order facts they read.

A decision moves the review, its sync item and the item's trace in one transaction, so the queue,
the item's state and its trace never disagree. Magento (hold, unhold, cancel) is called by
service/flows/checks/fraud.py around these queries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.store.db import Store, conflict_insert
from service.store.tables import OrderFact, OrderReview, SyncItem, TraceStep, utcnow

STATES = ("queued", "approved", "rejected", "escalated")
OPEN_STATES = ("queued", "escalated")
DECISIONS = {"approve": "approved", "reject": "rejected", "escalate": "escalated"}
LABELS = {"rejected": "fraud", "approved": "legitimate"}


class ReviewError(Exception):
    """A decision that cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class ReviewFilter:
    state: str | None = "open"  # open (queued + escalated), one of STATES, or None for all
    min_score: float | None = None
    max_score: float | None = None
    text: str | None = None  # order number or email contains
    sort: str = "newest"  # newest | score


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


# -- order facts ------------------------------------------------------------------------------------
def record_fact(store: Store, *, order_key: str, entity_id: str, increment_id: str, email: str,
                address_key: str | None, card: str | None, total: float, currency: str, created_at: datetime,
                features: Mapping[str, float], score: float | None, model_version: str) -> None:
    """Remember an order for later orders' velocity features; a re-run updates the same row."""
    values: dict[str, Any] = {
        "entity_id": entity_id, "increment_id": increment_id, "email": email.lower(),
        "address_key": address_key or "", "card": card or "", "total": float(total), "currency": currency,
        "created_at": _naive_utc(created_at), "features": dict(features), "score": score,
        "model_version": model_version,
    }
    # One statement either way (insert, or update the row of an earlier run of the same order), in
    # a transaction of its own without an ORM session around it.
    with store.engine.begin() as conn:
        dialect_insert = conflict_insert(conn.dialect)
        upsert = dialect_insert(OrderFact).values(order_key=order_key, **values)
        conn.execute(upsert.on_conflict_do_update(index_elements=["order_key"],
                                                  set_={name: upsert.excluded[name] for name in values}))


def customer_orders(store: Store, email: str, *, exclude_key: str = "", limit: int = 50) -> list[OrderFact]:
    """The customer's orders we have seen (newest first), without the one under review."""
    if not email:
        return []
    with store.session() as s:
        query = (select(OrderFact).where(OrderFact.email == email.lower(), OrderFact.order_key != exclude_key)
                 .order_by(OrderFact.created_at.desc()).limit(limit))
        return list(s.scalars(query))


def facts_between(store: Store, since: datetime | None = None, until: datetime | None = None) -> list[OrderFact]:
    """Scored orders in a time window (by order time), oldest first: the rows training reads."""
    with store.session() as s:
        query = select(OrderFact).where(OrderFact.score.is_not(None)).order_by(OrderFact.created_at, OrderFact.id)
        if since is not None:
            query = query.where(OrderFact.created_at >= _naive_utc(since))
        if until is not None:
            query = query.where(OrderFact.created_at < _naive_utc(until))
        return list(s.scalars(query))


# -- reviews ----------------------------------------------------------------------------------------
def find(store: Store, order_key: str, *, session: Session | None = None) -> OrderReview | None:
    with store.session_or(session) as s:
        return s.scalars(select(OrderReview).where(OrderReview.order_key == order_key)).first()


def get(store: Store, review_id: int) -> OrderReview | None:
    with store.session() as s:
        return s.get(OrderReview, review_id)


def open_review(store: Store, **fields: Any) -> tuple[OrderReview, bool]:
    """Queue an order for review, once per order: (the review, whether this call created it)."""
    existing = find(store, fields["order_key"])
    if existing is not None:
        return existing, False
    try:
        with store.session() as s:
            review = OrderReview(state="queued", **fields)
            s.add(review)
            s.flush()
            return review, True
    except IntegrityError:  # a concurrent run of the same order queued it first
        review_ = find(store, fields["order_key"])
        assert review_ is not None
        return review_, False


def query(store: Store, f: ReviewFilter, *, limit: int = 50, offset: int = 0) -> list[OrderReview]:
    with store.session() as s:
        q = select(OrderReview)
        if f.state == "open":
            q = q.where(OrderReview.state.in_(OPEN_STATES))
        elif f.state:
            q = q.where(OrderReview.state == f.state)
        if f.min_score is not None:
            q = q.where(OrderReview.score >= f.min_score)
        if f.max_score is not None:
            q = q.where(OrderReview.score <= f.max_score)
        if f.text:
            like = f"%{f.text.strip()}%"
            q = q.where(OrderReview.increment_id.ilike(like) | OrderReview.email.ilike(like))
        if f.sort == "score":
            q = q.order_by(OrderReview.score.desc(), OrderReview.created_at.desc(), OrderReview.id.desc())
        else:
            q = q.order_by(OrderReview.created_at.desc(), OrderReview.score.desc(), OrderReview.id.desc())
        return list(s.scalars(q.limit(limit).offset(offset)))


def counts_by_state(store: Store) -> dict[str, int]:
    with store.session() as s:
        rows = s.execute(select(OrderReview.state, func.count()).group_by(OrderReview.state))
        return {state: int(n) for state, n in rows}


def decide(store: Store, review_id: int, decision: str, *, actor: str, note: str = "",
           trace_message: str = "") -> OrderReview:
    """Record a decision on an open review, and move its item: approve → received (to be enqueued
    by the caller), reject → ignored, escalate → stays in review. Raises ReviewError when the
    review is unknown or already decided."""
    state = DECISIONS.get(decision)
    if state is None:
        raise ReviewError(f"unknown decision {decision!r}: use one of {', '.join(DECISIONS)}")
    now = utcnow()
    with store.session() as s:
        review = s.get(OrderReview, review_id)
        if review is None:
            raise ReviewError(f"there is no order review {review_id}")
        allowed = ("queued",) if state == "escalated" else OPEN_STATES
        changed = s.execute(
            update(OrderReview)
            .where(OrderReview.id == review_id, OrderReview.state.in_(allowed))
            .values(state=state, decided_by=actor, decided_at=now, note=note)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            raise ReviewError(f"order #{review.increment_id} was already {review.state} by {review.decided_by or '?'}"
                              f"{' at ' + review.decided_at.strftime('%Y-%m-%d %H:%M UTC') if review.decided_at else ''}"
                              ": reload the queue")
        item = s.get(SyncItem, review.item_id)
        message = trace_message or f"{state} by {actor}" + (f": {note}" if note else "")
        if item is not None:
            values: dict[str, Any] = {"updated_at": now}
            if state == "approved":
                values.update(state="received", reason=f"approved by {actor} in order review; syncing",
                              next_attempt_at=now, enqueued_at=now, lease_until=None, finished_at=None,
                              failure_class="")
            elif state == "rejected":
                values.update(state="ignored", reason=f"rejected by {actor}" + (f": {note}" if note else ""),
                              finished_at=now, next_attempt_at=None)
            else:
                said = f": {note}" if note else ""
                values.update(reason=f"escalated by {actor}{said}; {item.reason}")
            s.execute(update(SyncItem).where(SyncItem.id == item.id).values(**values)
                      .execution_options(synchronize_session=False))
            s.add(TraceStep(item_id=item.id, attempt=item.attempts, step="review",
                            status="ok" if state == "approved" else "review", message=message,
                            detail={"decision": state, "by": actor, "note": note, "review_id": review_id}))
        s.flush()
        s.refresh(review)
        return review


def labels(store: Store) -> dict[str, str]:
    """Decided reviews as training labels by order key: fraud (rejected) or legitimate (approved)."""
    with store.session() as s:
        rows = s.execute(select(OrderReview.order_key, OrderReview.state)
                         .where(OrderReview.state.in_(tuple(LABELS))))
        return {key: LABELS[state] for key, state in rows}

