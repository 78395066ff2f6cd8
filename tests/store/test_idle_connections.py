"""Pooled PostgreSQL connections are checked after sitting idle, not at every checkout
(service/store/db.py ``check_idle_connections``)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from service.store.db import Store, database_url

pytestmark = pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"),
                                reason="a server's connections only: set DATABASE_URL to PostgreSQL")


@pytest.fixture
def store() -> Iterator[Store]:
    store = Store(database_url(os.environ["DATABASE_URL"], ""), idle_check_seconds=0.3)
    try:
        yield store
    finally:
        store.dispose()


def _backend(store: Store) -> int:
    with store.session() as s:
        return int(s.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _pings(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the pings the dialect sends (the check's round trip)."""
    sent: list[int] = []
    ping = store.engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        sent.append(1)
        return ping(dbapi_connection)

    monkeypatch.setattr(store.engine.dialect, "do_ping", counted)
    return sent


def test_a_connection_cut_while_idle_is_replaced_before_use(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _backend(store)
    outside = Store(store.url)  # as a server restart or a failover would, from another client
    try:
        with outside.engine.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar_one()
    finally:
        outside.dispose()
    pings = _pings(store, monkeypatch)
    time.sleep(0.4)
    # Neither a transaction nor a one-statement lookup sees the dead connection.
    with store.session() as s:
        assert s.execute(text("SELECT 1")).scalar_one() == 1
        second = int(s.execute(text("SELECT pg_backend_pid()")).scalar_one())
    assert second != first
    assert pings == [1]


def test_a_busy_pool_sends_no_pings(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    _backend(store)
    pings = _pings(store, monkeypatch)
    for _ in range(20):
        _backend(store)
        with store.lookup_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    assert pings == []
    time.sleep(0.4)
    _backend(store)
    assert pings == [1]
