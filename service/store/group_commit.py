"""Group commit: rows handed in by many request threads, written and committed together.

Each commit costs the database a durable write (PostgreSQL flushes its log; SQLite takes its one
write lock), whatever the transaction holds. A process answering many requests at once pays it
once per batch instead of once per request: callers hand their entry to one committer thread and
wait; the committer takes everything waiting, writes it in one transaction, commits, and only
then answers each caller with its own result. Batches form by themselves (what arrived while the
last commit was in flight), so a lone request waits for no timer.

A caller's answer never comes before the commit that holds its row. When a batch fails (a row the
database refuses, or the database itself), no caller of it is told it succeeded: each entry is
written again in a transaction of its own, so one bad row fails only its own caller; when the
database itself failed (down, or locked past its timeout), every caller gets that error at once.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from service.kernel.idle_worker import IdleWorker
from service.store.db import Store

log = logging.getLogger(__name__)

Entry = TypeVar("Entry")
Result = TypeVar("Result")

MAX_BATCH = 256


class CommitTimeout(Exception):
    """The committer did not answer in time: the entry may or may not be committed."""


@dataclass
class _Waiting(Generic[Entry, Result]):
    entry: Entry
    future: Future[Result]


class GroupCommit(Generic[Entry, Result]):
    """``submit(entry)`` returns ``write``'s result for the entry once its transaction committed.

    ``write(session, entries)`` adds the entries' rows to the session and returns one result per
    entry, in order; it must not commit. ``after_commit(results)`` runs in the committer once the
    batch is durable, before its callers are answered: it should hand work on rather than do it
    (the next batch waits for it); its errors are logged, not given to the callers, whose rows
    are committed.
    """

    def __init__(self, store: Store, write: Callable[[Session, Sequence[Entry]], list[Result]], *,
                 after_commit: Callable[[list[Result]], None] | None = None, max_batch: int = MAX_BATCH,
                 name: str = "group-commit") -> None:
        self.store = store
        self.write = write
        self.after_commit = after_commit
        self.max_batch = max_batch
        self.name = name
        # The committer's thread ends when no request waits, so an idle committer pins no store.
        self._worker: IdleWorker[_Waiting[Entry, Result]] = IdleWorker(self._commit_all, name=name,
                                                                       max_batch=max_batch)
        self.batches = 0  # committed transactions, for tests and metrics
        self.entries = 0
        database = store.engine.url.database if store.is_sqlite else None
        self._lock_file = open(f"{database}.committers", "ab") if database else None  # noqa: SIM115 - kept open

    def received(self) -> int:
        """How many requests it holds: waiting for the next batch, or in the one being written."""
        return self._worker.received()

    def submit(self, entry: Entry, timeout: float = 30.0) -> Result:
        """Write ``entry`` with whatever else is waiting; its result once committed, or the error."""
        future: Future[Result] = Future()
        self._worker.put(_Waiting(entry, future))
        try:
            return future.result(timeout=timeout)
        except TimeoutError:
            raise CommitTimeout(f"{self.name}: no answer from the committer within {timeout:g} s") from None

    def _commit_all(self, batch: list[_Waiting[Entry, Result]]) -> None:
        try:
            self._commit(batch)
        except BaseException as exc:  # noqa: BLE001 - the committer must outlive any batch
            log.exception("%s: a batch of %d failed unexpectedly", self.name, len(batch))
            for waiting in batch:
                if not waiting.future.done():
                    waiting.future.set_exception(exc)

    def _commit(self, batch: list[_Waiting[Entry, Result]]) -> None:
        try:
            results = self._transaction([w.entry for w in batch])
        except Exception as exc:  # noqa: BLE001 - handed to the callers below
            if len(batch) == 1 or isinstance(exc, OperationalError | InterfaceError):
                # The database itself did not take it (down, locked past its timeout): every row
                # alone would wait for it again, so each caller gets the error now.
                for waiting in batch:
                    waiting.future.set_exception(exc)
                return
            # Not one row of the batch is stored. Each alone: one refused row fails only its caller.
            for waiting in batch:
                self._commit([waiting])
            return
        self._answer(batch, results)

    def _transaction(self, entries: list[Entry]) -> list[Result]:
        with self._turn(), self.store.session() as session:
            results = self.write(session, entries)
            if len(results) != len(entries):
                raise RuntimeError(f"{self.name}: write returned {len(results)} results for {len(entries)} entries")
        # The session's block committed on the way out: from here on the rows are durable.
        self.batches += 1
        self.entries += len(entries)
        return results

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """On SQLite, the committers of all processes take turns on a file lock: SQLite has one
        writer at a time, and a committer that finds it busy would otherwise sleep in growing
        steps (its busy timeout) instead of starting the moment the other one is done."""
        if self._lock_file is None:
            yield
            return
        fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def _answer(self, batch: list[_Waiting[Entry, Result]], results: list[Result]) -> None:
        if self.after_commit is not None:
            try:
                self.after_commit(results)
            except Exception:  # noqa: BLE001 - committed rows stay committed; the caller is told so
                log.exception("%s: after-commit step failed for a batch of %d", self.name, len(batch))
        for waiting, result in zip(batch, results, strict=True):
            waiting.future.set_result(result)
