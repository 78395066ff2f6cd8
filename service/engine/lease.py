"""A run's hold on its item: the fencing token, the lease kept alive by a heartbeat, and the entity lock.

While a run heartbeats, its item's lease and its entity lock are extended together, so a slow but
live run keeps both, and a dead or stalled one loses both within one lease. A run that comes back
after losing them (a stopped process resumed, a long pause) must not act on a record another run
now owns: ``check`` is called before every write to another system and raises ``LostLease`` once the
entity lock is no longer this run's; the store refuses its writes by the fencing token
(service/store/items.py).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from redis.exceptions import LockError, RedisError
from redis.lock import Lock

log = logging.getLogger(__name__)


class LostLease(Exception):  # noqa: N818 - a state of the run, not a failure of the item
    """The run lost its item (lease expired, lock taken over): it must not write anything more."""


class Lease:
    def __init__(self, item_id: int, fence: int, lock: Lock, lease_seconds: float,
                 extend_item: Callable[[int, int, float], bool]) -> None:
        self.item_id = item_id
        self.fence = fence
        self.lock = lock
        self.lease_seconds = lease_seconds
        self.extend_item = extend_item
        self.lost = threading.Event()
        self._stop = threading.Event()

    def beat(self) -> bool:
        """Extend the item's lease and the lock by a whole lease; False (and lost) when either is gone."""
        try:
            kept = self.extend_item(self.item_id, self.fence, self.lease_seconds)
            if kept:
                self.lock.extend(self.lease_seconds, replace_ttl=True)
        except LockError:
            kept = False
        except (RedisError, OSError):
            log.warning("item %s: heartbeat failed; trying again", self.item_id, exc_info=True)
            return True  # a blip: the next beat retries; the lease has two more beats of room
        if not kept:
            self.lost.set()
        return kept

    def check(self) -> None:
        """Raise LostLease unless this run still holds its entity lock (asked of Redis, not assumed)."""
        if self.lost.is_set():
            raise LostLease(f"item {self.item_id}: this run lost its lease; another run owns the record")
        try:
            owned = self.lock.owned()
        except (RedisError, OSError):
            return  # cannot tell: the write goes on, guarded by the lookups and keys every effect has
        if not owned:
            self.lost.set()
            raise LostLease(f"item {self.item_id}: this run's entity lock expired; another run owns the record")

    @contextlib.contextmanager
    def heartbeating(self) -> Iterator[Lease]:
        """Beat every third of a lease on a thread of its own while the run goes on."""
        interval = max(0.5, self.lease_seconds / 3)

        def run() -> None:
            while not self._stop.wait(interval):
                if not self.beat():
                    return

        thread = threading.Thread(target=run, name=f"heartbeat-{self.item_id}", daemon=True)
        thread.start()
        token = _current.set(self)
        try:
            yield self
        finally:
            _current.reset(token)
            self._stop.set()
            thread.join(timeout=5)


_current: ContextVar[Lease | None] = ContextVar("tillbridge_lease", default=None)


def check_current() -> None:
    """Before a write to another system: raise LostLease when the run doing it has lost its item.
    Outside a run (the CLI, the backfill) there is nothing to check."""
    lease = _current.get()
    if lease is not None:
        lease.check()
