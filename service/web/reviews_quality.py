"""Data-quality reviews for integrators and operators: the records the ``quality`` step held
(service/flows/checks/quality.py), each with its reason, the values before and after, and the SKU's
usual range; Release (the item runs again and writes the held values, once) or Reject (the item is
ignored with the reason; the source keeps its value), one at a time, selected, or a whole bulk
change held as one group. Decisions are the labels that tune the thresholds."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for

from service.flows.checks import quality as guard
from service.flows.context import current
from service.store import items, quality
from service.store.quality import FindingFilter, QualityDecisionError
from service.store.quality_tables import QualityFinding
from service.web.auth import actor, require_role, wants_json
from service.web.paging import Page, page_number

bp = Blueprint("reviews_quality", __name__)

PAGE_SIZE = 50
ROLES = ("integrator", "operator")  # and admin, who passes every check
STATE_CHOICES = ("open", "released", "rejected", "all")
MAX_NOTE = 2000
CHECKS = {"change": "far outside the usual", "swing": "bulk change", "zero_price": "zero price",
          "price_below_cost": "price below cost", "negative_stock": "negative stock", "blanked": "owned field blanked",
          "order_line": "order line"}


def finding_dict(f: QualityFinding) -> dict[str, Any]:
    return {"id": f.id, "item_id": f.item_id, "flow": f.flow, "sku": f.sku, "label": f.label, "field": f.field,
            "check": f.check, "action": f.action, "reason": f.reason, "before": f.before, "after": f.after,
            "usual": f.usual, "score": f.score, "threshold": f.threshold, "group": f.group_key, "state": f.state,
            "decided_by": f.decided_by, "decided_at": f.decided_at.isoformat() if f.decided_at else None,
            "note": f.note, "created_at": f.created_at.isoformat() if f.created_at else None}


def _filter_from(values: Any) -> FindingFilter:
    state = values.get("state") or "open"
    return FindingFilter(state=None if state == "all" else (state if state in STATE_CHOICES else "open"),
                         flow=(values.get("flow") or "").strip() or None,
                         group=(values.get("group") or "").strip() or None,
                         text=(values.get("q") or "").strip() or None)


@bp.get("/reviews/quality")
@require_role(*ROLES)
def index() -> Any:
    runtime = current()
    f = _filter_from(request.args)
    number = page_number(request.args.get("page"))
    rows = quality.query(runtime.store, f, limit=PAGE_SIZE + 1, offset=(number - 1) * PAGE_SIZE)
    page = Page(rows=rows[:PAGE_SIZE], number=number, has_next=len(rows) > PAGE_SIZE)
    groups = quality.open_groups(runtime.store)
    if wants_json():
        return jsonify({"holds": [finding_dict(r) for r in page.rows], "page": page.number, "has_next": page.has_next,
                        "groups": [{"group": g, "records": n, "field": field, "since": first.isoformat()}
                                   for g, n, field, first in groups]})
    filters = {"state": request.args.get("state") or "open", "flow": f.flow or "", "group": f.group or "",
               "q": f.text or ""}
    return render_template("reviews/quality.html", page=page, filters=filters, states=STATE_CHOICES, groups=groups,
                           counts=quality.counts_by_state(runtime.store), checks=CHECKS)


@bp.get("/reviews/quality/<int:finding_id>")
@require_role(*ROLES)
def show(finding_id: int) -> Any:
    runtime = current()
    finding = quality.get(runtime.store, finding_id)
    if finding is None:
        abort(404, description=f"There is no data-quality hold {finding_id}.")
    siblings = quality.for_item(runtime.store, finding.item_id) if finding.item_id is not None else [finding]
    history = quality.history(runtime.store, finding.entity_key) if finding.flow != "orders" else {}
    if wants_json():
        return jsonify({**finding_dict(finding), "findings": [finding_dict(s) for s in siblings],
                        "history": {name: {"value": h.value, "low": h.low, "high": h.high, "writes": h.writes,
                                           "changes": list(h.changes)} for name, h in history.items()}})
    item = items.get(runtime.store, finding.item_id) if finding.item_id is not None else None
    return render_template("reviews/quality_detail.html", finding=finding, findings=siblings, item=item,
                           history=history, checks=CHECKS)


def _note() -> str:
    body = request.get_json(silent=True) if request.is_json else None
    return str((body or request.form).get("note", "") or "").strip()[:MAX_NOTE]


def _back() -> Any:
    target = request.form.get("next") or ""
    if target.startswith("/reviews/quality") and not target.startswith("//"):
        return redirect(target)
    return redirect(url_for("reviews_quality.index"))


def _refused(message: str, status: int = 409) -> Any:
    if wants_json():
        response = jsonify({"error": "not_done", "message": message})
        response.status_code = status
        return response
    flash(message, "error")
    return _back()


@bp.post("/reviews/quality/items/<int:item_id>/<any(release, reject):decision>")
@require_role(*ROLES)
def decide(item_id: int, decision: str) -> Any:
    try:
        result = guard.decide(current(), item_id, decision, actor=actor(), note=_note())
    except QualityDecisionError as exc:
        return _refused(str(exc))
    if wants_json():
        return jsonify({"item_id": item_id, "decision": decision, "message": result.message})
    flash(result.message, "ok")
    return _back()


@bp.post("/reviews/quality/bulk")
@require_role(*ROLES)
def bulk() -> Any:
    body = request.get_json(silent=True) if request.is_json else None
    source: Any = body or request.form
    decision = str(source.get("decision", ""))
    group = str(source.get("group", "") or "").strip()
    raw_ids = source.get("item_ids", []) if body else request.form.getlist("item_ids")
    try:
        ids = sorted({int(i) for i in raw_ids})
    except (TypeError, ValueError):
        abort(400, description="item_ids must be item numbers")
    if group:
        ids = sorted(set(ids) | set(quality.group_items(current().store, group)))
    if decision not in guard.DECISIONS or not ids:
        return _refused("Select one or more held records (or a group), then choose Release or Reject."
                        if not ids else f"Unknown decision {decision!r}: use release or reject.", 400)
    done: list[int] = []
    failed: list[str] = []
    note = _note()
    for item_id in ids:
        try:
            guard.decide(current(), item_id, decision, actor=actor(), note=note)
            done.append(item_id)
        except QualityDecisionError as exc:
            failed.append(str(exc))
    if wants_json():
        return jsonify({"decision": decision, "done": done, "failed": failed})
    if done:
        flash(f"{len(done)} record{'s' if len(done) != 1 else ''} {guard.DECISIONS[decision]}"
              f"{' (group ' + group + ')' if group else ''}.", "ok")
    for message in failed:
        flash(message, "error")
    return _back()
