"""Connections (admins): the Heartland and Magento credentials, entered, connected and tested here.

Heartland by API token or OAuth 2.0 (authorization code: this page sends the browser to Heartland's
consent page and takes the code back at /connections/heartland/callback); Magento by admin or
integration token, or the integration's four OAuth 1.0a values. Stored encrypted (service/operations/connections.py).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for

from service.flows.context import current
from service.operations import connections
from service.store import credentials
from service.web.auth import actor, require_role, wants_json

bp = Blueprint("connections", __name__, url_prefix="/connections")

TOKEN_FIELDS = {"heartland": ("url", "token"),
                "magento": ("url", "store_code", "token", "consumer_key", "consumer_secret", "access_token",
                            "access_token_secret")}



def _view(system: str) -> dict[str, Any]:
    runtime = current()
    key = runtime.settings.TILLBRIDGE_ENCRYPTION_KEY
    problem = ""
    stored: dict[str, str] = {}
    try:
        stored = credentials.load(runtime.store, key, system)
    except credentials.CredentialsError as exc:
        problem = str(exc)
    settings = runtime.settings
    url = stored.get("url") or (settings.TILLBRIDGE_HEARTLAND_URL if system == "heartland" else settings.TILLBRIDGE_MAGENTO_URL)
    return {"system": system, "source": connections.source(runtime, system), "url": url, "problem": problem,
            "stored": {f: credentials.mask(f, v) for f, v in stored.items()}}


@bp.get("")
@require_role("admin")
def index() -> Any:
    runtime = current()
    views = {s: _view(s) for s in ("heartland", "magento")}
    if wants_json():
        return jsonify(views)
    return render_template("connections.html", views=views,
                           can_store=bool(runtime.settings.TILLBRIDGE_ENCRYPTION_KEY),
                           callback=url_for("connections.heartland_callback", _external=True),
                           default_authorize=connections.default_authorize_url(views["heartland"]["url"]),
                           client_id=runtime.settings.TILLBRIDGE_HEARTLAND_OAUTH_CLIENT_ID or "")


@bp.post("/<system>/token")
@require_role("admin")
def save_token(system: str) -> Any:
    if system not in TOKEN_FIELDS:
        return redirect(url_for("connections.index"))
    values = {f: str(request.form.get(f, "")) for f in TOKEN_FIELDS[system] if request.form.get(f) is not None}
    try:
        connections.save_token(current(), system, values, actor())
    except connections.ConnectionError_ as exc:
        flash(f"Not saved: {exc}.", "error")
        return redirect(url_for("connections.index"))
    result = connections.test(current(), system)
    flash(f"{system.capitalize()} credentials saved (encrypted). Test: {result.summary}", "ok" if result.ok else "error")
    return redirect(url_for("connections.index"))


@bp.post("/heartland/oauth")
@require_role("admin")
def heartland_oauth() -> Any:
    try:
        target = connections.heartland_oauth_start(
            current(), url=str(request.form.get("url", "")).strip(), client_id=str(request.form.get("client_id", "")).strip(),
            client_secret=str(request.form.get("client_secret", "")).strip(),
            authorize_url=str(request.form.get("authorize_url", "")),
            redirect_uri=url_for("connections.heartland_callback", _external=True), actor=actor())
    except connections.ConnectionError_ as exc:
        flash(f"Not started: {exc}.", "error")
        return redirect(url_for("connections.index"))
    return redirect(target)


@bp.get("/heartland/callback")
@require_role("admin")
def heartland_callback() -> Any:
    try:
        message = connections.heartland_oauth_finish(current(), state=request.args.get("state", ""),
                                                     code=request.args.get("code", ""),
                                                     error=request.args.get("error", ""))
    except connections.ConnectionError_ as exc:
        flash(f"Heartland not connected: {exc}.", "error")
        return redirect(url_for("connections.index"))
    result = connections.test(current(), "heartland")
    flash(f"{message}. Test: {result.summary}", "ok" if result.ok else "error")
    return redirect(url_for("connections.index"))


@bp.post("/magento/activate")
def magento_activate() -> Any:
    """The integration's Endpoint URL: Magento posts the consumer's keys here when an admin clicks
    Activate (server to server, no session; checked in service/operations/connections.py)."""
    try:
        connections.magento_activation_received(current(), {k: str(v) for k, v in request.form.items()})
    except connections.ConnectionError_ as exc:
        return jsonify({"error": "activation_refused", "message": str(exc)}), 400
    return jsonify({"received": True})


@bp.get("/magento/identity")
@require_role("admin")
def magento_identity() -> Any:
    """The integration's Identity link: Magento opens it in the admin's browser after the post above."""
    try:
        message = connections.magento_activation_finish(current(), request.args.get("oauth_consumer_key", ""), actor())
    except connections.ConnectionError_ as exc:
        flash(f"Magento integration not activated: {exc}.", "error")
        return redirect(url_for("connections.index"))
    result = connections.test(current(), "magento")
    flash(f"{message}. Test: {result.summary}", "ok" if result.ok else "error")
    back = request.args.get("success_call_back", "")
    configured = connections.origin(str(current().connection_settings("magento").TILLBRIDGE_MAGENTO_URL))
    if back and connections.origin(back) == configured:
        return redirect(back)  # Magento's page that closes the activation popup
    return redirect(url_for("connections.index"))


@bp.post("/<system>/test")
@require_role("admin")
def test(system: str) -> Any:
    if system not in TOKEN_FIELDS:
        return redirect(url_for("connections.index"))
    result = connections.test(current(), system)
    if wants_json():
        return jsonify(vars(result))
    found = f": {', '.join(result.found[:10])}" if result.found else ""
    flash(f"{result.summary}{found} (credentials from: {result.source}).", "ok" if result.ok else "error")
    return redirect(url_for("connections.index"))


@bp.post("/<system>/remove")
@require_role("admin")
def remove(system: str) -> Any:
    if system in TOKEN_FIELDS and credentials.remove(current().store, system):
        connections.forget_clients(current())
        flash(f"Stored {system} credentials removed: the environment's are used again.", "ok")
    return redirect(url_for("connections.index"))
