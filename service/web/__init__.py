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

from flask import Flask, abort, jsonify, render_template, request
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from service.api.v1.errors import is_v1
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
        reviews_quality,
        settings_page,
        triage_page,
        users_page,
        webhooks_page,
        workflows_page,
    )

    return (dashboard, items, deadletters, reviews_customers, mappings_page, reviews_orders, users_page,
            reconciliation_page, webhooks_page, customers_page, insights_page, alerts_page, charts, records,
            connections_page, settings_page, triage_page, workflows_page, reviews_quality)

# The navigation: the dashboard, then menus of pages by what a person comes to do. Each link is
# (label, endpoint, roles that see it: empty for everyone); a menu shows when one of its links does.
NavLink = tuple[str, str, tuple[str, ...]]
NAVIGATION: tuple[tuple[str, tuple[NavLink, ...]], ...] = (
    ("", (("Dashboard", "dashboard.index", ()),)),
    ("Operate", (
        ("Records", "records.index", ()),
        ("Items", "items.index", ()),
        ("Dead letters", "dead_letters.index", ()),
        ("Triage", "triage.index", ("integrator", "risk", "operator")),
        ("Alerts", "alerts.index", ()),
    )),
    ("Review", (
        ("Order reviews", "reviews_orders.index", ()),
        ("Customer reviews", "reviews_customers.index", ()),
        ("Data quality", "reviews_quality.index", ("integrator", "operator")),
    )),
    ("Build", (
        ("Mappings", "mappings.index", ()),
        ("Workflows", "workflows.index", ()),
        ("Webhooks", "webhooks_page.index", ("integrator", "operator")),
    )),
    ("Business", (
        ("Customers", "customers_page.index", ("integrator", "risk", "operator", "accounting")),
        ("Reconciliation", "reconciliation.index", ("accounting",)),
        ("Insights", "insights.index", ("operator", "accounting", "integrator")),
    )),
    ("Admin", (
        ("Users", "users.index", ("admin",)),
        ("Connections", "connections.index", ("admin",)),
        ("Settings", "settings.index", ("admin",)),
    )),
)


def init_app(app: Flask) -> None:
    """Register login, pages and API-token authentication on the app."""
    # Flask's defaults have these keys already (SameSite unset), so they are set, not defaulted.
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    settings = app.extensions["tillbridge"].settings
    app.config["SESSION_COOKIE_SECURE"] = settings.TILLBRIDGE_PUBLIC_URL.lower().startswith("https://")
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=settings.SESSION_LIFETIME_HOURS)
    init_auth(app)
    init_csrf(app)
    init_format(app)
    for page in pages():
        app.register_blueprint(page.bp)

    @app.context_processor
    def _layout() -> dict[str, Any]:
        return {"navigation": visible_navigation()}

    app.before_request(_refuse_nul_characters)
    for code in (400, 403, 404, 405):
        app.register_error_handler(code, _http_error)


_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
# Ingest keeps an event's body as it came, NUL characters included (in a JSON column, where
# PostgreSQL takes them); its text fields are checked by the endpoints themselves.
_INGEST = ("webhooks", "heartland_hooks")


def _holds_nul(document: Any) -> bool:
    """Whether any text of a parsed JSON document (keys included) holds a NUL character; without
    recursion, so a deeply nested body costs no stack."""
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def _refuse_nul_characters() -> None:
    """400 for a NUL character (U+0000) in the address, a query value, a form field or a JSON body
    sent to a page: PostgreSQL refuses it in every text value, so a search or a saved field
    holding one would otherwise fail as a server error. /v1 answers it with its own 422."""
    if is_v1():
        return
    found: list[str] = []
    if "\x00" in request.path:
        found.append("the address")
    found.extend(f"query {key!r}" for key, value in request.args.items(multi=True)
                 if "\x00" in key or "\x00" in value)
    if request.mimetype in _FORMS:
        found.extend(f"field {key!r}" for key, value in request.form.items(multi=True)
                     if "\x00" in key or "\x00" in value)
    elif request.is_json and request.blueprint not in _INGEST and _holds_nul(request.get_json(silent=True)):
        found.append("the JSON body")
    if found:
        abort(400, description=f"NUL characters (U+0000) are not accepted; found in {', '.join(found)}: "
                               "remove them and send it again.")


def visible_navigation() -> list[tuple[str, list[tuple[str, str, bool]], str]]:
    """The menus the signed-in person may open (none before sign-in): (menu, [(label, endpoint,
    active)], the active page's label or "")."""
    if not current_user.is_authenticated:
        return []
    here = (request.endpoint or "").split(".")[0]
    menus = []
    for menu, links in NAVIGATION:
        shown = [(label, endpoint, bool(here) and endpoint.split(".")[0] == here)
                 for label, endpoint, roles in links if not roles or current_user.has_role(*roles)]
        if shown:
            menus.append((menu, shown, next((label for label, _, active in shown if active), "")))
    return menus


def _http_error(exc: HTTPException) -> Any:
    code = exc.code or 500
    if wants_json():
        response = jsonify({"error": exc.name.lower().replace(" ", "_"), "message": exc.description})
        response.status_code = code
        return response
    return render_template("error.html", title=exc.name, message=exc.description), code
