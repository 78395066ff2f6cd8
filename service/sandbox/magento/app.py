"""The Magento 2 sandbox: a Flask app that answers ``/rest/[<store>/]V1/…`` as Magento 2.4 does.

``create_app(seed="demo", token="magento-dev-token", events_url=None, webhook_secret=…, **options)``
builds it; state lives in memory (service/sandbox/magento/state.py). Requests go through one
dispatcher: store code → route → authentication and ACL → body contract → handler → ``fields=``
trimming. Fault injection, the request log and reset come from service/sandbox/harness.py; the
sandbox adds ``POST /__sandbox/checkout`` (place an order as the storefront would) and
``GET /__sandbox/events`` (the signed events emitted). See README.md in this folder.
"""

from __future__ import annotations

import zlib
from typing import Any

from flask import Flask, Response

from service.sandbox.harness import Harness
from service.sandbox.magento.auth import Credentials
from service.sandbox.magento.events import EventSender
from service.sandbox.magento.sandbox import DEFAULT_TOKEN, DEFAULT_WEBHOOK_SECRET, MagentoSandbox


def create_app(
    seed: str | None = "demo",
    token: str = DEFAULT_TOKEN,
    events_url: str | None = None,
    webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
    **options: Any,
) -> Flask:
    """Build the sandbox app.

    Options: ``consumer_key``, ``consumer_secret``, ``access_token_secret`` (OAuth 1.0a integration,
    whose access token is ``token``); ``enable_integration_as_bearer`` (default True, so ``token``
    works as Bearer; False rehearses Magento 2.4.4+'s default); ``integration_resources`` (ACL
    resources granted to the integration; default all); ``admin_users`` ({username: password},
    default {"admin": "admin123"}); ``two_factor_auth``; ``unknown_property_status`` (400 default,
    500 to answer unknown body properties as production Magento does); ``backorders`` (the seeded
    products' backorder setting: 1 "Allow Qty Below 0", the default, so long benchmarks never run
    out of stock; 0 refuses a checkout beyond the salable quantity); ``products``,
    ``customers``, ``history_orders`` (seed sizes); ``extra_statuses`` ({state: [status, …]});
    ``sources`` (MSI source codes besides ``default``, which start empty).
    """
    resources = options.get("integration_resources")
    credentials = Credentials(
        consumer_key=options.get("consumer_key", "tillbridge-consumer-key"),
        consumer_secret=options.get("consumer_secret", "tillbridge-consumer-secret"),
        access_token=token,
        access_token_secret=options.get("access_token_secret", "tillbridge-access-token-secret"),
        enable_integration_as_bearer=bool(options.get("enable_integration_as_bearer", True)),
        integration_resources=frozenset(resources) if resources is not None else None,
        admin_users=dict(options.get("admin_users") or {"admin": "admin123"}),
        two_factor_auth=bool(options.get("two_factor_auth", False)),
    )
    events = EventSender(events_url, webhook_secret)
    sandbox = MagentoSandbox(seed, credentials, events, options)

    from service.sandbox.magento.routes import register

    register(sandbox)
    app = Flask(__name__)
    app.extensions["magento_sandbox"] = sandbox
    harness = Harness("magento", on_reset=sandbox.reset, seed=zlib.crc32((seed or "").encode("utf-8")))
    harness.init_app(app)
    from service.sandbox.magento import activation

    activation.init_app(app, sandbox.auth)

    def rest(rest: str) -> Response:
        return sandbox.dispatch(rest)

    app.add_url_rule("/rest/<path:rest>", "magento_rest", rest, methods=["GET", "POST", "PUT", "DELETE"])

    from service.sandbox.magento.routes import register_sandbox_views

    register_sandbox_views(app, sandbox)
    return app


def sandbox_of(app: Flask) -> MagentoSandbox:
    return app.extensions["magento_sandbox"]
