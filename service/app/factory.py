"""create_app(config): the one factory for the web service, the workers and the CLI."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.routing import IntegerConverter, Map

from service.app.runtime import Runtime
from service.settings import load_settings
from service.settings.secrets import session_key

WEB = Path(__file__).resolve().parents[1] / "web"  # the pages' templates and static files


class RowId(IntegerConverter):
    """``<int:…>`` in every route: a number the store's integer ids can hold. A larger one names no
    row, so the route does not match (404) instead of the database refusing the lookup (500)."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(url_map, *args, **kwargs)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    settings = load_settings(config)
    app = Flask(__name__, template_folder=str(WEB / "templates"), static_folder=str(WEB / "static"))
    app.url_map.converters["int"] = RowId  # before any route is added
    app.config["SECRET_KEY"] = session_key(settings.SECRET_KEY)
    app.config["MAX_CONTENT_LENGTH"] = settings.MAX_EVENT_BYTES + 1024
    runtime = Runtime(settings)
    app.extensions["tillbridge"] = runtime
    if settings.AUTO_MIGRATE:
        runtime.store.upgrade()
    runtime.apply_setting_overrides()  # what admins changed on the settings page

    from service.api.heartland_hooks import bp as heartland_hooks_bp
    from service.api.metrics import bp as metrics_bp
    from service.api.webhooks import bp as webhooks_bp

    app.register_blueprint(webhooks_bp)
    app.register_blueprint(heartland_hooks_bp)
    app.register_blueprint(metrics_bp)
    _register_web(app)
    _register_api(app)

    @app.get("/healthz")
    def healthz() -> Any:
        runtime.redis.ping()
        with runtime.store.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        return jsonify({"status": "ok", "warnings": runtime.redis_warnings()})

    logging.basicConfig(level=settings.LOG_LEVEL,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return app


def _register_api(app: Flask) -> None:
    """The v1 API, for signed-in integrators or their API tokens."""
    from service.api.mappings import mappings_api
    from service.api.v1 import init_v1
    from service.web.auth import require_role

    app.register_blueprint(mappings_api)
    init_v1(app)
    guard = require_role("integrator")(lambda: None)

    @app.before_request
    def _integrators_only() -> Any:
        if request.blueprint == mappings_api.name:
            return guard()
        return None


def _register_web(app: Flask) -> None:
    from service.web import init_app

    init_app(app)
