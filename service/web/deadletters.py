"""Dead letters: see what gave up and why, then retry (as-is or edited), resolve with a note, or
retry in bulk by filter. Every action goes through service.engine.deadletters with who did it."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from service.engine import deadletters
from service.engine.deadletters import CardNumberInPayload, DeadLetterError, DeadLetterFilter
from service.flows.context import Context, current
from service.kernel.cards import mask_card_numbers
from service.kernel.errors import FailureClass
from service.operations import deadletter_groups
from service.store.tables import DeadLetter, SyncItem
from service.web.auth import actor, require_role, wants_json
from service.web.paging import Page, page_number

bp = Blueprint("dead_letters", __name__)

PAGE_SIZE = 50
VIEW_ROLES = ("integrator", "risk", "operator")
ACT_ROLES = ("operator",)  # and admin, who passes every check



def _filter_from(values: Any) -> DeadLetterFilter:
    return DeadLetterFilter(
        flow=values.get("flow") or None,
        failure_class=values.get("class") or None,
        open_only=values.get("status", "open") != "all",
        text=(values.get("q") or "").strip() or None,
    )


def _flows(runtime: Context) -> list[str]:
    with runtime.store.session() as s:
        return sorted(f for f in s.scalars(select(DeadLetter.flow).distinct()) if f)


def letter_dict(letter: DeadLetter) -> dict[str, Any]:
    return {
        "id": letter.id,
        "item_id": letter.item_id,
        "flow": letter.flow,
        "class": letter.failure_class,
        "error": letter.error,
        "attempts": letter.attempts,
        "created_at": letter.created_at.isoformat() if letter.created_at else None,
        "resolution": letter.resolution or "open",
        "resolved_by": letter.resolved_by,
        "note": letter.note,
    }


def parse_payload(text: str) -> dict[str, Any]:
    """The edited payload: a JSON object, or a DeadLetterError that says where it is wrong."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DeadLetterError(f"the payload is not valid JSON: {exc.msg} at line {exc.lineno}, "
                              f"column {exc.colno}") from None
    if not isinstance(value, dict):
        raise DeadLetterError(f"the payload must be a JSON object ({{…}}), not a {type(value).__name__}")
    return value


@bp.get("/dead-letters")
@require_role(*VIEW_ROLES)
def index() -> Any:
    runtime = current()
    f = _filter_from(request.args)
    number = page_number(request.args.get("page"))
    rows = deadletters.query(runtime.store, f, limit=number * PAGE_SIZE + 1)
    start = (number - 1) * PAGE_SIZE
    page = Page(rows=rows[start:start + PAGE_SIZE], number=number, has_next=len(rows) > start + PAGE_SIZE)
    if wants_json():
        return jsonify({"dead_letters": [letter_dict(d) for d in page.rows], "page": page.number,
                        "has_next": page.has_next})
    filters = {"flow": f.flow or "", "class": f.failure_class or "", "q": f.text or "",
               "status": "open" if f.open_only else "all"}
    with runtime.store.session() as s:
        ids = [d.item_id for d in page.rows]
        labels: dict[int, str] = {}
        if ids:
            labels = {item_id: label for item_id, label in s.execute(
                select(SyncItem.id, SyncItem.label).where(SyncItem.id.in_(ids)))}
    groups = [g for g in deadletter_groups.open_groups(runtime.store, f.flow) if g.count > 1]
    return render_template("dead_letters.html", page=page, filters=filters, flows=_flows(runtime),
                           classes=[c.value for c in FailureClass], labels=labels, groups=groups)


@bp.get("/dead-letters/groups")
@require_role(*VIEW_ROLES)
def groups() -> Any:
    found = deadletter_groups.open_groups(current().store, request.args.get("flow") or None)
    return jsonify({"groups": [{"signature": g.signature, "flow": g.flow, "class": g.failure_class,
                                "pattern": g.pattern, "count": g.count, "dead_letters": g.letter_ids,
                                "records": g.labels} for g in found]})


@bp.post("/dead-letters/groups/<signature>/retry")
@require_role(*ACT_ROLES)
def retry_group(signature: str) -> Any:
    runtime = current()
    try:
        ids = deadletter_groups.retry(runtime.store, signature, actor=actor())
    except DeadLetterError as exc:
        if wants_json():
            return jsonify({"error": "not_done", "message": str(exc)}), 409
        flash(f"Nothing retried: {exc}.", "error")
        return redirect(url_for("dead_letters.index"))
    runtime.enqueue(ids)
    if wants_json():
        return jsonify({"retried": ids})
    flash(f"Retried {len(ids)} dead letter(s) of one signature; their items are queued again.", "ok")
    return redirect(url_for("dead_letters.index"))


@bp.post("/dead-letters/groups/<signature>/resolve")
@require_role(*ACT_ROLES)
def resolve_group(signature: str) -> Any:
    body = request.get_json(silent=True) if request.is_json else None
    note = str((body or request.form).get("note", "") or "")
    try:
        n = deadletter_groups.resolve(current().store, signature, actor=actor(), note=note)
    except DeadLetterError as exc:
        if wants_json():
            return jsonify({"error": "not_done", "message": str(exc)}), 400
        flash(f"Nothing resolved: {exc}.", "error")
        return redirect(url_for("dead_letters.index"))
    if wants_json():
        return jsonify({"resolved": n})
    flash(f"Resolved {n} dead letter(s) of one signature with your note.", "ok")
    return redirect(url_for("dead_letters.index"))


def _show(letter: DeadLetter, *, payload_text: str | None = None, error: str | None = None,
          note: str = "", status: int = 200) -> Any:
    text = payload_text if payload_text is not None else json.dumps(letter.payload, indent=2, ensure_ascii=False)
    return render_template("dead_letter.html", letter=letter, payload_text=text, error=error, note=note), status


@bp.get("/dead-letters/<int:letter_id>")
@require_role(*VIEW_ROLES)
def show(letter_id: int) -> Any:
    letter = deadletters.get(current().store, letter_id)
    if letter is None:
        abort(404, description=f"There is no dead letter {letter_id}.")
    if wants_json():
        return jsonify({**letter_dict(letter), "payload": letter.payload})
    return _show(letter)


def _failed(letter_id: int, message: str, status: int = 400, **form: Any) -> Any:
    if wants_json():
        response = jsonify({"error": "not_done" if status == 400 else "card_number_refused", "message": message})
        response.status_code = status
        return response
    letter = deadletters.get(current().store, letter_id)
    if letter is None:
        abort(404, description=f"There is no dead letter {letter_id}.")
    return _show(letter, error=message, status=status, **form)


@bp.post("/dead-letters/<int:letter_id>/retry")
@require_role(*ACT_ROLES)
def retry(letter_id: int) -> Any:
    runtime = current()
    body = request.get_json(silent=True) if request.is_json else None
    payload: dict[str, Any] | None = None
    payload_text: str | None = None
    try:
        if body is not None and isinstance(body.get("payload"), dict):
            payload = body["payload"]
        elif request.form.get("edited"):
            payload_text = request.form.get("payload", "")
            payload = parse_payload(payload_text)
        item_id = deadletters.retry(runtime.store, letter_id, actor=actor(), payload=payload)
    except CardNumberInPayload as exc:
        # The form comes back with the number masked: the page never echoes it.
        return _failed(letter_id, str(exc), status=422,
                       payload_text=mask_card_numbers(payload_text) if payload_text is not None else None)
    except DeadLetterError as exc:
        return _failed(letter_id, str(exc), payload_text=payload_text)
    runtime.enqueue([item_id])
    how = "with the edited payload" if payload is not None else "as-is"
    if wants_json():
        return jsonify({"retried": [item_id], "payload_edited": payload is not None})
    flash(f"Dead letter {letter_id} retried {how}: item {item_id} is queued again.", "ok")
    return redirect(url_for("items.show", item_id=item_id))


@bp.post("/dead-letters/<int:letter_id>/resolve")
@require_role(*ACT_ROLES)
def resolve(letter_id: int) -> Any:
    body = request.get_json(silent=True) if request.is_json else None
    note = str((body or request.form).get("note", "") or "")
    try:
        deadletters.resolve(current().store, letter_id, actor=actor(), note=note)
    except DeadLetterError as exc:
        return _failed(letter_id, str(exc), note=note)
    if wants_json():
        return jsonify({"resolved": letter_id})
    flash(f"Dead letter {letter_id} resolved.", "ok")
    return redirect(url_for("dead_letters.index"))


@bp.post("/dead-letters/retry-matching")
@require_role(*ACT_ROLES)
def retry_matching() -> Any:
    runtime = current()
    body = request.get_json(silent=True) if request.is_json else None
    f = _filter_from(body or request.form)
    f.open_only = True  # only open ones can be retried
    try:
        ids = deadletters.retry_matching(runtime.store, f, actor=actor())
    except DeadLetterError as exc:
        if wants_json():
            return jsonify({"error": "not_done", "message": str(exc)}), 400
        flash(f"Bulk retry stopped: {exc}", "error")
        return redirect(url_for("dead_letters.index"))
    runtime.enqueue(ids)
    if wants_json():
        return jsonify({"retried": ids})
    flash(f"Retried {len(ids)} dead letter(s); their items are queued again.", "ok")
    args: dict[str, Any] = {k: v for k, v in {"flow": f.flow, "class": f.failure_class, "q": f.text}.items() if v}
    return redirect(url_for("dead_letters.index", **args))
