"""Triage: open dead letters and items in review by group of the same failure, each with its cause,
the proposed fix and how sure it is; Apply does the fix in one click where it is safe (after its
check), Not right records what would have been right. Both are labels the proposals learn from.

The dead-letter pages, the item page and the timeline read proposals through the template helpers
registered here (``triage_for_letter``, ``triage_for_item``, ``triage_groups``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for

from service.ai.triage import Proposal
from service.engine.deadletters import DeadLetterError
from service.flows.context import current
from service.operations import triage
from service.rules.loader import RuleError
from service.store.items import ItemActionError
from service.store.tables import DeadLetter, SyncItem
from service.web.auth import actor, require_role, wants_json

bp = Blueprint("triage", __name__)

VIEW_ROLES = ("integrator", "risk", "operator")
ACT_ROLES = ("operator",)



def proposal_dict(p: Proposal) -> dict[str, Any]:
    return {"cause": p.cause, "title": p.title, "fix": p.fix, "action": p.action, "action_label": p.action_label,
            "one_click": p.one_click, "confidence": p.confidence, "source": p.source, "similar": p.similar,
            "scores": p.scores}


def group_dict(g: triage.TriageGroup) -> dict[str, Any]:
    return {"kind": g.kind, "signature": g.signature, "flow": g.flow, "class": g.failure_class,
            "pattern": g.pattern, "count": g.count, "ids": [m.source_id for m in g.members],
            "items": [m.item_id for m in g.members], "records": [m.label for m in g.members], "skus": g.skus,
            "can_apply": g.can_apply, "mapping_target": g.mapping_target,
            "proposal": proposal_dict(g.proposal) if g.proposal else None}


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    def for_letter(letter: DeadLetter) -> Proposal | None:
        if letter.resolved_at is not None:
            return None
        try:
            return triage.proposal_for_letter(current(), letter)
        except RuleError:
            return None

    def for_item(item: SyncItem) -> Proposal | None:
        try:
            return triage.proposal_for_item(current(), item)
        except RuleError:
            return None

    def by_signature(kind: str, flow: str | None = None) -> dict[str, triage.TriageGroup]:
        try:
            return triage.by_signature(triage.groups(current(), kind=kind, flow=flow or None))
        except RuleError:
            return {}

    return {"triage_for_letter": for_letter, "triage_for_item": for_item, "triage_groups": by_signature}


@bp.get("/triage")
@require_role(*VIEW_ROLES)
def index() -> Any:
    runtime = current()
    kind = request.args.get("kind") or None
    if kind not in (None, *triage.KINDS):
        kind = None
    flow = request.args.get("flow") or None
    found = triage.groups(runtime, kind=kind, flow=flow)
    if wants_json():
        return jsonify({"groups": [group_dict(g) for g in found], "labels": triage.label_counts(runtime.store)})
    book = triage.rulebook(runtime.rules)
    return render_template("triage.html", groups=found, filters={"kind": kind or "", "flow": flow or ""},
                           actions=book.actions, labels=triage.label_counts(runtime.store))


def _done(message: str, status: int = 200, **extra: Any) -> Any:
    if wants_json():
        return jsonify({"message": message, **extra}), status
    flash(message, "ok" if status < 400 else "error")
    back = str(request.form.get("next") or "")
    # Only a path of this site: never an address elsewhere.
    return redirect(back if back.startswith("/") and not back.startswith("//") else url_for("triage.index"))


@bp.post("/triage/<kind>/<signature>/apply")
@require_role(*ACT_ROLES)
def apply(kind: str, signature: str) -> Any:
    runtime = current()
    body = (request.get_json(silent=True) or {}) if request.is_json else request.form
    try:
        applied = triage.apply(runtime, kind, signature, actor=actor(), target_sku=str(body.get("target_sku") or ""))
    except (triage.TriageError, DeadLetterError, ItemActionError) as exc:
        return _done(f"Nothing done: {exc}.", 409)
    runtime.enqueue(applied.item_ids)
    return _done(f"Applied “{applied.action}”: {applied.message}; the items are queued again.",
                 action=applied.action, retried=applied.item_ids)


@bp.post("/triage/<kind>/<signature>/reject")
@require_role(*ACT_ROLES)
def reject(kind: str, signature: str) -> Any:
    body = (request.get_json(silent=True) or {}) if request.is_json else request.form
    try:
        renewed = triage.reject(current(), kind, signature, actor=actor(), better=str(body.get("better") or ""),
                                note=str(body.get("note") or ""))
    except triage.TriageError as exc:
        return _done(f"Nothing recorded: {exc}.", 400)
    return _done(f"Recorded as not right. The proposal for this group is now: {renewed.action_label} "
                 f"({renewed.confidence:.0%}).", proposal=proposal_dict(renewed))
