"""What every ingest endpoint does once an event is checked: keep it in the inbox with its sync item
in one commit, then enqueue. A replayed event (same source and event id) is not stored twice."""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from service.flows import ENABLED_FLOWS
from service.flows.context import Context
from service.kernel.cards import refuse_card_numbers
from service.kernel.idle_worker import IdleWorker
from service.store import inbox, items
from service.store.db import Store
from service.store.group_commit import CommitTimeout, GroupCommit
from service.store.tables import utcnow

log = logging.getLogger(__name__)


@dataclass
class IncomingEvent:
    source: str
    event_id: str
    event_type: str
    store_code: str
    occurred_at: datetime | None
    document: dict[str, Any]  # kept in the inbox as it arrived
    flow: str
    direction: str
    entity_key: str
    label: str
    payload: dict[str, Any]  # what the flow runs on
    source_version: str
    # Set for an event that means nothing for the other system: kept, recorded as ignored with this reason.
    ignored_reason: str = ""
    # True when the endpoint refused card numbers in ``document`` (which is also the payload) itself.
    screened: bool = False


def printable(text: str, limit: int) -> str:
    """A label as a person reads it: control characters (which PostgreSQL text refuses) dropped, cut to fit."""
    cleaned = "".join(ch for ch in text if ch >= " " and ch != "\x7f")
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


class IngestUnavailable(Exception):
    """The event could not be stored (the database did not take it): nothing was kept; send it again."""


def accept(runtime: Context, event: IncomingEvent) -> int | None:
    """Store the event and its item, then enqueue; the item id, or None for an event already stored.

    Events whose flow is not enabled yet are kept as ignored items, ready to replay. The endpoints
    answer 422 to a card number before calling this; it refuses one too (CardNumberRefused), so no
    ingest path can store one.

    Concurrent requests of this process are stored together (service/store/group_commit.py): one
    transaction and one commit for all the events that arrived meanwhile, then one enqueue. This
    returns only once the transaction holding the event has committed; IngestUnavailable when it
    did not (the event is not stored).
    """
    if not (event.screened and event.payload is event.document):
        refuse_card_numbers(event.document, "the event")
        if event.payload is not event.document:
            refuse_card_numbers(event.payload, "the event")
    try:
        stored = inbox_writer(runtime).submit(event)
    except (SQLAlchemyError, CommitTimeout) as exc:
        # A replay is no error (the insert skips it); this is the store refusing or not answering.
        log.warning("event %s/%s not stored: %s", event.source, event.event_id, exc)
        raise IngestUnavailable(f"the event was not stored ({type(exc).__name__}): the store did not take it; "
                                "nothing was kept, send it again") from exc
    return stored.item_id if stored is not None else None


@dataclass(frozen=True)
class Stored:
    item_id: int
    runnable: bool  # a received item, to enqueue (an ignored one is kept for replay only)


_writers: WeakKeyDictionary[Context, GroupCommit[IncomingEvent, Stored | None]] = WeakKeyDictionary()
_writers_lock = threading.Lock()


def inbox_writer(runtime: Context) -> GroupCommit[IncomingEvent, Stored | None]:
    """This process's committer of incoming events (made on first use, so after a fork)."""
    with _writers_lock:
        writer = _writers.get(runtime)
        if writer is None:
            enqueuer = Enqueuer(runtime)
            # A 2xx tells the sender it may forget the event: its commit must survive a power cut,
            # so on SQLite the writer's commits are synced to disk (one sync per batch).
            store = Store(runtime.store.url, durable_commits=True) if runtime.store.is_sqlite else runtime.store
            writer = GroupCommit(store, store_events, after_commit=enqueuer.add, name="inbox-writer")
            _writers[runtime] = writer
        return writer


def store_events(session: Session, events: Sequence[IncomingEvent]) -> list[Stored | None]:
    """Add the events and their items to ``session`` (not committed), in one bulk insert for the lot
    (two on SQLite): per event its item, or None for one already in the inbox (or earlier in the
    same batch)."""
    firsts: dict[tuple[str, str], IncomingEvent] = {}
    for event in events:
        firsts.setdefault((event.source, event.event_id), event)
    now = utcnow()
    pairs = []
    for event in firsts.values():
        enabled = event.flow in ENABLED_FLOWS and not event.ignored_reason
        reason = event.ignored_reason or f"the {event.flow} flow is not enabled yet; the event is kept for replay"
        pairs.append((
            {"source": event.source, "event_id": event.event_id, "event_type": event.event_type,
             "store_code": event.store_code, "occurred_at": event.occurred_at, "payload": event.document,
             "received_at": now},
            items.item_values(
                flow=event.flow, direction=event.direction, entity_key=event.entity_key,
                label=printable(event.label, 200), payload=event.payload, source_version=event.source_version,
                state="received" if enabled else "ignored", reason="" if enabled else reason)))
    item_ids = inbox.add_new_with_items(session, pairs)
    stored = {key: Stored(item_ids[key], item["state"] == "received")
              for key, (_, item) in zip(firsts, pairs, strict=True) if key in item_ids}
    # The first of several deliveries of one event in a batch gets its item; the others are duplicates.
    return [stored.pop((e.source, e.event_id), None) if e is firsts[(e.source, e.event_id)] else None
            for e in events]


class Enqueuer:
    """Sends committed items to the queue from a thread of its own, many per Redis round trip, so
    the next batch commits while this one is enqueued. The items are committed (and marked
    enqueued) before they get here: one whose enqueue is lost is sent by the scheduler."""

    def __init__(self, runtime: Context) -> None:
        # Weakly: the process's committer keeps this enqueuer, and must not keep the runtime alive.
        self._runtime = weakref.ref(runtime)
        self._worker: IdleWorker[list[int]] = IdleWorker(self._send, name="inbox-enqueuer")

    def add(self, stored: list[Stored | None]) -> None:
        runnable = [s.item_id for s in stored if s is not None and s.runnable]
        if runnable:
            self._worker.put(runnable)

    def _send(self, batches: list[list[int]]) -> None:
        ids = [item_id for batch in batches for item_id in batch]
        runtime = self._runtime()
        if runtime is None:
            return  # the process's runtime is gone; the scheduler sends what it finds unqueued
        try:
            runtime.enqueue(ids)
        except Exception:  # noqa: BLE001 - the items are committed; the scheduler will enqueue them
            log.exception("enqueue of items %s failed; the scheduler will send them", ids)
