"""One record's story across both systems: every event, poll, step, effect, review and dead letter.

Sync items are per event; a person thinks per record ("order #000000301", "SKU CAP-1202",
"ann@example.com"). A timeline starts from what the person typed and finds:

- the record's keys: items whose entity key is it, or whose label names it; bindings whose
  external id or reference is it (Heartland order #30031 → the Magento order it was made from);
- its names: the numbers people use for it on both sides (the Magento increment id, the Heartland
  order number from the binding), used to find the items of other flows that name it (the
  shipment "for Magento order #000000301", the return "against order #30031");
- for each item: what started it (an event, with its type, or a poll), the steps that wrote
  somewhere (effects), its outcome, its dead letters and its order review; the record's bindings.

Polls that found nothing new ("no changes since the last write") are counted on the record, not
listed one by one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select

from service.store.db import Store
from service.store.tables import Binding, DeadLetter, InboxEvent, OrderReview, SyncItem, TraceStep

ITEM_LIMIT = 300
WRITES = ("POST ", "PUT ", "PATCH ", "DELETE ")
NO_CHANGE = re.compile(r"^no changes?\b", re.I)
NUMBER_IN_LABEL = re.compile(r"#\s?([\w-]+)")


@dataclass
class Entry:
    at: datetime
    kind: str  # event | poll | effect | outcome | dead_letter | review | binding
    title: str
    detail: str = ""
    item_id: int | None = None
    state: str = ""  # an outcome's item state, a dead letter's or review's status
    link: str = ""  # an endpoint name for url_for, with ``link_args``
    link_args: dict[str, Any] = field(default_factory=dict)


@dataclass
class Timeline:
    query: str
    title: str
    names: list[str]
    keys: list[str]
    items: list[SyncItem]
    entries: list[Entry]
    no_change_polls: int = 0
    last_no_change_at: datetime | None = None
    truncated: bool = False


def _aware(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _word(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])", re.I)


def _customer_email(payload: Any, depth: int = 0) -> str:
    """A Magento order's ``customer_email``, wherever the event put the order."""
    if not isinstance(payload, dict) or depth > 3:
        return ""
    value = payload.get("customer_email")
    if isinstance(value, str) and "@" in value:
        return value
    return next((e for v in payload.values() if (e := _customer_email(v, depth + 1))), "")


def find(store: Store, query: str) -> Timeline | None:
    q = query.strip()
    if len(q) < 2:
        return None
    with store.session() as s:
        keys: set[str] = set()
        names: set[str] = set()
        padded = q.lstrip("#")
        label_terms = {f"%#{padded}", f"% {q}", f"%#{padded.zfill(9)}" if padded.isdigit() else f"% {q}"}
        exact = list(s.scalars(select(SyncItem).where(or_(SyncItem.entity_key == q,
                                                          *[SyncItem.label.ilike(t) for t in label_terms]))
                               .limit(ITEM_LIMIT)))
        if not exact and not padded.isdigit():
            exact = list(s.scalars(select(SyncItem).where(SyncItem.label.ilike(f"%{q}%")).limit(ITEM_LIMIT)))
        for item in exact:
            keys.add(item.entity_key)
            names.update(f"#{n}" for n in NUMBER_IN_LABEL.findall(item.label or ""))
        bindings = list(s.scalars(select(Binding).where(or_(
            Binding.external_ref == padded, Binding.external_id == padded, Binding.key == q,
            *[Binding.key == k.split(":", 1)[1] for k in keys if ":" in k]))))
        for b in bindings:
            keys.update(k for k in s.scalars(select(SyncItem.entity_key).where(SyncItem.entity_key.like(f"%:{b.key}"))
                                             .distinct()))
            if b.external_ref:
                names.add(f"#{b.external_ref}")
        for label, payload in s.execute(select(SyncItem.label, SyncItem.payload)
                                        .where(SyncItem.entity_key.in_(keys)).limit(50)):
            names.update(f"#{n}" for n in NUMBER_IN_LABEL.findall(label or ""))
            email = _customer_email(payload)
            if email:
                names.add(email)  # the order's customer: its syncs and polls are part of the order's story
        if not padded.isdigit():
            names.add(q)  # a SKU or an e-mail: every item that names it belongs to the record
        if not keys and not names:
            return None
        conditions = [SyncItem.entity_key.in_(keys)] if keys else []
        for name in names:
            conditions += [SyncItem.label.ilike(f"%{name}%"), SyncItem.reason.ilike(f"%{name}%")]
        candidates = list(s.scalars(select(SyncItem).where(or_(*conditions)).order_by(SyncItem.id)
                                    .limit(ITEM_LIMIT + 1)))
        patterns = [_word(n) for n in names]
        chosen = [i for i in candidates
                  if i.entity_key in keys or any(p.search(i.label or "") or p.search(i.reason or "") for p in patterns)]
        truncated = len(candidates) > ITEM_LIMIT
        chosen = chosen[:ITEM_LIMIT]
        if not chosen:
            return None
        item_ids = [i.id for i in chosen]
        events = {e.id: e for e in s.scalars(select(InboxEvent).where(
            InboxEvent.id.in_([i.inbox_event_id for i in chosen if i.inbox_event_id])))}
        effects = list(s.scalars(select(TraceStep).where(TraceStep.item_id.in_(item_ids)).order_by(TraceStep.id)))
        letters = list(s.scalars(select(DeadLetter).where(DeadLetter.item_id.in_(item_ids))))
        order_reviews = list(s.scalars(select(OrderReview).where(OrderReview.item_id.in_(item_ids))))
        record_bindings = list(s.scalars(select(Binding).where(Binding.key.in_(
            {k.split(":", 1)[1] for k in keys if ":" in k} | {b.key for b in bindings}))))
    return _build(q, chosen, events, effects, letters, order_reviews, record_bindings, sorted(names), sorted(keys),
                  truncated)


def _build(q: str, chosen: list[SyncItem], events: dict[int, InboxEvent], steps: list[TraceStep],
           letters: list[DeadLetter], order_reviews: list[OrderReview], bindings: list[Binding], names: list[str],
           keys: list[str], truncated: bool) -> Timeline:
    entries: list[Entry] = []
    no_change = 0
    last_no_change: datetime | None = None
    quiet: set[int] = set()
    last_step: dict[int, datetime] = {}
    for step in steps:
        last_step[step.item_id] = max(_aware(step.at), last_step.get(step.item_id, _aware(None)))
    for item in chosen:
        event = events.get(item.inbox_event_id or 0)
        if event is None and item.state == "ignored" and NO_CHANGE.search(item.reason or ""):
            no_change += 1
            last_no_change = max(_aware(last_no_change), _aware(item.finished_at or item.created_at))
            quiet.add(item.id)
            continue
        if event is not None:
            entries.append(Entry(_aware(event.received_at), "event", f"{event.source} {event.event_type}",
                                 f"{item.flow} · {item.label}", item.id, link="items.show",
                                 link_args={"item_id": item.id}))
        else:
            entries.append(Entry(_aware(item.created_at), "poll", f"{item.flow}: picked up by a poll or a repair",
                                 item.label, item.id, link="items.show", link_args={"item_id": item.id}))
        if item.finished_at is not None or item.state in ("received", "processing"):
            ended = max(_aware(item.finished_at or item.updated_at), last_step.get(item.id, _aware(None)))
            entries.append(Entry(ended, "outcome", f"{item.flow} {item.state}",
                                 item.reason, item.id, state=item.state, link="items.show",
                                 link_args={"item_id": item.id}))
    for step in steps:
        if step.item_id in quiet or not step.message.startswith(WRITES):
            continue
        entries.append(Entry(_aware(step.at), "effect", step.message, f"{step.step} · attempt {step.attempt}",
                             step.item_id, state=step.status, link="items.show", link_args={"item_id": step.item_id}))
    for letter in letters:
        entries.append(Entry(_aware(letter.created_at), "dead_letter", f"dead letter #{letter.id} ({letter.failure_class})",
                             letter.error, letter.item_id, state=letter.resolution or "open", link="dead_letters.show",
                             link_args={"letter_id": letter.id}))
    for review in order_reviews:
        entries.append(Entry(_aware(review.created_at), "review",
                             f"held for review: score {review.score:.3f} over {review.threshold:.3f}",
                             f"{review.state}" + (f" by {review.decided_by}" if review.decided_by else ""),
                             review.item_id, state=review.state, link="reviews_orders.show",
                             link_args={"review_id": review.id}))
    for b in bindings:
        entries.append(Entry(_aware(b.created_at), "binding", f"bound to {b.system} {b.entity} {b.external_id}"
                             + (f" (#{b.external_ref})" if b.external_ref else ""), f"{b.entity} {b.key}"))
    entries.sort(key=lambda e: (e.at, ["event", "poll", "review", "effect", "binding", "outcome",
                                       "dead_letter"].index(e.kind)))
    named = [i.label for i in chosen if i.entity_key in keys and i.label]
    # The label that says what was searched for ("Heartland item #CAP-1202"), else the record's first.
    title = next((label for label in named if q.lower().lstrip("#") in label.lower()), None) or \
        next(iter(named), None) or q
    return Timeline(query=q, title=title, names=names, keys=keys, items=chosen, entries=entries,
                    no_change_polls=no_change, last_no_change_at=last_no_change, truncated=truncated)
