"""Sign-in throttling: too many wrong passwords for one account, or from one address, and sign-in
waits.

Failures are counted in Redis (the runtime's, embedded or not) in a moving window, so every web
process on every machine sees the same counts. A throttled attempt is refused before its password
is checked, with the number of seconds to wait. A good password clears its account's count; the
address count only runs out, so one known account cannot be used to reset guessing at others.
Accounts are counted under a keyed digest of the name typed: Redis never holds what people type
into the username field (sometimes their password).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from dataclasses import dataclass

from limits import RateLimitItemPerMinute
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redis import Redis

KEY_PREFIX = "tillbridge:signin"


@dataclass(frozen=True)
class Throttled:
    """Sign-in is refused for ``retry_after`` seconds; ``reason`` says whose count ran out."""

    retry_after: int
    reason: str


class LoginThrottle:
    def __init__(self, redis: Redis, *, secret: str, per_account: int, per_address: int,
                 window_minutes: int) -> None:
        # The URI only names the client library: the connections come from the runtime's pool.
        storage = RedisStorage("redis://", connection_pool=redis.connection_pool, key_prefix=KEY_PREFIX)
        self._limiter = MovingWindowRateLimiter(storage)
        self._account_limit = RateLimitItemPerMinute(per_account, window_minutes)
        self._address_limit = RateLimitItemPerMinute(per_address, window_minutes)
        self._secret = secret.encode()

    def _account_key(self, username: str) -> str:
        return hmac.new(self._secret, username.strip().encode(), hashlib.sha256).hexdigest()[:32]

    def check(self, username: str, address: str) -> Throttled | None:
        """Whether a sign-in attempt may go ahead now."""
        for limit, kind, key, reason in (
            (self._account_limit, "account", self._account_key(username), "too many wrong passwords for this account"),
            (self._address_limit, "address", address, "too many wrong passwords from your address"),
        ):
            if not self._limiter.test(limit, kind, key):
                reset_at = self._limiter.get_window_stats(limit, kind, key).reset_time
                return Throttled(retry_after=max(1, math.ceil(reset_at - time.time())), reason=reason)
        return None

    def failed(self, username: str, address: str) -> None:
        self._limiter.hit(self._account_limit, "account", self._account_key(username))
        self._limiter.hit(self._address_limit, "address", address)

    def succeeded(self, username: str) -> None:
        self._limiter.clear(self._account_limit, "account", self._account_key(username))
