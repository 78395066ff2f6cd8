"""Every connection Tillbridge opens has a deadline: Redis commands, the worker's blocking dequeue
(longer than RQ's wait), PostgreSQL connects and statements."""

from __future__ import annotations

import os
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from service.engine.worker import make_worker
from service.store.db import Store, database_url


def test_redis_commands_time_out_and_the_worker_dequeue_still_blocks(app: Any) -> None:
    runtime = app.extensions["tillbridge"]
    settings = runtime.settings
    worker = make_worker(app, name="timeouts-test")
    shared = runtime.redis.connection_pool.connection_kwargs
    assert shared["socket_timeout"] == settings.REDIS_SOCKET_TIMEOUT_SECONDS
    assert shared["socket_connect_timeout"] == settings.REDIS_CONNECT_TIMEOUT_SECONDS
    # RQ blocks in Redis for dequeue_timeout: the worker's own connection waits longer than that,
    # and building the worker did not lift the timeout of the connection locks and breakers use.
    dequeue = worker.connection.connection_pool.connection_kwargs
    assert dequeue["socket_timeout"] > worker.dequeue_timeout
    assert worker.connection.connection_pool is not runtime.redis.connection_pool
    assert runtime.redis.connection_pool.connection_kwargs["socket_timeout"] == settings.REDIS_SOCKET_TIMEOUT_SECONDS
    assert runtime.redis.ping() and worker.connection.ping()


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"),
                    reason="the statement timeout is PostgreSQL's (set DATABASE_URL to a PostgreSQL database)")
def test_a_postgresql_statement_past_its_timeout_is_cancelled() -> None:
    store = Store(database_url(os.environ["DATABASE_URL"], "var"), connect_timeout_seconds=3,
                  statement_timeout_seconds=1)
    try:
        with store.engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "1s"
            with pytest.raises(OperationalError, match="statement timeout"):
                conn.execute(text("SELECT pg_sleep(3)"))
    finally:
        store.dispose()
