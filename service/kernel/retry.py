"""How long to wait before trying an item again: exponential backoff with full jitter and a cap."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 1.0
    cap_seconds: float = 300.0
    max_attempts: int = 8

    def delay(self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        Full jitter (a uniform draw up to the exponential ceiling) spreads a crowd of retries
        instead of bunching them; a destination's Retry-After is a floor, never shortened.
        """
        draw = (rng or random).uniform(0.0, min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempt - 1)))
        if retry_after is not None:
            return max(retry_after, 0.0) + min(draw, 1.0)
        return draw

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
