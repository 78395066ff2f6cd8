"""Web pages for integrators, the risk team and operators.

A page area is a module here with a blueprint named ``bp``, imported and listed in ``pages()``, and
its entry page in ``NAVIGATION``; they protect their views with
``service.web.auth.require_role`` and render templates that extend ``layout.html`` (every form
includes ``{{ csrf_field() }}``). See service/web/README.md.
"""

from __future__ import annotations

from datetime import timedelta
from types import ModuleType
from typing import Any

from flask import Flask, jsonify, render_template
from werkzeug.exceptions import HTTPException

from service.web.auth import init_auth, wants_json
from service.web.csrf import init_csrf
from service.web.format import init_format


def pages() -> tuple[ModuleType, ...]:
    """Every page module, in the order their blueprints are registered."""
    from service.web import (
        alerts_page,
        charts,
        connections_page,
        customers_page,
        dashboard,
        deadletters,
        insights_page,
        items,
        mappings_page,
        reconciliation_page,
        records,
        reviews_customers,
        reviews_orders,
        settings_page,
        triage_page,
        users_page,
        webhooks_page,
        workflows_page,
    )

    return (dashboard, items, deadletters, reviews_customers, mappings_page, reviews_orders, users_page,
            reconciliation_page, webhooks_page, customers_page, insights_page, alerts_page, charts, records,
            connections_page, settings_page, triage_page, workflows_page)

# (label, endpoint, roles that see the link: empty for everyone), in the order the navigation shows them.
NAVIGATION: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Dashboard", "dashboard.index", ()),
    ("Records", "records.index", ()),
    ("Items", "items.index", ()),
    ("Dead letters", "dead_letters.index", ()),
    ("Triage", "triage.index", ("integrator", "risk", "operator")),
    ("Alerts", "alerts.index", ()),
    ("Mappings", "mappings.index", ()),
    ("Workflows", "workflows.index", ()),
    ("Customer reviews", "reviews_customers.index", ()),
    ("Order reviews", "reviews_orders.index", ()),
    ("Customers", "customers_page.index", ("integrator", "risk", "operator", "accounting")),
    ("Reconciliation", "reconciliation.index", ("accounting",)),
    ("Insights", "insights.index", ("operator", "accounting", "integrator")),
    ("Webhooks", "webhooks_page.index", ("integrator", "operator")),
    ("Users", "users.index", ("admin",)),
    ("Connections", "connections.index", ("admin",)),
    ("Settings", "settings.index", ("admin",)),
)


def init_app(app: Flask) -> None:
    """Register login, pages and API-token authentication on the app."""
    # Flask's defaults have these keys already (SameSite unset), so they are set, not defaulted.
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = str(app.config["TILLBRIDGE_PUBLIC_URL"]).lower().startswith("https://")
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=float(app.config["SESSION_LIFETIME_HOURS"]))
    init_auth(app)
    init_csrf(app)
    init_format(app)
    for page in pages():
        app.register_blueprint(page.bp)

    @app.context_processor
    def _layout() -> dict[str, Any]:
        return {"navigation": NAVIGATION}

    for code in (400, 403, 404, 405):
        app.register_error_handler(code, _http_error)


def _http_error(exc: HTTPException) -> Any:
    code = exc.code or 500
    if wants_json():
        response = jsonify({"error": exc.name.lower().replace(" ", "_"), "message": exc.description})
        response.status_code = code
        return response
    return render_template("error.html", title=exc.name, message=exc.description), code
