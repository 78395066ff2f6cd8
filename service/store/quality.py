"""Queries of the data-quality guard: the history each SKU's writes leave per field, the findings
of the ``quality`` step, and people's decisions on held records (which move their items and are
the labels that tune the thresholds). Tables in service/store/quality_tables.py."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from service.store.db import Store
from service.store.quality_tables import QualityFinding, QualityHistory
from service.store.tables import SyncItem, TraceStep, utcnow

STATES = ("open", "released", "rejected", "noted")
DECISIONS = {"release": "released", "reject": "rejected"}


class QualityDecisionError(Exception):
    """A decision on a held record that cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class FieldHistory:
    value: float
    changes: tuple[float, ...]
    low: float
    high: float
    writes: int
    first_seen: datetime | None = None


@dataclass(frozen=True)
class FindingFilter:
    state: str | None = "open"  # one of STATES, or None for all
    flow: str | None = None
    group: str | None = None
    text: str | None = None  # SKU or label contains


# -- history --------------------------------------------------------------------------------------------
def history(store: Store, entity_key: str) -> dict[str, FieldHistory]:
    """The record's fields as last written, with their recent changes (one indexed read)."""
    with store.session() as s:
        rows = s.execute(select(QualityHistory.field, QualityHistory.value, QualityHistory.changes,
                                QualityHistory.low, QualityHistory.high, QualityHistory.writes,
                                QualityHistory.first_seen).where(QualityHistory.entity_key == entity_key))
        return {f: FieldHistory(float(v), tuple(float(c) for c in (ch or ())), float(lo), float(hi), int(n), first)
                for f, v, ch, lo, hi, n, first in rows}


def record_writes(store: Store, *, entity_key: str, sku: str, category: str,
                  rows: Mapping[str, tuple[float, Sequence[float]]], known: Mapping[str, FieldHistory]) -> None:
    """After a successful write: each field's value and its changes (computed by the caller from
    ``known``, the history its check read under the record's lock), in one upsert statement."""
    if not rows:
        return
    now = utcnow()
    values = []
    for field, (value, changes) in rows.items():
        was = known.get(field)
        values.append({"entity_key": entity_key, "field": field, "sku": sku[:128], "category": category[:128],
                       "value": float(value), "changes": [float(c) for c in changes],
                       "low": min(value, was.low) if was else float(value),
                       "high": max(value, was.high) if was else float(value),
                       "writes": 1, "first_seen": now, "updated_at": now})
    dialect = sqlite if store.is_sqlite else postgresql
    statement = dialect.insert(QualityHistory).values(values)
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["entity_key", "field"],
        set_={"value": excluded.value, "changes": excluded.changes, "low": excluded.low, "high": excluded.high,
              "sku": excluded.sku, "category": excluded.category, "updated_at": excluded.updated_at,
              "writes": QualityHistory.writes + 1})
    with store.session() as s:
        s.execute(statement)


def category_rows(store: Store, *, most: int = 20_000, batch: int = 5000) -> Iterator[tuple[str, str, list[float]]]:
    """(category, field, changes) of the records with history, read in batches: all of them up to
    ``most`` rows, else an even sample of about that many (every k-th row by id)."""
    with store.session() as s:
        total = int(s.scalar(select(func.count()).select_from(QualityHistory)) or 0)
    stride = max(1, -(-total // most))
    last = 0
    while True:
        with store.session() as s:
            query = select(QualityHistory.id, QualityHistory.category, QualityHistory.field,
                           QualityHistory.changes).where(QualityHistory.id > last)
            if stride > 1:
                query = query.where(QualityHistory.id % stride == 0)
            rows = list(s.execute(query.order_by(QualityHistory.id).limit(batch)))
        if not rows:
            return
        for _, category, field, changes in rows:
            yield category, field, list(changes or ())
        last = rows[-1][0]


def catalogue_size(store: Store, field: str, key_prefix: str) -> int:
    """Records with a history of ``field`` under a flow's key prefix."""
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(QualityHistory).where(
            QualityHistory.field == field, QualityHistory.entity_key.startswith(key_prefix))) or 0)


def changed_within(store: Store, *, flow: str, field: str, since: datetime) -> int:
    """Records with a history of ``field`` that got an item of ``flow`` since ``since``, created after
    the record was first written (a first load is not a change)."""
    with store.session() as s:
        return int(s.scalar(
            select(func.count(func.distinct(SyncItem.entity_key)))
            .select_from(SyncItem)
            .join(QualityHistory, (QualityHistory.entity_key == SyncItem.entity_key) & (QualityHistory.field == field))
            .where(SyncItem.flow == flow, SyncItem.created_at >= since,
                   SyncItem.created_at > QualityHistory.first_seen)) or 0)


# -- findings -------------------------------------------------------------------------------------------
def for_item(store: Store, item_id: int) -> list[QualityFinding]:
    with store.session() as s:
        return list(s.scalars(select(QualityFinding).where(QualityFinding.item_id == item_id)
                              .order_by(QualityFinding.id)))


def add(store: Store, rows: Sequence[Mapping[str, Any]]) -> list[QualityFinding]:
    with store.session() as s:
        added = [QualityFinding(**{"decided_by": "", "note": "", "group_key": "", **row}) for row in rows]
        s.add_all(added)
        s.flush()
        return added


def rejected(store: Store, entity_key: str, field: str, after: Any) -> QualityFinding | None:
    """A hold of this record's field at this value that a person rejected: the value stays out."""
    with store.session() as s:
        rows = s.scalars(select(QualityFinding).where(
            QualityFinding.entity_key == entity_key, QualityFinding.field == field,
            QualityFinding.state == "rejected").order_by(QualityFinding.id.desc()).limit(20))
        return next((r for r in rows if r.after == after), None)


def open_group(store: Store, *, flow: str, field: str, check: str, since: datetime) -> str | None:
    """The group of an open hold of this kind created since ``since`` (a bulk change held as one)."""
    with store.session() as s:
        return s.scalar(select(QualityFinding.group_key).where(
            QualityFinding.flow == flow, QualityFinding.field == field, QualityFinding.check == check,
            QualityFinding.state == "open", QualityFinding.group_key != "", QualityFinding.created_at >= since)
            .order_by(QualityFinding.id).limit(1))


def labels(store: Store) -> dict[str, tuple[list[float], list[float]]]:
    """Per field, the scores of decided change holds: (released, rejected)."""
    out: dict[str, tuple[list[float], list[float]]] = {}
    with store.session() as s:
        rows = s.execute(select(QualityFinding.field, QualityFinding.state, QualityFinding.score).where(
            QualityFinding.check == "change", QualityFinding.state.in_(("released", "rejected")),
            QualityFinding.score.is_not(None)))
        for field, state, score in rows:
            released, rejected_ = out.setdefault(field, ([], []))
            (released if state == "released" else rejected_).append(float(score or 0.0))
    return out


def noted_since(store: Store, since: datetime) -> list[tuple[str, str, int]]:
    """Warnings and fixes written on since ``since``: (flow, field, how many)."""
    with store.session() as s:
        rows = s.execute(select(QualityFinding.flow, QualityFinding.field, func.count()).where(
            QualityFinding.state == "noted", QualityFinding.created_at >= since)
            .group_by(QualityFinding.flow, QualityFinding.field))
        return [(flow, field, int(n)) for flow, field, n in rows]


def get(store: Store, finding_id: int) -> QualityFinding | None:
    with store.session() as s:
        return s.get(QualityFinding, finding_id)


def query(store: Store, f: FindingFilter, *, limit: int = 50, offset: int = 0) -> list[QualityFinding]:
    """Holds (not the warnings written on) matching the filter, newest first."""
    with store.session() as s:
        q = select(QualityFinding).where(QualityFinding.action == "hold")
        if f.state:
            q = q.where(QualityFinding.state == f.state)
        if f.flow:
            q = q.where(QualityFinding.flow == f.flow)
        if f.group:
            q = q.where(QualityFinding.group_key == f.group)
        if f.text:
            like = f"%{f.text.strip()}%"
            q = q.where(QualityFinding.sku.ilike(like) | QualityFinding.label.ilike(like))
        q = q.order_by(QualityFinding.created_at.desc(), QualityFinding.id.desc())
        return list(s.scalars(q.limit(limit).offset(offset)))


def counts_by_state(store: Store) -> dict[str, int]:
    with store.session() as s:
        rows = s.execute(select(QualityFinding.state, func.count()).where(QualityFinding.action == "hold")
                         .group_by(QualityFinding.state))
        return {state: int(n) for state, n in rows}


def open_groups(store: Store) -> list[tuple[str, int, str, datetime]]:
    """Bulk changes waiting for a decision: (group, open holds, field, first held at)."""
    with store.session() as s:
        rows = s.execute(select(QualityFinding.group_key, func.count(func.distinct(QualityFinding.item_id)),
                                func.min(QualityFinding.field), func.min(QualityFinding.created_at))
                         .where(QualityFinding.state == "open", QualityFinding.group_key != "")
                         .group_by(QualityFinding.group_key).order_by(func.min(QualityFinding.created_at)))
        return [(g, int(n), field, first) for g, n, field, first in rows]


def group_items(store: Store, group: str) -> list[int]:
    with store.session() as s:
        return sorted({int(i) for i in s.scalars(select(QualityFinding.item_id).where(
            QualityFinding.group_key == group, QualityFinding.state == "open",
            QualityFinding.item_id.is_not(None))) if i is not None})


def decide(store: Store, item_id: int, decision: str, *, actor: str, note: str = "") -> list[QualityFinding]:
    """Release (the item runs again and writes, once) or reject (ignored, the source keeps its
    value) every open hold of one item, moving the item and adding a trace step in the same
    transaction. Raises QualityDecisionError when there is nothing open to decide."""
    state = DECISIONS.get(decision)
    if state is None:
        raise QualityDecisionError(f"unknown decision {decision!r}: use release or reject")
    now = utcnow()
    said = f": {note}" if note else ""
    with store.session() as s:
        holds = list(s.scalars(select(QualityFinding).where(QualityFinding.item_id == item_id,
                                                            QualityFinding.action == "hold")))
        if not holds:
            raise QualityDecisionError(f"item {item_id} has no data-quality hold")
        changed = s.execute(update(QualityFinding).where(
            QualityFinding.item_id == item_id, QualityFinding.action == "hold", QualityFinding.state == "open")
            .values(state=state, decided_by=actor, decided_at=now, note=note)
            .execution_options(synchronize_session=False))
        if not changed.rowcount:  # type: ignore[attr-defined]
            done = holds[-1]
            raise QualityDecisionError(f"{done.label or done.sku} was already {done.state} by {done.decided_by or '?'}"
                                       ": reload the queue")
        item = s.get(SyncItem, item_id)
        what = "; ".join(h.reason for h in holds if h.state == "open")
        if item is not None:
            values: dict[str, Any] = {"updated_at": now}
            if state == "released":
                values.update(state="received", reason=f"released by {actor} from the data-quality review; writing",
                              next_attempt_at=now, enqueued_at=now, lease_until=None, finished_at=None,
                              failure_class="", attempts=0)
            else:
                values.update(state="ignored", finished_at=now, next_attempt_at=None,
                              reason=f"rejected by {actor} in the data-quality review{said}; not written, the "
                                     f"source keeps its value ({what})")
            s.execute(update(SyncItem).where(SyncItem.id == item_id, SyncItem.state == "review").values(**values)
                      .execution_options(synchronize_session=False))
            s.add(TraceStep(item_id=item_id, attempt=item.attempts, step="quality review",
                            status="ok" if state == "released" else "review",
                            message=f"{state} by {actor}{said}", detail={"decision": state, "by": actor}))
        s.flush()
        return list(s.scalars(select(QualityFinding).where(QualityFinding.item_id == item_id)
                              .order_by(QualityFinding.id)))
