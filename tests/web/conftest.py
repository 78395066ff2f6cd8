"""Fixtures for the web pages: an app on a real store and a real Redis, users of each role, signed-in
test clients, and sync items / dead letters made through the store's own functions.

Each test gets its own SQLite file (a copy of one migrated per process) and the run's Redis (the embedded one, or REDIS_URL), emptied before
each test; with DATABASE_URL set (PostgreSQL in CI) it uses that, cleaned before each test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from service.app.factory import create_app
from service.app.runtime import Runtime
from service.store.db import Store, database_url
from service.store.users import create_user
from tests.web.browser import browser_page, live_server  # noqa: F401 - fixtures for the browser tests
from tests.web.support import PASSWORD, Seeded, make_dead, make_done, sign_in

# The tables these tests write (on a shared PostgreSQL; each SQLite file is new per test). The
# dashboard counts what waits for a person, so the review queues start empty too.
TOUCHED_TABLES = ("triage_labels", "user_events", "web_sessions", "api_tokens", "users", "trace_steps", "dead_letters",
                  "sync_items", "inbox_events", "order_reviews", "order_facts", "customer_reviews",
                  "quality_findings", "reconciliation_results", "reconciliation_runs", "ledger_entries",
                  "bindings", "alerts", "alert_events", "setting_overrides", "setting_changes")


@pytest.fixture(scope="session")
def shared_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """DATABASE_URL from the environment, migrated once per run; empty when unset."""
    configured = os.environ.get("DATABASE_URL", "")
    if not configured:
        return ""
    url = database_url(configured, str(tmp_path_factory.mktemp("unused")))
    store = Store(url)
    store.upgrade()
    store.dispose()
    return url


def _clean_shared(url: str) -> None:
    store = Store(url)
    with store.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TOUCHED_TABLES)} RESTART IDENTITY CASCADE"))
    store.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database at the latest migration, made once per test process: each test gets a
    copy (the app's own AUTO_MIGRATE then finds it current) instead of migrating a new file again."""
    path = tmp_path_factory.mktemp("web-template") / "web.sqlite"
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    store.dispose()
    return path


@pytest.fixture
def web_config(tmp_path: Path, shared_database_url: str, redis_url: str, migrated_sqlite: Path) -> dict[str, Any]:
    if shared_database_url:
        _clean_shared(shared_database_url)
    else:
        shutil.copyfile(migrated_sqlite, tmp_path / "web.sqlite")
    return {
        "DATABASE_URL": shared_database_url or f"sqlite:///{tmp_path / 'web.sqlite'}",
        "REDIS_URL": redis_url,
        "DATA_DIR": str(tmp_path),
        "SECRET_KEY": "web-tests-session-key",
        "AUTO_MIGRATE": not shared_database_url,  # finds the SQLite copy at the latest migration; PostgreSQL too
    }


@pytest.fixture
def app(web_config: dict[str, Any]) -> Iterator[Flask]:
    application = create_app(web_config)
    runtime: Runtime = application.extensions["tillbridge"]
    runtime.redis.flushdb()  # the run's Redis: start from an empty queue and closed breakers
    yield application
    runtime.store.dispose()


@pytest.fixture
def runtime(app: Flask) -> Runtime:
    rt: Runtime = app.extensions["tillbridge"]
    return rt


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def make_user(runtime: Runtime) -> Callable[..., str]:
    def make(role: str, username: str | None = None, password: str = PASSWORD) -> str:
        name = username or f"{role}-user"
        create_user(runtime.store, name, password, role)
        return name

    return make


@pytest.fixture
def signed_in(app: Flask, make_user: Callable[..., str]) -> Callable[[str], FlaskClient]:
    """A test client signed in as a new user with the given role."""

    def make(role: str) -> FlaskClient:
        client = app.test_client()
        response = sign_in(client, make_user(role))
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return make


@pytest.fixture
def seeded(runtime: Runtime) -> Seeded:
    done = make_done(runtime)
    dead, letter_id = make_dead(runtime)
    return Seeded(done=done, dead=dead, dead_letter_id=letter_id)


