"""The inbox's and the items' batch inserts (on PostgreSQL one statement text for any batch size,
service/store/bulk.py) store what row-by-row inserts store: values, defaults, order and refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DataError

from service.store import inbox, items
from service.store.tables import InboxEvent, SyncItem, utcnow


def _event(n: int, payload: dict[str, Any], occurred_at: datetime | None = None) -> dict[str, Any]:
    return {"source": "magento", "event_id": f"batch-{n}", "event_type": "order.created", "store_code": "default",
            "occurred_at": occurred_at, "payload": payload, "received_at": utcnow()}


def test_a_batch_of_events_and_their_items_is_stored_as_given(runtime: Any) -> None:
    occurred = datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    # Text PostgreSQL's JSON functions would refuse if it were not kept as the column keeps it: a \u0000
    # escape, quotes, backslashes, characters beyond ASCII, a line separator.
    payloads = [{"n": n, "note": f"M\u00fcller \x00 \"q\" \\ \u2028 {n}", "lines": [1, 2.5, None, True, 10**20]}
                for n in range(6)]
    with runtime.store.session() as s:
        first = inbox.add_new(s, [_event(n, p, occurred if n % 2 else None) for n, p in enumerate(payloads[:4])])
        # A replay of batch-1 and batch-3 with two new events: only the new ones are inserted and answered.
        again = inbox.add_new(s, [_event(n, p) for n, p in enumerate(payloads) if n in (1, 3, 4, 5)])
        assert sorted(first) == [("magento", f"batch-{n}") for n in range(4)]
        assert sorted(again) == [("magento", "batch-4"), ("magento", "batch-5")]
        event_ids = {**first, **again}
        rows = [items.item_values(flow="orders", direction="magento→heartland", entity_key=f"orders:{n}",
                                  label=f"order #{n}", payload=payloads[n], source_version="v1",
                                  inbox_event_id=event_ids[("magento", f"batch-{n}")],
                                  state="received" if n % 3 else "ignored", reason="" if n % 3 else "not enabled")
                for n in range(6)]
        item_ids = items.add_many(s, rows)
    assert len(set(item_ids)) == 6
    with runtime.store.session() as s:
        for n, item_id in enumerate(item_ids):  # the ids come back in the order the rows were given
            item = s.get(SyncItem, item_id)
            assert item is not None and item.entity_key == f"orders:{n}" and item.label == f"order #{n}"
            assert item.payload == payloads[n] and item.state == ("received" if n % 3 else "ignored")
            assert item.inbox_event_id == event_ids[("magento", f"batch-{n}")] and item.source_version == "v1"
            # Defaults the rows left out, as an ORM insert fills them in.
            assert (item.attempts, item.waits, item.fence, item.failure_class, item.mapping_version) == (0, 0, 0, "", "")
            assert item.result == {} and item.progress is None and item.created_at is not None
            assert (item.enqueued_at is not None) == (n % 3 != 0) and (item.finished_at is not None) == (n % 3 == 0)
        events = {e.event_id: e for e in s.scalars(select(InboxEvent).where(InboxEvent.event_id.like("batch-%")))}
        assert [events[f"batch-{n}"].payload for n in range(6)] == payloads
        assert events["batch-1"].occurred_at == occurred.astimezone(UTC) and events["batch-0"].occurred_at is None
        assert events["batch-1"].id == event_ids[("magento", "batch-1")]


def test_a_batch_the_database_refuses_stores_nothing(runtime: Any) -> None:
    if runtime.store.is_sqlite:
        pytest.skip("SQLite does not enforce a text column's length")
    with pytest.raises(DataError), runtime.store.session() as s:
        inbox.add_new(s, [_event(1, {"n": 1}), {**_event(2, {"n": 2}), "event_type": "x" * 65}])
    with runtime.store.session() as s:
        assert s.scalars(select(InboxEvent).where(InboxEvent.event_id.like("batch-%"))).all() == []


def _item(n: int, payload: dict[str, Any]) -> dict[str, Any]:
    return items.item_values(flow="orders", direction="magento→heartland", entity_key=f"orders:{n}",
                             label=f"order #{n}", payload=payload, source_version="v1",
                             state="received" if n % 3 else "ignored", reason="" if n % 3 else "not enabled")


def test_events_with_their_items_are_stored_as_given_and_a_replay_gets_no_item(runtime: Any) -> None:
    occurred = datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    payloads = [{"n": n, "note": f"M\u00fcller \x00 \"q\" \\ \u2028 {n}", "lines": [1, 2.5, None, True, 10**20]}
                for n in range(6)]
    # Events 0-3 run on the document they arrived with (the same object); 4 and 5 on one of their own.
    runs = [p if n < 4 else {"run": n, "note": "\x00"} for n, p in enumerate(payloads)]
    with runtime.store.session() as s:
        first = inbox.add_new_with_items(s, [(_event(n, payloads[n], occurred if n % 2 else None), _item(n, runs[n]))
                                             for n in range(4)])
        again = inbox.add_new_with_items(s, [(_event(n, payloads[n]), _item(n, runs[n])) for n in (1, 3, 4, 5)])
    assert sorted(first) == [("magento", f"batch-{n}") for n in range(4)]
    assert sorted(again) == [("magento", "batch-4"), ("magento", "batch-5")]
    item_ids = {**first, **again}
    assert len(set(item_ids.values())) == 6
    with runtime.store.session() as s:
        events = {e.event_id: e for e in s.scalars(select(InboxEvent).where(InboxEvent.event_id.like("batch-%")))}
        assert [events[f"batch-{n}"].payload for n in range(6)] == payloads
        assert events["batch-1"].occurred_at == occurred.astimezone(UTC) and events["batch-0"].occurred_at is None
        for n in range(6):
            item = s.get(SyncItem, item_ids[("magento", f"batch-{n}")])
            assert item is not None and item.inbox_event_id == events[f"batch-{n}"].id
            assert item.payload == runs[n] and item.entity_key == f"orders:{n}" and item.label == f"order #{n}"
            assert item.state == ("received" if n % 3 else "ignored") and item.source_version == "v1"
            assert (item.attempts, item.fence, item.result, item.progress) == (0, 0, {}, None)
            assert item.created_at is not None and (item.enqueued_at is not None) == (n % 3 != 0)
        assert len(s.scalars(select(SyncItem.id).where(SyncItem.entity_key.like("orders:%"))).all()) == 6


def test_events_with_items_the_database_refuses_store_nothing(runtime: Any) -> None:
    if runtime.store.is_sqlite:
        pytest.skip("SQLite does not enforce a text column's length")
    for bad_event, bad_item in ((_event(2, {}) | {"event_type": "x" * 65}, _item(2, {})),
                                (_event(2, {}), _item(2, {}) | {"source_version": "v" * 65})):
        with pytest.raises(DataError), runtime.store.session() as s:
            inbox.add_new_with_items(s, [(_event(1, {"n": 1}), _item(1, {"n": 1})), (bad_event, bad_item)])
        with runtime.store.session() as s:
            assert s.scalars(select(InboxEvent).where(InboxEvent.event_id.like("batch-%"))).all() == []
            assert s.scalars(select(SyncItem).where(SyncItem.entity_key.like("orders:%"))).all() == []
