"""Sync items: the list with filters, and one item with its whole trace."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, jsonify, render_template, request
from sqlalchemy import select

from service.runtime import Runtime
from service.store import items
from service.store.tables import DeadLetter, SyncItem, TraceStep
from service.web.auth import require_role, wants_json
from service.web.paging import Page, page_number

bp = Blueprint("items", __name__)

PAGE_SIZE = 50
VIEW_ROLES = ("integrator", "risk", "operator")  # every role: traces are how anyone finds out what happened


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["tillbridge"]
    return runtime


def flows_in_store(runtime: Runtime) -> list[str]:
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
    runtime = _runtime()
    state = request.args.get("state") or None
    if state is not None and state not in items.STATES:
        state = None
    flow = request.args.get("flow") or None
    text = (request.args.get("q") or "").strip() or None
    number = page_number(request.args.get("page"))
    rows = items.search(runtime.store, state=state, flow=flow, text=text,
                        limit=PAGE_SIZE + 1, offset=(number - 1) * PAGE_SIZE)
    page = Page(rows=rows[:PAGE_SIZE], number=number, has_next=len(rows) > PAGE_SIZE)
    if wants_json():
        return jsonify({"items": [item_dict(i) for i in page.rows], "page": page.number, "has_next": page.has_next})
    return render_template("items.html", page=page, states=items.STATES, flows=flows_in_store(runtime),
                           filters={"state": state or "", "flow": flow or "", "q": text or ""})


@bp.get("/items/<int:item_id>")
@require_role(*VIEW_ROLES)
def show(item_id: int) -> Any:
    runtime = _runtime()
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
    return render_template("item.html", item=item, steps=steps, dead_letters=letters)
