"""A lock per entity key, so one record's events are applied in order by one worker at a time."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from redis import Redis
from redis.exceptions import LockError
from redis.lock import Lock

from service.engine import shutdown
from service.settings import Settings

LOCK_PREFIX = "tb:lock:"


def entity_lock(redis: Redis, entity_key: str, ttl_seconds: float) -> Lock:
    # The TTL frees the lock if its holder dies; it is longer than a job may run.
    return redis.lock(LOCK_PREFIX + entity_key, timeout=ttl_seconds, thread_local=False)


def acquire(lock: Lock, wait_seconds: float, poll_seconds: float = 0.05) -> bool:
    """Take the lock, waiting up to ``wait_seconds``; a stopping process stops waiting (Stopping)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        if lock.acquire(blocking=False):
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        shutdown.wait(min(poll_seconds, remaining))


def release(lock: Lock) -> None:
    # A lock that expired while its job ran is already free; releasing it is not an error.
    with contextlib.suppress(LockError):
        lock.release()


@contextlib.contextmanager
def shared_record_lock(redis: Redis, name: str, settings: Settings, busy: str) -> Iterator[None]:
    """A lock beyond the item's own entity lock, for a record several entity keys touch (both
    directions of one customer, one grid's items, one order's refunds). It lasts as long as a
    job's lease; held by another run past LOCK_WAIT_SECONDS, the item is retried (``busy`` says
    what holds it)."""
    from service.kernel.errors import RetryableError

    lock = redis.lock(name, timeout=settings.lease_seconds,
                      blocking_timeout=settings.LOCK_WAIT_SECONDS)
    if not lock.acquire():
        raise RetryableError(busy, hint="nothing to do: it is retried once that run ends", retry_after=1.0)
    try:
        yield
    finally:
        release(lock)  # it may have expired during a very long run, and be another run's now
