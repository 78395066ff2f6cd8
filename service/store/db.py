"""The store's engine and sessions, on SQLite (embedded default) or PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def database_url(configured: str, data_dir: str) -> str:
    """The URL to use: the configured one, or a SQLite file in the data directory."""
    if not configured:
        path = Path(data_dir).resolve() / "tillbridge.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    if configured.startswith("postgres://"):
        configured = "postgresql://" + configured[len("postgres://") :]
    if configured.startswith("postgresql://"):
        configured = "postgresql+psycopg://" + configured[len("postgresql://") :]
    return configured


def conflict_insert(dialect: Dialect) -> Callable[..., Any]:
    """The store's ``insert`` that takes ``ON CONFLICT`` clauses (``on_conflict_do_nothing``,
    ``on_conflict_do_update``): PostgreSQL's or SQLite's, the two databases a store runs on."""
    return postgresql.insert if dialect.name == "postgresql" else sqlite.insert


def _sqlite_durable(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Every commit reaches the disk before it returns (NORMAL may lose the last ones to a power cut).
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the web process read while a worker writes; busy_timeout waits instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


#: A pooled connection left unused longer than this is checked with a round trip before it is
#: handed out (seconds).
IDLE_CHECK_SECONDS = 1.0


def check_idle_connections(engine: Engine, idle_seconds: float = IDLE_CHECK_SECONDS) -> None:
    """Before a connection that sat in the pool over ``idle_seconds`` is used, ask the server
    whether it is still there; a dead one is replaced before the caller sees it.

    A server restart, a failover or a firewall that drops quiet connections leaves dead
    connections in the pool, and those are found on checkout. A connection handed back moments
    ago needs no such check: pinging at every checkout (``pool_pre_ping``) cost each transaction
    and each one-statement lookup a second round trip, a fifth of a lookup's time. A connection
    cut while in use (or in the pool for under ``idle_seconds``) fails its statement as it would
    have anyway; SQLAlchemy then recycles every connection of the pool opened before the
    failure, and the work is retried (a job's attempt, the sender of an event).
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.pop("returned_at", None)
        if returned is None or time.monotonic() - returned < idle_seconds:
            return  # new, or back in the pool a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            # The pool drops this connection and checks out another (a new one if need be).
            raise DisconnectionError(f"a pooled connection idle for {time.monotonic() - returned:.1f} s "
                                     f"no longer answers: {exc}") from exc


class Store:
    """Owns the engine; hands out sessions that commit on success and roll back on error."""

    def __init__(self, url: str, *, connect_timeout_seconds: int = 10, statement_timeout_seconds: int = 60,
                 durable_commits: bool = False, idle_check_seconds: float = IDLE_CHECK_SECONDS) -> None:
        """``durable_commits``: on SQLite, every commit is synced to disk (what an acknowledgement to
        a sender needs); PostgreSQL commits are durable already (synchronous_commit).
        ``idle_check_seconds``: see :func:`check_idle_connections` (a server's connections only)."""
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"future": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            kwargs.update(pool_size=10, max_overflow=20)
            if url.startswith("postgresql"):
                # A database that stops answering fails the call instead of hanging a worker: the
                # connect and every statement have a deadline (the item is retried).
                options = f"-c statement_timeout={int(statement_timeout_seconds * 1000)}"
                kwargs["connect_args"] = {"connect_timeout": int(connect_timeout_seconds), "options": options}
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            if durable_commits:
                event.listen(self.engine, "connect", _sqlite_durable)
        else:
            check_idle_connections(self.engine, idle_check_seconds)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Lookups of one statement need no transaction around them: without BEGIN and COMMIT they
        # are one round trip to PostgreSQL instead of three (a statement is its own snapshot).
        # SQLite runs in the process, so there is no round trip to save, and switching a connection's
        # isolation level at each checkout would cost more than the lookup.
        self.lookup_engine: Engine = (self.engine if self.is_sqlite
                                      else self.engine.execution_options(isolation_level="AUTOCOMMIT"))
        self.lookups = sessionmaker(self.lookup_engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def session_or(self, session: Session | None) -> Iterator[Session]:
        """``session`` when the caller has one open (several reads, one transaction), else a new one."""
        if session is not None:
            yield session
        else:
            with self.session() as own:
                yield own

    def upgrade(self, revision: str = "head") -> None:
        """Apply the Alembic migrations up to ``revision``."""
        from alembic import command

        command.upgrade(self.alembic_config(), revision)

    def alembic_config(self) -> Any:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        config.attributes["engine"] = self.engine
        return config

    def after_fork(self) -> None:
        """Drop pooled connections inherited from a parent process."""
        self.engine.dispose(close=False)

    def dispose(self) -> None:
        self.engine.dispose()
