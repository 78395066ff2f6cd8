"""Everything a process needs at run time, built once by create_app and shared by web, worker and CLI."""

from __future__ import annotations

import threading
import time
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from limits.storage import RedisStorage
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from service.app.backing import open_redis, open_store, redis_problems
from service.app.embedded import redis_url
from service.app.jobs import run_item
from service.connectors.http import HttpConnector, RateLimiter
from service.engine.breaker import RedisBreaker
from service.engine.lease import check_current
from service.engine.pipeline import EngineSettings, Flow, Pipeline
from service.engine.queue import enqueue_items, make_queue
from service.engine.trace import record_exchange, tracing_active
from service.flows import catalog as _catalog  # noqa: F401 - every flow registers itself
from service.kernel.retry import RetryPolicy
from service.rules.loader import Rules
from service.settings import Settings, replaced, value_of
from service.store.mapping_cache import ActiveMappings

C = TypeVar("C", bound=HttpConnector)
CREDENTIALS_STAMP_KEY = "tb:credentials:stamp"
SETTINGS_STAMP_KEY = "tb:settings:stamp"
CREDENTIALS_STAMP_SECONDS = 5.0  # how often a process asks whether the credentials changed

if TYPE_CHECKING:
    from rq import Queue

    from service.connectors.heartland.client import HeartlandClient
    from service.connectors.magento.client import MagentoClient


class Runtime:
    def __init__(self, settings: Settings) -> None:
        # Frozen: new values (the settings page's overrides, `reconfigure`) swap in a new object, so a
        # reader holding this one sees one consistent set of settings.
        self.settings = settings
        self._environment_settings = settings
        self._overrides: dict[str, Any] = {}
        self.store = open_store(settings)
        self.redis_url = redis_url(settings)
        self.redis = open_redis(settings, self.redis_url)
        self.rules = Rules(settings.RULES_DIR)
        # The active mapping versions, kept per process; any commit that changes them drops them everywhere.
        self.active_mappings = ActiveMappings(self.store, self.redis)
        self._lock = threading.Lock()
        self._flows: dict[str, Flow] = {}
        self._clients_lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._stamp: Any = None
        self._stamp_read_at = float("-inf")
        self._settings_stamp: Any = None
        self._settings_read_at = float("-inf")

    @cached_property
    def worker_redis(self) -> Redis:
        """The RQ worker's own connection: its dequeue blocks in Redis for up to RQ's dequeue timeout
        (worker TTL − 15 s), so its socket timeout must be longer (RQ raises a shorter one on the
        connection it is given, which would lift every other command's timeout with it)."""
        from rq.defaults import DEFAULT_WORKER_TTL

        return open_redis(self.settings, self.redis_url, socket_timeout=float(DEFAULT_WORKER_TTL))

    @cached_property
    def queue(self) -> Queue:
        return make_queue(self.redis, self.settings.QUEUE_NAME, self.settings.JOB_TIMEOUT_SECONDS)

    def enqueue(self, item_ids: list[int]) -> int:
        return enqueue_items(self.queue, run_item, item_ids)

    @cached_property
    def policy(self) -> RetryPolicy:
        s = self.settings
        return RetryPolicy(base_seconds=s.RETRY_BASE_SECONDS, cap_seconds=s.RETRY_CAP_SECONDS,
                           max_attempts=s.MAX_ATTEMPTS)

    @cached_property
    def pipeline(self) -> Pipeline:
        s = self.settings
        lease = s.lease_seconds
        engine_settings = EngineSettings(
            lease_seconds=lease,
            lock_ttl_seconds=lease,
            lock_wait_seconds=s.LOCK_WAIT_SECONDS,
            policy=self.policy,
            wait_limit_seconds=s.WAIT_LIMIT_SECONDS,
        )
        return Pipeline(self.store, self.redis, self.flow, engine_settings)

    def breaker(self, destination: str) -> RedisBreaker:
        s = self.settings
        return RedisBreaker(self.redis, destination, threshold=s.BREAKER_FAILURE_THRESHOLD,
                            open_seconds=s.BREAKER_OPEN_SECONDS)

    def rate_limiter(self, destination: str, rate_per_second: float) -> RateLimiter:
        """The destination's rate limit, counted in Redis: shared by every process of the deployment."""
        storage = RedisStorage("redis://", connection_pool=self.redis.connection_pool, key_prefix="tillbridge:rate")
        return RateLimiter(rate_per_second, destination=destination, storage=storage,
                           max_wait_seconds=self.settings.RATE_LIMIT_MAX_WAIT_SECONDS)

    @property
    def heartland(self) -> HeartlandClient:
        client: HeartlandClient = self._client("heartland", self._build_heartland)
        return client

    @property
    def magento(self) -> MagentoClient:
        client: MagentoClient = self._client("magento", self._build_magento)
        return client

    def _client(self, system: str, build: Any) -> Any:
        """The system's client, built again once its credentials changed in any process (the
        connections page or `tillbridge connections` bump a stamp in Redis, read every few seconds)."""
        self._check_credentials_stamp()
        with self._clients_lock:
            client = self._clients.get(system)
            if client is None:
                client = self._clients[system] = build()
            return client

    def _check_credentials_stamp(self) -> None:
        now = time.monotonic()
        if now - self._stamp_read_at < CREDENTIALS_STAMP_SECONDS:
            return
        self._stamp_read_at = now
        try:
            stamp = self.redis.get(CREDENTIALS_STAMP_KEY)
        except RedisError:
            return  # keep the clients we have; the next read tries again
        if stamp != self._stamp:
            self._stamp = stamp
            with self._clients_lock:
                self._clients.clear()

    def apply_setting_overrides(self) -> None:
        """The settings page's values over the environment's (service/store/setting_overrides.py),
        applied at start and whenever any process changed them (a stamp in Redis)."""
        from service.store import setting_overrides

        try:
            found = setting_overrides.overrides(self.store)
        except SQLAlchemyError:
            return  # not migrated yet: the environment's settings stand
        self._overrides = {name: setting_overrides.checked(name, raw) for name, raw in found.items()
                           if name in setting_overrides.BY_NAME}
        self.settings = replaced(self._environment_settings, self._overrides)

    def reconfigure(self, **changes: Any) -> None:
        """Change settings in this process only, as if its environment had said so (tests, one-off
        commands); the settings page's overrides still apply over them."""
        self._environment_settings = replaced(self._environment_settings, changes)
        self.settings = replaced(self._environment_settings, self._overrides)

    def environment_setting(self, name: str) -> Any:
        return value_of(self._environment_settings, name)

    def settings_changed(self) -> None:
        self.redis.incr(SETTINGS_STAMP_KEY)
        self.apply_setting_overrides()

    def refresh_settings(self) -> None:
        """Apply the overrides again when another process changed them (read at most every few seconds)."""
        now = time.monotonic()
        if now - self._settings_read_at < CREDENTIALS_STAMP_SECONDS:
            return
        self._settings_read_at = now
        try:
            stamp = self.redis.get(SETTINGS_STAMP_KEY)
        except RedisError:
            return
        if stamp != self._settings_stamp:
            self._settings_stamp = stamp
            self.apply_setting_overrides()

    def credentials_changed(self) -> None:
        """Every process builds its Heartland and Magento clients again from the new credentials."""
        self.redis.incr(CREDENTIALS_STAMP_KEY)
        with self._clients_lock:
            self._clients.clear()

    def _build_heartland(self) -> HeartlandClient:
        from service.connectors.heartland.client import HeartlandClient

        s = self.connection_settings("heartland")
        client = HeartlandClient.from_settings(s, rate_per_second=s.HEARTLAND_RATE_PER_SECOND,
                                               on_exchange=record_exchange)
        return self._guarded(client, "heartland", s, rate_per_second=s.HEARTLAND_RATE_PER_SECOND)

    def _build_magento(self) -> MagentoClient:
        from service.connectors.magento.client import MagentoClient

        s = self.connection_settings("magento")
        client = MagentoClient.from_settings(s, rate_per_second=s.MAGENTO_RATE_PER_SECOND, on_exchange=record_exchange)
        return self._guarded(client, "magento", s, rate_per_second=s.MAGENTO_RATE_PER_SECOND)

    def _guarded(self, client: C, system: str, s: Settings, *, rate_per_second: float) -> C:
        """What every client of another system gets: the shared breaker and rate limit, the fence
        check before each write, the whole-call deadline, and exchanges kept only for a run's trace."""
        client.breaker = self.breaker(system)
        client.before_write = check_current
        client.exchange_wanted = tracing_active
        client.limiter = self.rate_limiter(system, rate_per_second)
        client.deadline_seconds = s.HTTP_DEADLINE_SECONDS
        return client

    def connection_settings(self, system: str) -> Settings:
        """The settings with ``system``'s stored credentials (`tillbridge connections set`) in place of
        the environment's; a stored Magento token or OAuth set replaces the environment's whole auth."""
        from service.store import credentials

        stored = credentials.settings_for(self.store, self.settings.TILLBRIDGE_ENCRYPTION_KEY, system)
        auth = {name for field, name in credentials.FIELDS[system].items() if field not in credentials.PLAIN_FIELDS}
        if auth & stored.keys():
            return replaced(self.settings, {**dict.fromkeys(auth, ""), **stored})
        return replaced(self.settings, stored)

    def flow(self, name: str) -> Flow:
        with self._lock:
            flow = self._flows.get(name)
            if flow is None:
                from service.flows.registry import build_flow

                flow = build_flow(name, self)
                self._flows[name] = flow
            return flow

    def redis_problems(self) -> tuple[list[str], list[str]]:
        """What in the Redis configuration loses work: (refusals, warnings) (service/app/backing.py)."""
        return redis_problems(self.redis)

    def redis_warnings(self) -> list[str]:
        """What /healthz and `tillbridge health` report: a configuration that can lose work now."""
        refusals, _ = self.redis_problems()
        return refusals

    def after_fork(self) -> None:
        self.store.after_fork()
