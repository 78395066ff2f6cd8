"""A lock per entity key, so one record's events are applied in order by one worker at a time."""

from __future__ import annotations

import contextlib

from redis import Redis
from redis.exceptions import LockError
from redis.lock import Lock

LOCK_PREFIX = "tb:lock:"


def entity_lock(redis: Redis, entity_key: str, ttl_seconds: float) -> Lock:
    # The TTL frees the lock if its holder dies; it is longer than a job may run.
    return redis.lock(LOCK_PREFIX + entity_key, timeout=ttl_seconds, thread_local=False)


def acquire(lock: Lock, wait_seconds: float) -> bool:
    return bool(lock.acquire(blocking=wait_seconds > 0, blocking_timeout=wait_seconds or None))


def release(lock: Lock) -> None:
    # A lock that expired while its job ran is already free; releasing it is not an error.
    with contextlib.suppress(LockError):
        lock.release()
