"""A circuit breaker per destination, shared by every worker through Redis.

After ``threshold`` consecutive failures (5xx or no answer) the destination is open for
``open_seconds``: calls raise DestinationUnavailable without going out, and the engine
reschedules the item for when it closes without burning an attempt. The first call after that
is the probe: a success closes the breaker, a failure opens it again at once.
"""

from __future__ import annotations

import time

from redis import Redis

from service.engine.errors import DestinationUnavailable

PREFIX = "tb:breaker:"


class RedisBreaker:
    def __init__(self, redis: Redis, destination: str, threshold: int = 5, open_seconds: float = 10.0) -> None:
        self.redis = redis
        self.destination = destination
        self.key = PREFIX + destination
        self.threshold = threshold
        self.open_seconds = open_seconds

    def open_until(self) -> float:
        raw = self.redis.hget(self.key, "open_until")
        return float(raw) if raw else 0.0

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

    def record_failure(self) -> None:
        failures = int(self.redis.hincrby(self.key, "failures", 1))
        if failures >= self.threshold:
            self.redis.hset(self.key, "open_until", str(time.time() + self.open_seconds))
            self.redis.hincrby(self.key, "opened", 1)

    def record_success(self) -> None:
        # Cheap on the hot path: only write when there is something to reset.
        if self.redis.hget(self.key, "failures") not in (None, b"0"):
            self.redis.hset(self.key, mapping={"failures": 0, "open_until": 0})

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
