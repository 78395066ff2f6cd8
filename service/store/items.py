"""Queries on sync items and their trace steps.

A run's writes are fenced: ``claim`` raises the item's ``fence`` and hands the run that token;
``finish``, ``reschedule``, ``kill`` and ``heartbeat`` change the item only while it is still
processing under that token. A run that stalled past its lease (its item reclaimed, maybe run
again) gets ``StaleRun`` and changes nothing: no overwritten outcome, no second dead letter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, insert, or_, select, update
from sqlalchemy.orm import Session

from service.kernel.cards import mask_card_numbers, mask_value, might_hold_card_numbers, screen
from service.store import bulk
from service.store.db import Store
from service.store.tables import DeadLetter, SyncItem, TraceStep, utcnow

log = logging.getLogger(__name__)

TERMINAL_STATES = ("done", "ignored", "review", "dead")
STATES = ("received", "processing", *TERMINAL_STATES)


class StaleRun(Exception):  # noqa: N818 - a state, not a failure of the item
    """The run's item was reclaimed (its lease expired): another run owns it now."""

    def __init__(self, item_id: int, fence: int) -> None:
        super().__init__(f"item {item_id}: this run's claim (fence {fence}) is stale; another run owns the item")
        self.item_id = item_id
        self.fence = fence


def _fenced(session: Session, item_id: int, fence: int, values: dict[str, Any], what: str) -> None:
    """Update the item only under the run's token; a stale run is logged, traced and refused."""
    result = session.execute(
        update(SyncItem)
        .where(SyncItem.id == item_id, SyncItem.state == "processing", SyncItem.fence == fence)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        return
    session.rollback()
    log.warning("item %s: a stale run (fence %s) tried to %s; refused", item_id, fence, what)
    session.add(TraceStep(item_id=item_id, attempt=0, step="fenced", status="warning",
                          message=f"a run that had lost this item (its lease expired) tried to {what}; refused"))
    session.commit()
    raise StaleRun(item_id, fence)


def _write(session: Session, writes: Sequence[Callable[[Session], object]]) -> None:
    """The run's own store writes (service/engine/trace.py ``write_at_end``), after its fenced update."""
    for write in writes:
        write(session)


def create(
    session: Session,
    *,
    flow: str,
    entity_key: str,
    payload: dict[str, Any],
    label: str = "",
    direction: str = "",
    source_version: str = "",
    inbox_event_id: int | None = None,
    state: str = "received",
    reason: str = "",
) -> SyncItem:
    """A new item. Its payload is screened: a card number in a record Tillbridge pulled (a poll, the
    backfill, a drift repair) is stored masked, and the item gets a ``screening`` step saying where."""
    screened = screen(payload)
    item = new_item(flow=flow, entity_key=entity_key, payload=screened.value, label=label, direction=direction,
                    source_version=source_version, inbox_event_id=inbox_event_id, state=state, reason=reason)
    session.add(item)
    session.flush()
    if screened.had_card_numbers:
        session.add(TraceStep(item_id=item.id, attempt=0, step="screening", status="warning",
                              message=screened.explain(f"the {flow} record {label or entity_key}"),
                              detail={"paths": screened.paths}))
    return item


def new_item(*, flow: str, entity_key: str, payload: dict[str, Any], label: str = "", direction: str = "",
             source_version: str = "", inbox_event_id: int | None = None, state: str = "received",
             reason: str = "") -> SyncItem:
    """The row of a new item whose payload holds no card number (refused or masked already); not added."""
    return SyncItem(**item_values(flow=flow, entity_key=entity_key, payload=payload, label=label, direction=direction,
                                  source_version=source_version, inbox_event_id=inbox_event_id, state=state,
                                  reason=reason))


def item_values(*, flow: str, entity_key: str, payload: dict[str, Any], label: str = "", direction: str = "",
                source_version: str = "", inbox_event_id: int | None = None, state: str = "received",
                reason: str = "") -> dict[str, Any]:
    """A new item's column values, for a bulk insert (its payload holds no card number)."""
    now = utcnow()
    return {
        "flow": flow,
        "direction": direction,
        "entity_key": entity_key,
        "label": mask_card_numbers(label),
        "payload": payload,
        "source_version": source_version,
        "inbox_event_id": inbox_event_id,
        "state": state,
        "reason": mask_card_numbers(reason),
        "result": {},
        "next_attempt_at": now,
        # Marked as enqueued now: the caller enqueues right after commit, and the sweeper
        # re-enqueues it if that never happened (process died between commit and enqueue).
        "enqueued_at": now if state == "received" else None,
        "finished_at": now if state in TERMINAL_STATES else None,
    }


def add_many(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert items (``item_values``) in one statement; their ids, in the order given."""
    table = cast(Table, SyncItem.__table__)
    if session.get_bind().dialect.name == "postgresql":
        # One statement text for any number of items (service/store/bulk.py); its ids rise in the
        # order given.
        return sorted(int(item_id) for (item_id,) in bulk.insert_rows(session, table, rows, returning=("id",)))
    inserted = session.connection().execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
    return [int(i) for i in inserted.scalars()]


def get(store: Store, item_id: int) -> SyncItem | None:
    with store.session() as s:
        return s.get(SyncItem, item_id)


def claim(store: Store, item_id: int, lease_seconds: float) -> SyncItem | None:
    """Move a due item from received to processing; None if another run has it or it is not due."""
    now = utcnow()
    with store.session() as s:
        result = s.execute(
            update(SyncItem)
            .where(
                SyncItem.id == item_id,
                SyncItem.state == "received",
                or_(SyncItem.next_attempt_at.is_(None), SyncItem.next_attempt_at <= now),
            )
            .values(state="processing", fence=SyncItem.fence + 1,
                    lease_until=now + timedelta(seconds=lease_seconds), updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return s.get(SyncItem, item_id)


def heartbeat(store: Store, item_id: int, fence: int, lease_seconds: float) -> bool:
    """Extend a running item's lease; False when the run has lost the item."""
    now = utcnow()
    with store.session() as s:
        result = s.execute(
            update(SyncItem)
            .where(SyncItem.id == item_id, SyncItem.state == "processing", SyncItem.fence == fence)
            .values(lease_until=now + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _add_steps(session: Session, item_id: int, attempt: int, steps: Sequence[dict[str, Any]]) -> None:
    """The run's steps in one multi-row insert (an ORM object per step costs more than the step)."""
    if not steps:
        return
    at = utcnow()
    rows = []
    for step in steps:
        # Flows fill a step's message and detail as they go: its card numbers are masked on the way in
        # (one pass over a step's detail says whether it needs the value-by-value masking).
        detail = step.get("detail") or {}
        rows.append({"item_id": item_id, "attempt": attempt, "step": step["step"],
                     "status": step.get("status") or "ok",
                     "message": mask_card_numbers(str(step.get("message") or "")),
                     "detail": mask_value(detail) if might_hold_card_numbers(detail) else detail,
                     "ms": float(step.get("ms") or 0.0), "at": at})
    session.execute(insert(TraceStep), rows)


def finish(
    store: Store,
    item_id: int,
    *,
    fence: int,
    state: str,
    reason: str,
    result: dict[str, Any],
    attempts: int,
    steps: Sequence[dict[str, Any]],
    failure_class: str = "",
    mapping_version: str = "",
    progress: dict[str, Any] | None = None,
    writes: Sequence[Callable[[Session], object]] = (),
) -> None:
    """The run's end. An item finished in review keeps the effects its runs completed
    (``progress``) for the run a person's retry starts; any other end forgets them. ``writes``
    (the run's bindings) go in the same transaction."""
    now = utcnow()
    with store.session() as s:
        _fenced(s, item_id, fence, {
            "state": state, "reason": reason, "result": result, "attempts": attempts,
            "failure_class": failure_class, "mapping_version": mapping_version, "lease_until": None,
            "next_attempt_at": None, "finished_at": now, "updated_at": now, "waiting_since": None,
            "progress": (progress or None) if state == "review" else None,
        }, f"finish it as {state}")
        _write(s, writes)
        _add_steps(s, item_id, attempts, steps)


def reschedule(
    store: Store,
    item_id: int,
    *,
    fence: int,
    delay_seconds: float,
    reason: str,
    attempts: int,
    waits: int,
    steps: Sequence[dict[str, Any]],
    failure_class: str = "",
    waiting_since: datetime | None = None,
    progress: dict[str, Any] | None = None,
    writes: Sequence[Callable[[Session], object]] = (),
) -> datetime:
    """Back to received, due in ``delay_seconds``. ``waiting_since`` is when the item began waiting
    for its destination (kept across waits, cleared by anything else); ``progress`` the effects the
    run completed (kept as they were when not given)."""
    now = utcnow()
    due = now + timedelta(seconds=delay_seconds)
    values: dict[str, Any] = {
        "state": "received", "reason": reason, "attempts": attempts, "waits": waits,
        "failure_class": failure_class, "next_attempt_at": due, "enqueued_at": None,
        "lease_until": None, "updated_at": now, "waiting_since": waiting_since,
    }
    if progress is not None:
        values["progress"] = progress or None
    with store.session() as s:
        _fenced(s, item_id, fence, values, "reschedule it")
        _write(s, writes)
        _add_steps(s, item_id, attempts, steps)
    return due


def kill(
    store: Store,
    item: SyncItem,
    *,
    fence: int,
    failure_class: str,
    error: str,
    attempts: int,
    steps: Sequence[dict[str, Any]],
    progress: dict[str, Any] | None = None,
    writes: Sequence[Callable[[Session], object]] = (),
) -> None:
    """Move an item to dead letters, keeping its original payload (once: the write is fenced) and
    the effects its runs completed (``progress``), so a retry from the dead letter resumes after them."""
    now = utcnow()
    error = mask_card_numbers(error)
    values: dict[str, Any] = {
        "state": "dead", "reason": error, "failure_class": failure_class, "attempts": attempts,
        "lease_until": None, "next_attempt_at": None, "finished_at": now, "updated_at": now,
        "waiting_since": None,
    }
    if progress is not None:
        values["progress"] = progress or None
    with store.session() as s:
        _fenced(s, item.id, fence, values, "dead-letter it")
        _write(s, writes)
        s.add(
            DeadLetter(
                item_id=item.id,
                flow=item.flow,
                failure_class=failure_class,
                error=error,
                payload=item.payload,
                attempts=attempts,
            )
        )
        _add_steps(s, item.id, attempts, steps)


def due_for_enqueue(store: Store, requeue_after_seconds: float, limit: int = 500) -> list[int]:
    """Items that should be on the queue and may not be: due retries and lost enqueues.

    Marks them enqueued in the same transaction so two schedulers do not both send them.
    """
    now = utcnow()
    stale = now - timedelta(seconds=requeue_after_seconds)
    with store.session() as s:
        query = (
            select(SyncItem.id)
            .where(
                SyncItem.state == "received",
                or_(SyncItem.next_attempt_at.is_(None), SyncItem.next_attempt_at <= now),
                or_(SyncItem.enqueued_at.is_(None), SyncItem.enqueued_at < stale),
            )
            .order_by(SyncItem.next_attempt_at, SyncItem.id)
            .limit(limit)
        )
        if not store.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        ids = list(s.scalars(query))
        if ids:
            s.execute(
                update(SyncItem)
                .where(SyncItem.id.in_(ids))
                .values(enqueued_at=now)
                .execution_options(synchronize_session=False)
            )
        return ids


def reclaim_expired(store: Store) -> list[int]:
    """Items whose worker vanished mid-run (lease expired): back to received, with a trace step."""
    now = utcnow()
    with store.session() as s:
        rows = list(
            s.execute(
                select(SyncItem.id, SyncItem.attempts).where(
                    and_(SyncItem.state == "processing", SyncItem.lease_until < now)
                )
            )
        )
        for item_id, attempts in rows:
            changed = s.execute(
                update(SyncItem)
                .where(SyncItem.id == item_id, SyncItem.state == "processing", SyncItem.lease_until < now)
                .values(
                    state="received",
                    fence=SyncItem.fence + 1,  # the lost run's token is stale from now on
                    attempts=attempts + 1,
                    reason="worker lost mid-run; retrying",
                    next_attempt_at=now,
                    enqueued_at=None,
                    lease_until=None,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if changed.rowcount == 1:  # type: ignore[attr-defined]
                s.add(
                    TraceStep(
                        item_id=item_id,
                        attempt=attempts + 1,
                        step="reclaim",
                        status="retry",
                        message="the worker running this item stopped before finishing (lease expired); re-queued",
                    )
                )
        return [item_id for item_id, _ in rows]


def steps(store: Store, item_id: int) -> list[TraceStep]:
    with store.session() as s:
        return list(s.scalars(select(TraceStep).where(TraceStep.item_id == item_id).order_by(TraceStep.id)))


def counts_by_state(store: Store) -> dict[str, int]:
    from sqlalchemy import func

    with store.session() as s:
        rows = s.execute(select(SyncItem.state, func.count()).group_by(SyncItem.state))
        return {state: int(n) for state, n in rows}


# A poll that found the record already in step: ignored, started by no event, "no change(s) …".
QUIET_POLL = and_(SyncItem.state == "ignored", SyncItem.inbox_event_id.is_(None), SyncItem.reason.ilike("no change%"))


def count_quiet_polls(store: Store, *, state: str | None = None, flow: str | None = None) -> int:
    from sqlalchemy import func

    if state not in (None, "ignored"):
        return 0
    with store.session() as s:
        query = select(func.count()).select_from(SyncItem).where(QUIET_POLL)
        if flow:
            query = query.where(SyncItem.flow == flow)
        return int(s.scalar(query) or 0)


def search(
    store: Store,
    *,
    state: str | None = None,
    flow: str | None = None,
    text: str | None = None,
    limit: int = 100,
    offset: int = 0,
    quiet: bool = True,
) -> list[SyncItem]:
    """Items newest first; ``quiet=False`` leaves out polls that found nothing new (they are counted
    on the record's timeline instead: service/operations/timeline.py)."""
    with store.session() as s:
        query = select(SyncItem).order_by(SyncItem.id.desc()).limit(limit).offset(offset)
        if not quiet:
            query = query.where(~QUIET_POLL)
        if state:
            query = query.where(SyncItem.state == state)
        if flow:
            query = query.where(SyncItem.flow == flow)
        if text:
            like = f"%{text}%"
            query = query.where(or_(SyncItem.label.ilike(like), SyncItem.entity_key.ilike(like),
                                    SyncItem.reason.ilike(like)))
        return list(s.scalars(query))


def other_in_review(store: Store, entity_key: str, item_id: int, *, session: Session | None = None
                    ) -> SyncItem | None:
    """Another item of the same record waiting in review (the oldest), if any."""
    with store.session_or(session) as s:
        return s.scalars(
            select(SyncItem)
            .where(SyncItem.entity_key == entity_key, SyncItem.state == "review", SyncItem.id != item_id)
            .order_by(SyncItem.id)
            .limit(1)
        ).first()


def other_ever_claimed(store: Store, entity_key: str, item_id: int, *, session: Session | None = None) -> bool:
    """Whether another item of the same record was ever claimed by a run (whatever its state now)."""
    with store.session_or(session) as s:
        return s.scalar(
            select(SyncItem.id).where(SyncItem.entity_key == entity_key, SyncItem.id != item_id, SyncItem.fence > 0)
            .limit(1)
        ) is not None


def latest_by_key(session: Session, flow: str, keys: Sequence[str], *, by: str = "id",
                  chunk: int = 500) -> dict[str, SyncItem]:
    """Per entity key of ``flow``, its newest item (``by="id"``) or the one at its greatest
    ``source_version`` (``by="version"``: versions compare as text, so they must be stamps of one
    shape, e.g. ISO 8601 from one source; ties go to the newest item). Pollers use it to skip
    changes an item already covers; events arrive out of order, so the newest item is not always
    the newest version."""
    from sqlalchemy import func

    names = list(dict.fromkeys(keys))
    newest: dict[str, SyncItem] = {}
    for start in range(0, len(names), chunk):
        part = names[start:start + chunk]
        scope = and_(SyncItem.flow == flow, SyncItem.entity_key.in_(part))
        if by == "version":
            top = (select(SyncItem.entity_key, func.max(SyncItem.source_version).label("version"))
                   .where(scope).group_by(SyncItem.entity_key).subquery())
            ids = (select(func.max(SyncItem.id)).join(top, and_(SyncItem.entity_key == top.c.entity_key,
                                                                 SyncItem.source_version == top.c.version))
                   .where(scope).group_by(SyncItem.entity_key))
        else:
            ids = select(func.max(SyncItem.id)).where(scope).group_by(SyncItem.entity_key)
        for row in session.scalars(select(SyncItem).where(SyncItem.id.in_(ids))):
            newest[row.entity_key] = row
    return newest


class ItemActionError(Exception):
    """A person's action on an item cannot be done; the message says why and where to act instead."""


def _open_review(store: Store, item_id: int) -> SyncItem:
    with store.session() as s:
        item = s.get(SyncItem, item_id)
        if item is None:
            raise ItemActionError(f"there is no sync item {item_id}")
        if item.state != "review":
            raise ItemActionError(f"item {item_id} is {item.state}, not waiting in review: nothing to do")
        if (item.result or {}).get("review_id"):
            raise ItemActionError("this order is held by the fraud check: approve or reject it on its order review")
        if (item.result or {}).get("quality_holds"):
            raise ItemActionError("this record is held by the data-quality check: release or reject it on "
                                  "/reviews/quality")
        return item


def retry_review(store: Store, item_id: int, *, actor: str, note: str = "") -> None:
    """Run an item waiting in review again (after the SKU, mapping or record was fixed); the caller enqueues it."""
    _open_review(store, item_id)
    now = utcnow()
    with store.session() as s:
        s.execute(update(SyncItem).where(SyncItem.id == item_id, SyncItem.state == "review").values(
            state="received", reason=f"retried by {actor} from review", failure_class="", attempts=0,
            next_attempt_at=now, enqueued_at=now, finished_at=None, updated_at=now))
        s.add(TraceStep(item_id=item_id, attempt=0, step="retry", status="ok",
                        message=f"retried from review by {actor}" + (f": {note}" if note.strip() else "")))


def resolve_review(store: Store, item_id: int, *, actor: str, note: str) -> None:
    """Close an item waiting in review without running it (e.g. handled by hand in the target)."""
    if not note.strip():
        raise ItemActionError("a note is required: say how it was resolved")
    _open_review(store, item_id)
    now = utcnow()
    with store.session() as s:
        s.execute(update(SyncItem).where(SyncItem.id == item_id, SyncItem.state == "review").values(
            state="ignored", reason=f"resolved by {actor} from review: {note.strip()}", finished_at=now,
            updated_at=now))
        s.add(TraceStep(item_id=item_id, attempt=0, step="resolve", status="ok",
                        message=f"resolved from review by {actor}: {note.strip()}"))
