"""The dashboard: how much is where, per flow; the destinations' breakers; what is waiting or dead."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, jsonify, render_template

from service.flows.context import current
from service.operations.overview import overview
from service.store.items import STATES
from service.web.auth import require_role, wants_json

bp = Blueprint("dashboard", __name__)

@bp.get("/")
@require_role()
def index() -> Any:
    runtime = current()
    view = overview(runtime)
    if wants_json():
        return jsonify({
            "counts": view.counts,
            "totals": view.totals,
            "oldest_pending_seconds": view.oldest_pending_seconds(),
            "open_dead_letters": view.open_dead_letters,
            "breakers": view.breakers,
            "open_order_reviews": view.open_order_reviews,
            "pending_customer_pairs": view.pending_customer_pairs,
            "items_in_review": view.in_review,
            "alerts_firing": view.alerts_firing,
            "drift": view.drift,
        })
    return render_template("dashboard.html", view=view, states=STATES, now=datetime.now(UTC))
