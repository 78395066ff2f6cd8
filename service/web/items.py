"""Sync items: the list with filters, and one item with its whole trace."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from service.flows.context import Context, current
from service.store import items
from service.store.tables import DeadLetter, SyncItem, TraceStep
from service.web.auth import actor, require_role, wants_json
from service.web.paging import Page, page_number

bp = Blueprint("items", __name__)

PAGE_SIZE = 50
VIEW_ROLES = ("integrator", "risk", "operator")  # every role: traces are how anyone finds out what happened



def flows_in_store(runtime: Context) -> list[str]:
    with runtime.store.session() as s:
        return sorted(f for f in s.scalars(select(SyncItem.flow).distinct()) if f)


def item_dict(item: SyncItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "flow": item.flow,
        "direction": item.direction,
        "entity_key": item.entity_key,
        "label": item.label,
        "state": item.state,
        "reason": item.reason,
        "failure_class": item.failure_class,
        "attempts": item.attempts,
        "waits": item.waits,
        "created_at": item.created_at.isoformat() if item.created_at else None,
        "updated_at": item.updated_at.isoformat() if item.updated_at else None,
        "finished_at": item.finished_at.isoformat() if item.finished_at else None,
    }


def step_dict(step: TraceStep) -> dict[str, Any]:
    return {
        "attempt": step.attempt,
        "step": step.step,
        "status": step.status,
        "message": step.message,
        "ms": step.ms,
        "at": step.at.isoformat() if step.at else None,
        "detail": step.detail,
    }


@bp.get("/items")
@require_role(*VIEW_ROLES)
def index() -> Any:
    runtime = current()
    state = request.args.get("state") or None
    if state is not None and state not in items.STATES:
        state = None
    flow = request.args.get("flow") or None
    text = (request.args.get("q") or "").strip() or None
    number = page_number(request.args.get("page"))
    show_quiet = request.args.get("quiet") == "1" or text is not None
    rows = items.search(runtime.store, state=state, flow=flow, text=text, quiet=show_quiet,
                        limit=PAGE_SIZE + 1, offset=(number - 1) * PAGE_SIZE)
    quiet = 0 if show_quiet else items.count_quiet_polls(runtime.store, state=state, flow=flow)
    page = Page(rows=rows[:PAGE_SIZE], number=number, has_next=len(rows) > PAGE_SIZE)
    if wants_json():
        return jsonify({"items": [item_dict(i) for i in page.rows], "page": page.number, "has_next": page.has_next,
                        "quiet_polls_not_listed": quiet})
    return render_template("items.html", page=page, states=items.STATES, flows=flows_in_store(runtime),
                           filters={"state": state or "", "flow": flow or "", "q": text or ""}, quiet=quiet)


@bp.get("/items/<int:item_id>")
@require_role(*VIEW_ROLES)
def show(item_id: int) -> Any:
    runtime = current()
    item = items.get(runtime.store, item_id)
    if item is None:
        abort(404, description=f"There is no sync item {item_id}. It may be in another environment's store.")
    steps = items.steps(runtime.store, item_id)
    with runtime.store.session() as s:
        letters = list(s.scalars(select(DeadLetter).where(DeadLetter.item_id == item_id).order_by(DeadLetter.id)))
    if wants_json():
        return jsonify({**item_dict(item), "payload": item.payload, "result": item.result,
                        "steps": [step_dict(st) for st in steps],
                        "dead_letters": [{"id": d.id, "resolution": d.resolution or "open"} for d in letters]})
    return render_template("item.html", item=item, steps=steps, dead_letters=letters, fixes=fixes_for(item))


MAPPING_IN_REASON = re.compile(r"rules/mappings/([\w.]+)\.yaml")


def fixes_for(item: SyncItem) -> list[tuple[str, str]]:
    """Where to fix what an item waits on: the mapping its reason names, the records it names."""
    fixes: list[tuple[str, str]] = []
    for template in dict.fromkeys(MAPPING_IN_REASON.findall(item.reason or "")):
        fixes.append((f"Edit the mapping {template}", url_for("mappings.editor", template=template)))
    for sku in dict.fromkeys(re.findall(r"SKU '([^']+)'", item.reason or "")):
        fixes.append((f"Items with SKU {sku}", url_for("items.index", q=sku)))
    return fixes


def _act_on_review(item_id: int, action: str) -> Any:
    runtime = current()
    body = (request.get_json(silent=True) or {}) if request.is_json else request.form
    note = str(body.get("note") or "")
    try:
        if action == "retry":
            items.retry_review(runtime.store, item_id, actor=actor(), note=note)
            runtime.enqueue([item_id])
            message = "Sent back to the queue: it runs again with the current mappings and records."
        else:
            items.resolve_review(runtime.store, item_id, actor=actor(), note=note)
            message = "Resolved: the item is closed as ignored with your note; nothing was sent."
    except items.ItemActionError as exc:
        if wants_json():
            return jsonify({"error": "not_allowed", "message": str(exc)}), 409
        flash(f"Nothing changed: {exc}.", "error")
        return redirect(url_for("items.show", item_id=item_id))
    if wants_json():
        return jsonify({"id": item_id, "action": action})
    flash(message, "ok")
    return redirect(url_for("items.show", item_id=item_id))


@bp.post("/items/<int:item_id>/retry")
@require_role("operator")
def retry(item_id: int) -> Any:
    return _act_on_review(item_id, "retry")


@bp.post("/items/<int:item_id>/resolve")
@require_role("operator")
def resolve(item_id: int) -> Any:
    return _act_on_review(item_id, "resolve")
