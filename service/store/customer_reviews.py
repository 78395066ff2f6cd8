"""Customer reviews: pairs of records that may be one customer, queued for a person, and the decisions.

The sync queues a pair when duplicate resolution is unsure (``possible``); the review page decides it
(merged, not_same, skipped). Decided pairs are training labels for the match classifier
(:func:`write_labels`, read by ``tillbridge models train dedup --pairs``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy import and_, bindparam, func, literal, select
from sqlalchemy.exc import IntegrityError

from service.canonical.customer import MATCH_FIELDS as FIELDS
from service.store.db import Store
from service.store.tables import Binding, CustomerReview, utcnow

STATES = ("pending", "merged", "not_same", "skipped")
OPEN_STATES = ("pending", "skipped")
DECISIONS = ("merged", "not_same", "skipped")
LABELS = {"merged": 1, "not_same": 0}


class ReviewError(Exception):
    """A decision cannot be recorded; the message says why and what to do."""


@dataclass(frozen=True)
class NewPair:
    left_key: str
    left_id: str
    left: dict[str, Any]
    right_id: str
    right: dict[str, Any]
    linked_id: str
    linked_created: bool
    score: float
    drivers: list[str]
    origin: str = ""
    model_version: str = ""


def queue(store: Store, pair: NewPair) -> CustomerReview:
    """Queue a pair for review once: the same record and candidate again (a retried order) is not re-queued."""
    existing = find_pair(store, pair.left_key, pair.right_id)
    if existing is not None:
        return existing
    with store.session() as s:
        row = CustomerReview(
            left_key=pair.left_key, left_id=pair.left_id, left=pair.left, right_id=pair.right_id, right=pair.right,
            linked_id=pair.linked_id, linked_created=pair.linked_created, score=pair.score,
            drivers=list(pair.drivers), origin=pair.origin, model_version=pair.model_version, state="pending",
        )
        s.add(row)
        try:
            s.flush()
        except IntegrityError:
            s.rollback()
            found = find_pair(store, pair.left_key, pair.right_id)
            if found is None:
                raise
            return found
        return row


def find_pair(store: Store, left_key: str, right_id: str) -> CustomerReview | None:
    with store.session() as s:
        return s.scalars(
            select(CustomerReview).where(CustomerReview.left_key == left_key, CustomerReview.right_id == right_id)
        ).first()


def get(store: Store, review_id: int) -> CustomerReview | None:
    with store.session() as s:
        return s.get(CustomerReview, review_id)


def search(store: Store, states: Sequence[str] = ("pending",), *, limit: int = 50, offset: int = 0) -> list[CustomerReview]:
    """Pairs in these states; open ones oldest first (a queue), decided ones newest first (a log)."""
    with store.session() as s:
        query = select(CustomerReview).where(CustomerReview.state.in_(list(states)))
        if set(states) <= set(OPEN_STATES):
            query = query.order_by(CustomerReview.created_at, CustomerReview.id)
        else:
            query = query.order_by(CustomerReview.decided_at.desc(), CustomerReview.id.desc())
        return list(s.scalars(query.limit(limit).offset(offset)))


def counts(store: Store) -> dict[str, int]:
    with store.session() as s:
        rows = s.execute(select(CustomerReview.state, func.count()).group_by(CustomerReview.state)).all()
    found = {str(state): int(n) for state, n in rows}
    return {state: found.get(state, 0) for state in STATES}


_MERGED_TARGET = (select(CustomerReview.right_id)
                  .where(CustomerReview.left_key == bindparam("left_key"), CustomerReview.state == "merged")
                  .order_by(CustomerReview.decided_at.desc()).limit(1))


def merged_target(store: Store, left_key: str) -> str | None:
    """The Heartland customer a person merged this record into, if any (the newest decision wins).

    Asked for every order of a customer without a binding: the statement is built once, and runs
    on a connection without a transaction around it (``Store.lookup_engine``)."""
    with store.lookup_engine.connect() as conn:
        return conn.execute(_MERGED_TARGET, {"left_key": left_key}).scalar()


# The customer's Heartland binding (or none: the outer join keeps the one row) with the merged target.
_BINDINGS = Binding.__table__.c
_BINDING_AND_MERGE = (
    select(*_BINDINGS, _MERGED_TARGET.scalar_subquery().label("merged_target"))
    .select_from(select(literal(1).label("one")).subquery())
    .outerjoin(Binding.__table__, and_(_BINDINGS.entity == "customer", _BINDINGS.key == bindparam("left_key"),
                                       _BINDINGS.system == "heartland")))


def binding_and_merge(store: Store, key: str) -> tuple[Binding | None, str | None]:
    """The Heartland binding of customer ``key`` and :func:`merged_target`, in one statement.

    The orders flow reads the binding of every order's customer and, for a customer without one,
    asks duplicate resolution, whose first question is the merged target: asking both at once saves
    a round trip to PostgreSQL for each new customer. The binding comes back detached (built from
    the row, not loaded through an ORM session: a third of the read's time), to read, not to change.
    """
    with store.lookup_engine.connect() as conn:
        row = conn.execute(_BINDING_AND_MERGE, {"left_key": key}).one()._mapping
    binding = None if row["id"] is None else Binding(**{c.key: row[c] for c in _BINDINGS})
    return binding, row["merged_target"]


def decide(store: Store, review_id: int, decision: str, *, actor: str, note: str = "",
           at: datetime | None = None) -> CustomerReview:
    """Record a person's decision on an open pair (pending or skipped); merged and not_same are final."""
    if decision not in DECISIONS:
        raise ReviewError(f"unknown decision {decision!r}: use one of {', '.join(DECISIONS)}")
    with store.session() as s:
        row = s.get(CustomerReview, review_id, with_for_update=True)
        if row is None:
            raise ReviewError(f"there is no customer review {review_id}")
        if row.state not in OPEN_STATES:
            raise ReviewError(f"customer review {review_id} was already decided ({row.state} by {row.decided_by}); "
                              "decisions are final")
        row.state = decision
        row.decided_by = actor
        row.decided_at = at or utcnow()
        row.note = note
        return row


def labelled(store: Store) -> Iterable[CustomerReview]:
    with store.session() as s:
        yield from s.scalars(
            select(CustomerReview).where(CustomerReview.state.in_(list(LABELS))).order_by(CustomerReview.id)
        )


LABEL_COLUMNS = [*(f"left_{f}" for f in FIELDS), *(f"right_{f}" for f in FIELDS), "label",
                 "review_id", "left_key", "right_id", "score", "decided_by", "decided_at"]


def write_labels(store: Store, out: IO[str]) -> int:
    """Decided pairs as labelled pairs for ``tillbridge models train dedup --pairs``; returns the count.

    Columns are ``left_<field>``, ``right_<field>`` and ``label`` (1: the same customer), then where
    each label came from. Skipped and pending pairs are not labels.
    """
    writer = csv.writer(out)
    writer.writerow(LABEL_COLUMNS)
    count = 0
    for row in labelled(store):
        writer.writerow([
            *(str(row.left.get(f) or "") for f in FIELDS),
            *(str(row.right.get(f) or "") for f in FIELDS),
            LABELS[row.state], row.id, row.left_key, row.right_id, f"{row.score:.4f}", row.decided_by,
            row.decided_at.isoformat() if row.decided_at else "",
        ])
        count += 1
    return count
