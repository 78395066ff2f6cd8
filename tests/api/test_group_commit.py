"""Ingest stores concurrent events together (service/store/group_commit.py) and still answers each
one only after the transaction holding it committed; a row the database refuses in the middle of a
batch fails its own request (503, not stored) and no other."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from service.api import intake
from service.app.factory import create_app
from service.kernel.signing import signed_headers
from service.store.tables import InboxEvent, SyncItem

SECRET = "group-commit-test-webhook-secret-5c1e9a7b3d"


@pytest.fixture
def app(settings: dict[str, Any]) -> Iterator[Any]:
    application = create_app({**settings, "AUTO_MIGRATE": False, "TILLBRIDGE_WEBHOOK_SECRET": SECRET})
    yield application
    application.extensions["tillbridge"].store.dispose()


def event_body(entity_id: int) -> bytes:
    order = {"entity_id": entity_id, "increment_id": f"{100000000 + entity_id}", "state": "new",
             "customer_email": f"shopper{entity_id}@example.net", "grand_total": 20.0, "items": []}
    return json.dumps({"event": "order.created", "occurred_at": "2026-11-27T10:00:00+00:00",
                       "store_code": "default", "data": order}).encode()


def post(app: Any, event_id: str, entity_id: int) -> tuple[str, int]:
    body = event_body(entity_id)
    answer = app.test_client().post("/webhooks/magento", data=body, headers=signed_headers(SECRET, event_id, body))
    return event_id, answer.status_code


def stored_event_ids(runtime: Any) -> set[str]:
    with runtime.store.session() as s:
        return set(s.scalars(select(InboxEvent.event_id).join(SyncItem, SyncItem.inbox_event_id == InboxEvent.id)))


@contextmanager
def writes_held(runtime: Any) -> Iterator[None]:
    """Hold the inbox's writes from another connection, so requests pile up into one batch."""
    url = make_url(runtime.store.url)
    if runtime.store.is_sqlite:
        blocker = sqlite3.connect(str(url.database), timeout=30, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        return
    engine = create_engine(url)
    with engine.connect() as conn:
        conn.execute(text("LOCK TABLE inbox_events IN SHARE ROW EXCLUSIVE MODE"))
        try:
            yield
        finally:
            conn.rollback()
    engine.dispose()


@contextmanager
def poisoned_inbox(runtime: Any) -> Iterator[None]:
    """A database that refuses any event whose id starts with 'poison-' (a trigger): a real failure
    of one row in the middle of a batch."""
    with runtime.store.engine.begin() as conn:
        if runtime.store.is_sqlite:
            conn.execute(text("CREATE TRIGGER refuse_poison BEFORE INSERT ON inbox_events "
                              "WHEN NEW.event_id LIKE 'poison-%' BEGIN SELECT RAISE(ABORT, 'poisoned row'); END"))
        else:
            conn.execute(text("CREATE OR REPLACE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN "
                              "IF NEW.event_id LIKE 'poison-%' THEN RAISE EXCEPTION 'poisoned row'; END IF; "
                              "RETURN NEW; END $$ LANGUAGE plpgsql"))
            conn.execute(text("CREATE TRIGGER refuse_poison BEFORE INSERT ON inbox_events "
                              "FOR EACH ROW EXECUTE FUNCTION refuse_poison()"))
    try:
        yield
    finally:
        with runtime.store.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER refuse_poison" + ("" if runtime.store.is_sqlite else " ON inbox_events")))
            if not runtime.store.is_sqlite:
                conn.execute(text("DROP FUNCTION refuse_poison()"))


def wait_for_queued(runtime: Any, count: int, timeout: float = 30.0) -> None:
    """Until ``count`` requests reached the writer: the batch it holds on the held store (one request,
    or several that came before its thread took the first) and those waiting behind it."""
    writer = intake.inbox_writer(runtime)
    deadline = time.monotonic() + timeout
    while writer.received() < count:
        assert time.monotonic() < deadline, f"only {writer.received()} of {count} requests reached the writer"
        time.sleep(0.02)


def test_an_answer_comes_only_once_its_event_is_committed(app: Any) -> None:
    runtime = app.extensions["tillbridge"]
    seen_at_answer: dict[str, bool] = {}
    lock = threading.Lock()

    def send(n: int) -> None:
        event_id = str(uuid.uuid4())
        _, status = post(app, event_id, 7000 + n)
        assert status == 202
        # Read from the store with a connection of its own the moment the answer came.
        with runtime.store.session() as s:
            found = s.scalar(select(InboxEvent.id).where(InboxEvent.event_id == event_id)) is not None
        with lock:
            seen_at_answer[event_id] = found

    with ThreadPoolExecutor(12) as pool:
        list(pool.map(send, range(60)))
    assert len(seen_at_answer) == 60 and all(seen_at_answer.values())
    writer = intake.inbox_writer(runtime)
    assert writer.entries == 60
    assert writer.batches < 60, "no two requests ever shared a commit"
    assert stored_event_ids(runtime) == set(seen_at_answer)
    deadline = time.monotonic() + 15
    while runtime.queue.count < 60 and time.monotonic() < deadline:  # enqueued from a thread of its own
        time.sleep(0.05)
    assert runtime.queue.count == 60


def test_a_refused_row_mid_batch_fails_only_its_own_request(app: Any) -> None:
    runtime = app.extensions["tillbridge"]
    post(app, str(uuid.uuid4()), 1)  # the writer is running before the batch is built
    ids = [f"poison-{uuid.uuid4()}" if n % 4 == 1 else str(uuid.uuid4()) for n in range(16)]
    with poisoned_inbox(runtime), ThreadPoolExecutor(16) as pool:
        with writes_held(runtime):
            # The writer waits on the held store with its first request; the rest queue behind it.
            futures = [pool.submit(post, app, event_id, 8000 + n) for n, event_id in enumerate(ids)]
            wait_for_queued(runtime, len(ids))
        answers = dict(f.result(timeout=120) for f in futures)
    poisoned = {event_id for event_id in ids if event_id.startswith("poison-")}
    assert {answers[e] for e in poisoned} == {503}
    assert {answers[e] for e in ids if e not in poisoned} == {202}
    stored = stored_event_ids(runtime)
    assert stored.isdisjoint(poisoned)
    assert {e for e in ids if answers[e] == 202} <= stored


def test_the_same_event_twice_in_one_batch_is_stored_once(app: Any) -> None:
    runtime = app.extensions["tillbridge"]
    post(app, str(uuid.uuid4()), 1)
    event_id = str(uuid.uuid4())
    with ThreadPoolExecutor(4) as pool:
        with writes_held(runtime):
            futures = [pool.submit(post, app, event_id, 9000) for _ in range(4)]
            wait_for_queued(runtime, 4)
        statuses = sorted(f.result(timeout=120)[1] for f in futures)
    assert statuses == [200, 200, 200, 202]
    with runtime.store.session() as s:
        assert len(s.scalars(select(InboxEvent.id).where(InboxEvent.event_id == event_id)).all()) == 1
