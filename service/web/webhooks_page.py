"""The outbound webhooks page: each endpoint with its recent deliveries, and a replay button for
any delivery (after a fix on the subscriber's side). Endpoints are made through /v1/webhooks."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from service.api.outbound import delivery, endpoints
from service.api.v1.webhooks import delivery_object, endpoint_object
from service.flows.context import current
from service.store.api_tables import WebhookDelivery, WebhookEvent
from service.web.auth import require_role

bp = Blueprint("webhooks_page", __name__)
ROLES = ("integrator", "operator")
SHOWN = 50



@bp.get("/webhooks")
@require_role(*ROLES)
def index() -> Any:
    runtime = current()
    status = request.args.get("status") or ""
    listed = []
    with runtime.store.session() as s:
        for endpoint in endpoints.listing(runtime.store, after_id=None, limit=100):
            query = (select(WebhookDelivery, WebhookEvent).join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                     .where(WebhookDelivery.endpoint_id == endpoint.id).order_by(WebhookDelivery.id.desc()).limit(SHOWN))
            if status:
                query = query.where(WebhookDelivery.state == status)
            rows = [{**delivery_object(d, e), "number": d.id, "last_response": d.last_response}
                    for d, e in s.execute(query)]
            listed.append({**endpoint_object(endpoint), "deliveries": rows})
    return render_template("webhooks.html", endpoints=listed, status=status)


@bp.post("/webhooks/deliveries/<int:delivery_id>/replay")
@require_role(*ROLES)
def replay(delivery_id: int) -> Any:
    try:
        delivery.replay(current(), delivery_id)
        flash(f"Delivery wd_{delivery_id} sent again.", "info")
    except (LookupError, ValueError) as exc:
        flash(str(exc), "error")
    return redirect(url_for("webhooks_page.index"))
