"""What flows, checks, pages and API resources need of the running process.

``service.app.runtime.Runtime`` is the one implementation, built once per process by
``create_app``; everything above the engine is handed a ``Context`` and never imports the
composition root, so the layers below ``app`` stay importable (and testable) on their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from redis import Redis
    from rq import Queue

    from service.connectors.heartland.client import HeartlandClient
    from service.connectors.magento.client import MagentoClient
    from service.engine.breaker import RedisBreaker
    from service.engine.pipeline import Flow, Pipeline
    from service.rules.loader import Rules
    from service.settings import Settings
    from service.store.db import Store
    from service.store.mapping_cache import ActiveMappings


class Context(Protocol):
    settings: Settings
    store: Store
    redis: Redis
    rules: Rules
    active_mappings: ActiveMappings

    @property
    def heartland(self) -> HeartlandClient: ...

    @property
    def magento(self) -> MagentoClient: ...

    @property
    def queue(self) -> Queue: ...

    @property
    def pipeline(self) -> Pipeline: ...

    def enqueue(self, item_ids: list[int]) -> int: ...

    def flow(self, name: str) -> Flow: ...

    def breaker(self, destination: str) -> RedisBreaker: ...

    def environment_setting(self, name: str) -> Any: ...

    def settings_changed(self) -> None: ...

    def refresh_settings(self) -> None: ...

    def credentials_changed(self) -> None: ...

    def connection_settings(self, system: str) -> Settings: ...


def current() -> Context:
    """The context of the Flask app handling this request (or running this job)."""
    from flask import current_app

    context: Context = current_app.extensions["tillbridge"]
    return context
