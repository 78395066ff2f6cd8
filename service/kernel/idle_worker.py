"""A queue served by a thread of its own that ends when there is no work, and starts again with
the next item: an idle worker holds on to nothing it was handed (a store, a process's runtime)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class IdleWorker(Generic[T]):
    """``put(item)``; the thread calls ``handle(batch)`` with what is waiting (at most ``max_batch``,
    oldest first) and ends after ``idle_seconds`` with nothing to do."""

    def __init__(self, handle: Callable[[list[T]], None], *, name: str, max_batch: int = 1000,
                 idle_seconds: float = 5.0) -> None:
        self.handle = handle
        self.name = name
        self.max_batch = max_batch
        self.idle_seconds = idle_seconds
        self._queue: queue.SimpleQueue[T] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._in_hand = 0

    def received(self) -> int:
        """How many items it holds: waiting, or in the batch being handled."""
        return self._queue.qsize() + self._in_hand

    def put(self, item: T) -> None:
        self._queue.put(item)
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                batch = [self._queue.get(timeout=self.idle_seconds)]
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():  # a put after this sees no thread and starts one
                        self._thread = None
                        return
                continue
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._in_hand = len(batch)
            try:
                self.handle(batch)
            except BaseException:  # noqa: BLE001 - the worker must outlive any batch; handle reports its own
                log.exception("%s: a batch of %d failed unexpectedly", self.name, len(batch))
            finally:
                self._in_hand = 0
