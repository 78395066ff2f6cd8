"""The effects workflow steps send (notices, HTTP calls), each recorded by its idempotency key.

``begin`` before the call says whether to send (a new key, or one left pending by a run that died
before it could mark it sent: sent again under the same key, which the receiver deduplicates on) or
to skip (already sent). ``sent`` after the call marks it. A run's trace says which it was.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service.store.db import Store
from service.store.tables import utcnow
from service.store.workflow_tables import WorkflowEffect


def begin(store: Store, key: str, *, workflow: str, version: int, step: str, binding: str, item_id: int | None,
          target: str) -> str:
    """``"send"`` or ``"sent"`` (already sent by an earlier run of any item with this key)."""
    with store.session() as s:
        row = s.get(WorkflowEffect, key)
        if row is not None:
            return "sent" if row.state == "sent" else "send"
    try:
        with store.session() as s:
            s.add(WorkflowEffect(key=key, workflow=workflow, version=version, step=step, binding=binding,
                                 item_id=item_id, state="pending", target=target[:200]))
    except IntegrityError:
        # Another run wrote the key between the read and the insert: it sends, this one reads again.
        return begin(store, key, workflow=workflow, version=version, step=step, binding=binding,
                     item_id=item_id, target=target)
    return "send"


def sent(store: Store, key: str, answer: str) -> None:
    with store.session() as s:
        row = s.get(WorkflowEffect, key)
        if row is not None:
            row.state = "sent"
            row.sent_at = utcnow()
            row.answer = answer[:500]


def state(store: Store, key: str) -> str:
    """``sent``, ``pending`` or ``""`` (never tried): what a dry run says of an effect."""
    with store.session() as s:
        row = s.scalar(select(WorkflowEffect).where(WorkflowEffect.key == key))
        return row.state if row is not None else ""
