"""Acting on dead letters: list, show, retry (as-is or with an edited payload), resolve with a note.

Retrying puts the same sync item back to received with its original (or edited) payload, so the
trace keeps the whole story; the dead letter is marked retried, with who and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from service.kernel.cards import CardNumberRefused, refuse_card_numbers
from service.store.db import Store
from service.store.tables import DeadLetter, SyncItem, TraceStep, utcnow


@dataclass
class DeadLetterFilter:
    flow: str | None = None
    failure_class: str | None = None
    open_only: bool = True
    text: str | None = None


def query(store: Store, f: DeadLetterFilter | None = None, limit: int = 200) -> list[DeadLetter]:
    f = f or DeadLetterFilter()
    with store.session() as s:
        q = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
        if f.open_only:
            q = q.where(DeadLetter.resolved_at.is_(None))
        if f.flow:
            q = q.where(DeadLetter.flow == f.flow)
        if f.failure_class:
            q = q.where(DeadLetter.failure_class == f.failure_class)
        if f.text:
            q = q.where(DeadLetter.error.ilike(f"%{f.text}%"))
        return list(s.scalars(q))


def get(store: Store, dead_letter_id: int) -> DeadLetter | None:
    with store.session() as s:
        return s.get(DeadLetter, dead_letter_id)


class DeadLetterError(Exception):
    """The action cannot be done; the message says why."""


class CardNumberInPayload(DeadLetterError):
    """An edited payload holds a card number: refused, nothing is stored."""


def retry(store: Store, dead_letter_id: int, *, actor: str, payload: dict[str, Any] | None = None) -> int:
    """Send the item back to the queue (the caller enqueues the returned item id).

    An edited payload is screened like an ingested event: one holding a card number is refused."""
    if payload is not None:
        try:
            refuse_card_numbers(payload, "the edited payload")
        except CardNumberRefused as exc:
            raise CardNumberInPayload(str(exc)) from None
    now = utcnow()
    with store.session() as s:
        letter = s.get(DeadLetter, dead_letter_id)
        if letter is None:
            raise DeadLetterError(f"dead letter {dead_letter_id} does not exist")
        if letter.resolved_at is not None:
            raise DeadLetterError(f"dead letter {dead_letter_id} was already {letter.resolution} "
                                  f"by {letter.resolved_by or 'someone'}")
        values: dict[str, Any] = {
            "state": "received",
            "reason": f"retried by {actor}",
            "failure_class": "",
            "attempts": 0,
            "next_attempt_at": now,
            "enqueued_at": now,
            "finished_at": None,
            "updated_at": now,
        }
        edited = payload is not None
        if edited:
            # New input: the effects kept for the old payload are not resumed past; each effect
            # step finds what was done before by its idempotency key instead.
            values["payload"] = payload
            values["progress"] = None
        s.execute(update(SyncItem).where(SyncItem.id == letter.item_id).values(**values))
        letter.resolved_at = now
        letter.resolution = "retried"
        letter.resolved_by = actor
        s.add(TraceStep(item_id=letter.item_id, attempt=0, step="retry", status="ok",
                        message=f"dead letter {letter.id} retried by {actor}"
                                + (" with an edited payload" if edited else " as-is")))
        return letter.item_id


def resolve(store: Store, dead_letter_id: int, *, actor: str, note: str) -> None:
    """Close a dead letter without retrying (e.g. fixed by hand in the target)."""
    if not note.strip():
        raise DeadLetterError("a note is required: say how it was resolved")
    now = utcnow()
    with store.session() as s:
        letter = s.get(DeadLetter, dead_letter_id)
        if letter is None:
            raise DeadLetterError(f"dead letter {dead_letter_id} does not exist")
        if letter.resolved_at is not None:
            raise DeadLetterError(f"dead letter {dead_letter_id} was already {letter.resolution}")
        letter.resolved_at = now
        letter.resolution = "resolved"
        letter.resolved_by = actor
        letter.note = note
        s.execute(update(SyncItem).where(SyncItem.id == letter.item_id)
                  .values(reason=f"dead: resolved by {actor}: {note}", updated_at=now))
        s.add(TraceStep(item_id=letter.item_id, attempt=0, step="resolve", status="ok",
                        message=f"dead letter {letter.id} resolved by {actor}: {note}"))


def retry_matching(store: Store, f: DeadLetterFilter, *, actor: str) -> list[int]:
    """Bulk retry by filter; returns the item ids to enqueue."""
    return [retry(store, letter.id, actor=actor) for letter in query(store, f, limit=10_000)]
