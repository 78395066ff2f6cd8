"""Records: one order, customer, product or gift card, found by number, SKU, e-mail or id, with its
whole timeline across both systems (service/operations/timeline.py)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template, request, url_for

from service.flows.context import current
from service.operations import timeline
from service.web.auth import require_role, wants_json

bp = Blueprint("records", __name__)


@bp.get("/records")
@require_role()
def index() -> Any:
    runtime = current()
    q = (request.args.get("q") or "").strip()
    found = timeline.find(runtime.store, q) if q else None
    if wants_json():
        if found is None:
            return jsonify({"query": q, "found": False}), 404 if q else 200
        return jsonify({"query": q, "found": True, "title": found.title, "names": found.names, "keys": found.keys,
                        "items": [i.id for i in found.items], "no_change_polls": found.no_change_polls,
                        "entries": [{"at": e.at.isoformat(), "kind": e.kind, "title": e.title, "detail": e.detail,
                                     "item_id": e.item_id, "state": e.state,
                                     "url": url_for(e.link, **e.link_args) if e.link else None}
                                    for e in found.entries]})
    return render_template("records.html", q=q, found=found)
