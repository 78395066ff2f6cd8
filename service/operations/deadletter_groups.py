"""Dead letters grouped by signature: the same failure of the same flow, whatever record it hit.

A signature is (flow, failure class, normalised message): numbers, quoted values, e-mail
addresses and ids are replaced by placeholders, so "SKU 'AB-1' not found (order #301, line 1)" and
"SKU 'CD-2' not found (order #302, line 3)" are one group. Twenty identical failures are then one
row with one Retry (after the fix) or one Resolve with a note, each letter still recorded one by one
through service.engine.deadletters (who did it, a trace step on each item).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from service.engine import deadletters
from service.store.db import Store
from service.store.tables import DeadLetter, SyncItem

PATTERNS = (
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "<email>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<id>"),
    (re.compile(r"'[^']*'"), "'…'"),
    (re.compile(r'"[^"]*"'), '"…"'),
    (re.compile(r"\b[0-9a-f]{16,}\b", re.I), "<id>"),
    (re.compile(r"\d+(\.\d+)?"), "N"),
)
GROUP_LIMIT = 10_000


def normalise(message: str) -> str:
    text = " ".join(message.split())
    for pattern, placeholder in PATTERNS:
        text = pattern.sub(placeholder, text)
    return text


def signature(flow: str, failure_class: str, message: str) -> str:
    return hashlib.sha1(f"{flow}|{failure_class}|{normalise(message)}".encode()).hexdigest()[:12]


@dataclass
class Group:
    signature: str
    flow: str
    failure_class: str
    pattern: str
    letter_ids: list[int] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # the records' names, newest first
    first_at: datetime | None = None
    last_at: datetime | None = None

    @property
    def count(self) -> int:
        return len(self.letter_ids)


def open_groups(store: Store, flow: str | None = None) -> list[Group]:
    """Open dead letters by signature, the largest group first."""
    found: dict[str, Group] = {}
    with store.session() as s:
        q = (select(DeadLetter, SyncItem.label).join(SyncItem, SyncItem.id == DeadLetter.item_id, isouter=True)
             .where(DeadLetter.resolved_at.is_(None)).order_by(DeadLetter.id.desc()).limit(GROUP_LIMIT))
        if flow:
            q = q.where(DeadLetter.flow == flow)
        for letter, label in s.execute(q):
            key = signature(letter.flow, letter.failure_class, letter.error)
            group = found.get(key)
            if group is None:
                group = found[key] = Group(key, letter.flow, letter.failure_class, normalise(letter.error))
            group.letter_ids.append(letter.id)
            group.labels.append(label or f"item {letter.item_id}")
            group.last_at = max(filter(None, (group.last_at, letter.created_at)))
            group.first_at = min(filter(None, (group.first_at, letter.created_at)))
    return sorted(found.values(), key=lambda g: (-g.count, g.flow, g.pattern))


def find(store: Store, key: str) -> Group | None:
    return next((g for g in open_groups(store) if g.signature == key), None)


def retry(store: Store, key: str, *, actor: str) -> list[int]:
    """Retry every open dead letter of the group as-is; returns the item ids to enqueue."""
    group = find(store, key)
    if group is None:
        raise deadletters.DeadLetterError("no open dead letters have that signature any more: "
                                          "they were retried or resolved meanwhile")
    return [deadletters.retry(store, letter_id, actor=actor) for letter_id in group.letter_ids]


def resolve(store: Store, key: str, *, actor: str, note: str) -> int:
    if not note.strip():
        raise deadletters.DeadLetterError("a note is required: say how they were resolved")
    group = find(store, key)
    if group is None:
        raise deadletters.DeadLetterError("no open dead letters have that signature any more: "
                                          "they were retried or resolved meanwhile")
    for letter_id in group.letter_ids:
        deadletters.resolve(store, letter_id, actor=actor, note=note)
    return group.count
