"""Who may call which /v1 endpoint: scopes per resource, and a rate limit per caller.

A scope is ``<resource>:read`` or ``<resource>:write`` (write implies read). A signed-in user gets
the scopes of their role; an API token gets its user's role's scopes, narrowed to the scopes it was
created with, if any (``tillbridge tokens scope ID orders:read …``). GET and HEAD need read,
everything else write.

Each caller (token, else user) has ``API_RATE_LIMIT_PER_MINUTE`` requests per moving minute,
counted in Redis so every web process shares the count; past it, 429 with Retry-After.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from flask_login import current_user
from limits import RateLimitItemPerMinute
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import delete, select

from service.api.v1.errors import fail
from service.flows.context import current
from service.store.api_tables import ApiTokenScopes
from service.store.db import Store
from service.store.tables import ApiToken

RESOURCES = ("orders", "customers", "products", "inventory", "payments", "webhooks", "reports")
ALL = frozenset(f"{r}:{a}" for r in RESOURCES for a in ("read", "write"))


def _scopes(read: Iterable[str] = (), write: Iterable[str] = ()) -> frozenset[str]:
    return frozenset([f"{r}:read" for r in (*read, *write)] + [f"{r}:write" for r in write])


ROLE_SCOPES: dict[str, frozenset[str]] = {
    "admin": ALL,
    "integrator": _scopes(read=("reports",),
                          write=("orders", "customers", "products", "inventory", "payments", "webhooks")),
    "operator": _scopes(read=("customers", "products", "payments", "reports"),
                        write=("orders", "inventory", "webhooks")),
    "risk": _scopes(read=("orders", "customers", "payments")),
    "accounting": _scopes(read=("orders", "customers", "payments", "products"), write=("reports",)),
}


@dataclass(frozen=True)
class Caller:
    key: str  # token:<id> or user:<id>: what the rate limit and idempotency keys are per
    username: str
    role: str
    scopes: frozenset[str]
    via_token: bool

    @property
    def actor(self) -> str:
        return f"api:{self.username}" if self.via_token else self.username


def check_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes asked for, checked: each must be ``<resource>:read|write``."""
    wanted = sorted({s.strip() for s in scopes if s.strip()})
    unknown = [s for s in wanted if s not in ALL]
    if unknown:
        raise ValueError(f"unknown scopes {', '.join(unknown)}: use <resource>:read or <resource>:write with "
                         f"resource one of {', '.join(RESOURCES)}")
    return wanted


def set_token_scopes(store: Store, token_id: int, scopes: Iterable[str]) -> list[str]:
    """Narrow an API token to ``scopes`` (empty: back to everything its user's role allows)."""
    wanted = check_scopes(scopes)
    with store.session() as s:
        if s.get(ApiToken, token_id) is None:
            raise ValueError(f"no API token with id {token_id}: see `tillbridge tokens list`")
        s.execute(delete(ApiTokenScopes).where(ApiTokenScopes.token_id == token_id))
        if wanted:
            s.add(ApiTokenScopes(token_id=token_id, scopes=wanted))
    return wanted


def _token_row(store: Store, token: str) -> tuple[int, list[str] | None]:
    digest = hashlib.sha256(token.encode()).hexdigest()
    with store.session() as s:
        row = s.execute(select(ApiToken.id, ApiTokenScopes.scopes)
                        .outerjoin(ApiTokenScopes, ApiTokenScopes.token_id == ApiToken.id)
                        .where(ApiToken.token_hash == digest)).first()
        if row is None:
            return 0, None
        return int(row[0]), (list(row[1]) if row[1] is not None else None)


def current_caller(store: Store, token: str | None) -> Caller:
    """The authenticated caller of this request, or a 401."""
    if not current_user.is_authenticated:
        if token is not None:
            fail(401, "the API token is unknown or revoked: create one with `tillbridge tokens create`")
        fail(401, "send an API token as `Authorization: Bearer <token>` (or sign in)")
    user = cast(object, current_user)
    role = str(getattr(user, "role", ""))
    allowed = ROLE_SCOPES.get(role, frozenset())
    if getattr(user, "via_token", False) and token:
        token_id, narrowed = _token_row(store, token)
        if narrowed is not None:
            allowed = allowed & frozenset(narrowed)
        return Caller(f"token:{token_id}", str(getattr(user, "username", "")), role, allowed, True)
    return Caller(f"user:{getattr(user, 'id', '')}", str(getattr(user, "username", "")), role, allowed, False)


def require(caller: Caller, resource: str, method: str) -> None:
    action = "read" if method in ("GET", "HEAD", "OPTIONS") else "write"
    needed = f"{resource}:{action}"
    if needed in caller.scopes or (action == "read" and f"{resource}:write" in caller.scopes):
        return
    how = ("create a token with that scope, or ask an admin to widen it"
           if caller.via_token else "ask an admin for a role that has it")
    fail(403, f"{caller.username} ({caller.role}) lacks the scope {needed}: {how}",
         error="insufficient_scope")


class ApiRateLimit:
    """Requests per caller per moving minute, shared by every web process through Redis."""

    def __init__(self, per_minute: int) -> None:
        runtime = current()
        storage = RedisStorage("redis://", connection_pool=runtime.redis.connection_pool,
                               key_prefix="tillbridge:api")
        self._limiter = MovingWindowRateLimiter(storage)
        self.limit = RateLimitItemPerMinute(max(1, per_minute))

    def hit(self, caller_key: str) -> tuple[int, int]:
        """Count one request; (remaining, reset seconds). Over the limit: 429 with Retry-After."""
        if not self._limiter.hit(self.limit, caller_key):
            stats = self._limiter.get_window_stats(self.limit, caller_key)
            wait = max(1, math.ceil(stats.reset_time - time.time()))
            fail(429, f"more than {self.limit.amount} requests in a minute from this caller: "
                 f"wait {wait} s (Retry-After) and slow down", error="rate_limited",
                 headers={"Retry-After": str(wait), "RateLimit-Limit": str(self.limit.amount),
                          "RateLimit-Remaining": "0", "RateLimit-Reset": str(wait)})
        stats = self._limiter.get_window_stats(self.limit, caller_key)
        return stats.remaining, max(0, math.ceil(stats.reset_time - time.time()))
