"""A circuit breaker per destination, shared by every worker through Redis.

After ``threshold`` consecutive failures (5xx or no answer) the destination is open for
``open_seconds``: calls raise DestinationUnavailable without going out, and the engine
reschedules the item for when it closes without burning an attempt. The first call after that
is the probe, and only one call across all workers is let through as the probe (a key set once in
Redis): a success closes the breaker, a failure opens it again at once, and the other calls wait.
A 429 counts neither way (the caller records nothing for it): throttled is not down, nor up.

The shared state is read at most every ``refresh_seconds`` per process, so a healthy destination
costs no Redis round trip per request; a breaker opened by another worker is seen within that time.
"""

from __future__ import annotations

import threading
import time

from redis import Redis

from service.kernel.errors import DestinationUnavailable

PREFIX = "tb:breaker:"


class RedisBreaker:
    def __init__(self, redis: Redis, destination: str, threshold: int = 5, open_seconds: float = 10.0,
                 refresh_seconds: float = 0.25) -> None:
        self.redis = redis
        self.destination = destination
        self.key = PREFIX + destination
        self.threshold = threshold
        self.open_seconds = open_seconds
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._failures = 0
        self._open_until = 0.0

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._read_at < self.refresh_seconds:
            return
        failures, until = self.redis.hmget(self.key, ["failures", "open_until"])
        with self._lock:
            self._failures = int(failures or 0)
            self._open_until = float(until or 0)
            self._read_at = now

    def open_until(self) -> float:
        self._refresh()
        return self._open_until

    def before_call(self) -> None:
        until = self.open_until()
        now = time.time()
        if until > now:
            raise DestinationUnavailable(
                f"{self.destination} is unavailable (circuit open for {until - now:.1f} s more)",
                hint="items wait for the destination without using their attempts",
                retry_after=until - now,
                destination=self.destination,
            )
        if until and self._failures >= self.threshold and not self._take_probe():
            raise DestinationUnavailable(
                f"{self.destination} is being probed after an outage; waiting for the probe's answer",
                hint="items wait for the destination without using their attempts",
                retry_after=min(1.0, self.open_seconds),
                destination=self.destination,
            )

    def _take_probe(self) -> bool:
        """Half-open: True for the one call (across every worker) that may try the destination."""
        return bool(self.redis.set(self.key + ":probe", str(time.time()), nx=True,
                                   px=max(1, int(self.open_seconds * 1000))))

    def record_failure(self) -> None:
        failures = int(self.redis.hincrby(self.key, "failures", 1))
        with self._lock:
            self._failures = failures
        if failures >= self.threshold:
            until = time.time() + self.open_seconds
            self.redis.hset(self.key, "open_until", str(until))
            self.redis.delete(self.key + ":probe")  # the next probe is due when it half-opens again
            self.redis.hincrby(self.key, "opened", 1)
            with self._lock:
                self._open_until = until

    def record_success(self) -> None:
        # Only write when some worker counted failures: a healthy destination costs nothing here.
        if self._failures:
            self.redis.hset(self.key, mapping={"failures": 0, "open_until": 0})
            self.redis.delete(self.key + ":probe")
            with self._lock:
                self._failures = 0
                self._open_until = 0.0

    def state(self) -> dict[str, float | int | str]:
        raw = {_text(k): _text(v) for k, v in self.redis.hgetall(self.key).items()}
        until = float(raw.get("open_until", 0) or 0)
        return {
            "destination": self.destination,
            "state": "open" if until > time.time() else "closed",
            "failures": int(raw.get("failures", 0) or 0),
            "opened": int(raw.get("opened", 0) or 0),
            "open_until": until,
        }


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
