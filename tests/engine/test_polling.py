"""The polling backstop's cursor, on the real store: persisted, moved only with its items, read
again behind itself by the overlap window."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from service.engine import polling
from service.engine.polling import Poller
from service.store import cursors, items
from service.store.db import Store

T0 = datetime(2026, 11, 27, 9, 0, 0, tzinfo=UTC)
OVERLAP = 60.0


@pytest.fixture
def store(settings: dict[str, Any]) -> Iterator[Store]:
    s = Store(settings["DATABASE_URL"])
    yield s
    s.dispose()


class Source:
    """A source resource whose changes carry the source's own timestamps."""

    def __init__(self) -> None:
        self.changes: list[tuple[datetime, str]] = []
        self.reads: list[datetime] = []

    def read(self, since: datetime) -> list[str]:
        self.reads.append(since)
        return [key for at, key in self.changes if at >= since]


def record_items(session: Session, keys: Sequence[str]) -> list[int]:
    return [items.create(session, flow="test", entity_key=k, payload={"key": k}).id for k in keys]


def clock_at(moment: datetime) -> Any:
    return lambda: moment


def test_first_poll_starts_now_less_overlap_and_persists_the_cursor(store: Store, settings: dict[str, Any]) -> None:
    source = Source()
    source.changes.append((T0 - timedelta(seconds=30), "inside-overlap"))
    source.changes.append((T0 - timedelta(hours=2), "history"))
    poller = Poller("test:things", source.read, record_items)
    result = polling.poll(store, poller, overlap_seconds=OVERLAP, clock=clock_at(T0))
    assert source.reads == [T0 - timedelta(seconds=OVERLAP)]
    assert result.changes == 1 and len(result.item_ids) == 1
    # Another process (a new Store on the same database) sees the same cursor.
    other = Store(settings["DATABASE_URL"])
    try:
        assert cursors.position(other, "test:things") == T0
        assert cursors.get(other, "test:things").changes == 1  # type: ignore[union-attr]
    finally:
        other.dispose()


def test_next_poll_reads_behind_the_cursor_by_the_overlap(store: Store) -> None:
    source = Source()
    poller = Poller("test:things", source.read, record_items)
    polling.poll(store, poller, overlap_seconds=OVERLAP, clock=clock_at(T0))
    # A change the source stamped just before our last read started, but made visible after it.
    source.changes.append((T0 - timedelta(seconds=5), "late"))
    t1 = T0 + timedelta(seconds=30)
    result = polling.poll(store, poller, overlap_seconds=OVERLAP, clock=clock_at(t1))
    assert source.reads[-1] == T0 - timedelta(seconds=OVERLAP)
    assert result.changes == 1
    assert [i.entity_key for i in items.search(store, flow="test")] == ["late"]
    assert cursors.position(store, "test:things") == t1


def test_cursor_stays_when_recording_fails(store: Store) -> None:
    source = Source()
    ok = Poller("test:things", source.read, record_items)
    polling.poll(store, ok, overlap_seconds=OVERLAP, clock=clock_at(T0))
    source.changes.append((T0 + timedelta(seconds=10), "k1"))

    def broken(session: Session, keys: Sequence[str]) -> list[int]:
        record_items(session, keys)
        raise RuntimeError("database went away mid-write")

    with pytest.raises(RuntimeError):
        polling.poll(store, Poller("test:things", source.read, broken), overlap_seconds=OVERLAP,
                     clock=clock_at(T0 + timedelta(seconds=20)))
    assert cursors.position(store, "test:things") == T0
    assert items.search(store, flow="test") == []  # the items rolled back with the cursor
    result = polling.poll(store, ok, overlap_seconds=OVERLAP, clock=clock_at(T0 + timedelta(seconds=40)))
    assert result.changes == 1 and [i.entity_key for i in items.search(store, flow="test")] == ["k1"]


def test_cursor_never_moves_back(store: Store) -> None:
    with store.session() as s:
        cursors.advance(s, "test:things", T0)
    with store.session() as s:
        cursors.advance(s, "test:things", T0 - timedelta(minutes=5))
    assert cursors.position(store, "test:things") == T0


def test_poll_due_respects_the_interval_and_enqueues_what_it_created(store: Store) -> None:
    source = Source()
    source.changes.append((datetime.now(UTC), "fresh"))
    poller = Poller("test:things", source.read, record_items)
    enqueued: list[int] = []
    first = polling.poll_due(store, [poller], interval_seconds=60, overlap_seconds=OVERLAP, enqueue=enqueued.extend)
    assert len(first) == 1 and enqueued == first[0].item_ids and len(enqueued) == 1
    again = polling.poll_due(store, [poller], interval_seconds=60, overlap_seconds=OVERLAP, enqueue=enqueued.extend)
    assert again == [] and len(source.reads) == 1
    assert polling.is_due(store, "test:things", 60, now=datetime.now(UTC) + timedelta(seconds=61))


def test_a_failing_source_does_not_stop_the_others(store: Store) -> None:
    def down(since: datetime) -> list[str]:
        raise ConnectionError("source is down")

    source = Source()
    source.changes.append((datetime.now(UTC), "x"))
    results = polling.poll_due(store, [Poller("test:down", down, record_items),
                                       Poller("test:up", source.read, record_items)],
                               interval_seconds=60, overlap_seconds=OVERLAP, enqueue=lambda ids: None)
    assert [r.resource for r in results] == ["test:up"]
    assert cursors.get(store, "test:down") is None


def test_changes_are_read_and_recorded_page_by_page(store: Store) -> None:
    """A poll after a long outage never holds every change: it records each page as it comes,
    enqueues it once committed, and moves the cursor after the last one."""
    pulled: list[int] = []
    pages: list[int] = []
    enqueued: list[list[int]] = []

    def read(since: datetime) -> Iterator[str]:
        for n in range(25):
            pulled.append(n)
            yield f"k{n}"

    def record(session: Session, keys: Sequence[str]) -> list[int]:
        # Each page arrives before the source has been read further: the read is lazy.
        assert len(pulled) <= sum(pages) + len(keys) + 1
        pages.append(len(keys))
        return record_items(session, keys)

    result = polling.poll(store, Poller("test:paged", read, record), overlap_seconds=OVERLAP, page_size=10,
                          enqueue=enqueued.append, clock=clock_at(T0))
    assert pages == [10, 10, 5]
    assert [len(ids) for ids in enqueued] == [10, 10, 5] and result.changes == 25
    assert cursors.position(store, "test:paged") == T0


def test_a_poll_failing_half_way_keeps_the_cursor_and_the_pages_it_recorded(store: Store) -> None:
    def read(since: datetime) -> Iterator[str]:
        yield from ("a", "b", "c")
        raise RuntimeError("the source dropped the connection")

    with pytest.raises(RuntimeError):
        polling.poll(store, Poller("test:half", read, record_items), overlap_seconds=OVERLAP, page_size=2,
                     clock=clock_at(T0))
    assert cursors.position(store, "test:half") is None  # the next poll reads the same changes again
    with store.session() as s:
        assert sorted(i.entity_key for i in items.latest_by_key(s, "test", ["a", "b", "c"]).values()) == ["a", "b"]
