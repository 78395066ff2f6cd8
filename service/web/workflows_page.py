"""The workflows page: a built-in flow's steps (locked) with its insertion points, the steps a
workflow adds at each, and the draft edited from a palette; a test on a recent real order (or a
pasted one) in a dry run; publish, roll back, and what changed between versions in words.

Integrators edit; everyone signed in sees. Every edit is posted with the draft revision the page
showed, so a stale page is refused with who saved since (service/workflows/versions.py). The JSON
routes (``/state``, ``/draft``, ``/test``) are what scripts and the tests use.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as Redirect

from service.connectors import alert_channels
from service.flows.context import current
from service.kernel.numbers import whole_number
from service.web import workflow_samples
from service.web.auth import actor, require_role
from service.workflows import actions, conditions, dry_run, versions
from service.workflows.model import WorkflowError

bp = Blueprint("workflows", __name__, url_prefix="/workflows")

EDITORS = ("integrator",)  # and admin, who passes every check


def _known(name: str) -> Any:
    try:
        return actions.extensible(current(), name)
    except ValueError as exc:
        abort(404, description=str(exc))


@bp.get("/")
@require_role()
def index() -> str:
    store = current().store
    rows = []
    for name in sorted(set(actions.EXTENSIBLE) | set(versions.workflows(store))):
        rows.append({"name": name, "live": versions.live_version(store, name), "draft": versions.draft(store, name),
                     "count": len([v for v in versions.versions(store, name) if v.state == "published"])})
    return render_template("workflows/index.html", title="Workflows", rows=rows)


def _page_state(name: str, number: int | None) -> dict[str, Any]:
    runtime = current()
    described = actions.described(runtime, name, number)
    draft = versions.draft(runtime.store, name)
    return {**described, "draft": draft, "versions": versions.versions(runtime.store, name)}


@bp.get("/<name>")
@require_role()
def workflow(name: str) -> str:
    _known(name)
    number = request.args.get("version", type=int)
    state = _page_state(name, number)
    runtime = current()
    recent = dry_run.recent_items(runtime.store, name, limit=15)
    letters = dry_run.open_dead_letters(runtime.store, name, limit=15)
    report = None
    changes = None
    compare = request.args.get("diff")
    if compare is not None:
        old, _, new = compare.partition("..")
        try:
            changes = actions.changes(runtime, name, int(old or 0), int(new) if new else None)
        except (ValueError, LookupError) as exc:
            flash(f"No diff: {exc}", "error")
    return _render(name, state, recent=recent, letters=letters, report=report, changes=changes, compare=compare)


def _render(name: str, state: dict[str, Any], *, recent: list[Any], letters: list[Any], report: Any,
            changes: list[str] | None, compare: str | None) -> str:
    """The page; the canvas script reads the palette, the rule builder's operators and the recent
    orders (for the live preview) from a JSON block in it."""
    recent_rows = [{"id": i.id, "label": i.label or i.entity_key, "state": i.state} for i in recent]
    points = [row["point"] for row in state["rows"] if row.get("point")]
    return render_template("workflows/workflow.html", title=f"Workflow {name}", name=name, state=state,
                           palette=actions.palette(), lookups=actions.lookups(), operators=conditions.OPERATORS,
                           no_value=list(conditions.NO_VALUE), channels=list(alert_channels.TYPES),
                           recent_rows=recent_rows, points=points, recent=recent, letters=letters, report=report,
                           changes=changes, compare=compare, can_edit=_can_edit(),
                           tried=request.form.get("source") if report is not None else None)


def _can_edit() -> bool:
    from flask_login import current_user

    return bool(current_user.is_authenticated and current_user.has_role(*EDITORS))


@bp.get("/<name>/state")
@require_role()
def state_json(name: str) -> Response:
    _known(name)
    state = _page_state(name, request.args.get("version", type=int))
    draft = state.pop("draft")
    state["draft"] = {"number": draft.number, "revision": draft.revision, "saved_by": draft.saved_by} if draft else None
    state["versions"] = [{"number": v.number, "state": v.state, "live": v.live, "saved_by": v.saved_by,
                          "published_by": v.published_by} for v in state["versions"]]
    return jsonify(state)


def _error(status: int, message: str, problems: list[str] | None = None) -> Response:
    response = jsonify({"error": {400: "invalid", 409: "conflict"}.get(status, "error"), "message": message,
                        "problems": problems or []})
    response.status_code = status
    return response


@bp.post("/<name>/draft")
@require_role(*EDITORS)
def save_json(name: str) -> Response:
    """Save the whole draft: ``{"document": {...}, "base_revision": N | null}``."""
    _known(name)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("document"), dict):
        return _error(400, 'send {"document": {...}, "base_revision": the revision you edited, or null}')
    document = body["document"]
    if document.get("workflow") != name:
        return _error(400, f"the document's workflow is {document.get('workflow')!r}, not {name!r}")
    try:
        saved = actions.save(current(), document, base_revision=body.get("base_revision"), actor=actor())
    except versions.StaleDraft as exc:
        return _error(409, str(exc))
    except WorkflowError as exc:
        return _error(400, "the workflow is not valid", exc.problems)
    return jsonify({"number": saved.number, "revision": saved.revision, "saved_by": saved.saved_by})


@bp.post("/<name>/test")
@require_role()
def test_json(name: str) -> Response:
    """A dry run: ``{"item": id}`` or ``{"dead_letter": id}`` or ``{"event": {...}}`` or ``{"recent": true}``."""
    _known(name)
    body = request.get_json(silent=True) or {}
    try:
        report = actions.test(current(), name, number=body.get("version"), item_id=body.get("item"),
                              dead_letter_id=body.get("dead_letter"), event=body.get("event"),
                              recent=bool(body.get("recent")))
    except (ValueError, LookupError) as exc:
        return _error(400, str(exc))
    return jsonify(report.to_dict())


@bp.get("/<name>/sample")
@require_role()
def sample_json(name: str) -> Response:
    """What a step would see on a real item, for the canvas's live preview: ``?item=ID&step=ID``."""
    _known(name)
    item_id = request.args.get("item", type=int)
    if item_id is None:
        return _error(400, "say which item: ?item=ID (a recent order of this workflow)")
    try:
        sample = workflow_samples.sample_for(current(), name, item_id, request.args.get("step") or None)
    except (ValueError, LookupError) as exc:
        return _error(400, str(exc))
    return jsonify(sample)


# -- the page's forms ------------------------------------------------------------------------------
def _edit(name: str, change: Any, done: str) -> Redirect:
    """Apply ``change(document)`` to the draft (or a new draft from the live version) and save it
    from the revision the page showed."""
    runtime = current()
    base = request.form.get("base_revision", type=int)
    number, document = actions.document_of(runtime, name, None)
    current_draft = versions.draft(runtime.store, name)
    if current_draft is None:
        document = copy.deepcopy(document) if document else {"workflow": name, "flow": name,
                                                             "trigger": {"kind": "event"}, "steps": []}
    else:
        document = copy.deepcopy(current_draft.document)
    try:
        change(document)
        actions.save(runtime, document, base_revision=base, actor=actor())
    except versions.StaleDraft as exc:
        flash(f"Not saved: {exc}", "error")
    except WorkflowError as exc:
        flash("Not saved: " + "; ".join(exc.problems), "error")
    except (ValueError, KeyError, IndexError) as exc:
        flash(f"Not saved: {exc}", "error")
    else:
        flash(done, "ok")
    return redirect(url_for("workflows.workflow", name=name))


def _rule_from_form() -> dict[str, Any] | None:
    fields = request.form.getlist("rule_field")
    ops = request.form.getlist("rule_op")
    values = request.form.getlist("rule_value")
    parts = []
    for field, op, raw in zip(fields, ops, values, strict=False):
        if not field.strip():
            continue
        part: dict[str, Any] = {"field": field.strip(), "op": op}
        if op not in conditions.NO_VALUE:
            try:
                part["value"] = json.loads(raw)
            except ValueError:
                part["value"] = raw
        parts.append(part)
    if not parts:
        return None
    return {request.form.get("rule_join") or "all": parts}


def _config_from_form() -> dict[str, Any]:
    text = request.form.get("config") or "{}"
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"the config is not JSON ({exc}); write it as {{\"key\": value}}") from None
    if not isinstance(config, dict):
        raise ValueError("the config must be a JSON object")
    rule = _rule_from_form()
    if rule is not None:
        if request.form.get("type") == "branch":
            outputs = config.setdefault("outputs", [{"name": "matched", "steps": []}])
            outputs[0]["rule"] = rule
        else:
            config["rule"] = rule
    return config


@bp.post("/<name>/steps")
@require_role(*EDITORS)
def add_step(name: str) -> Redirect:
    _known(name)
    step_id = (request.form.get("id") or "").strip()

    def change(document: dict[str, Any]) -> None:
        step = {"id": step_id, "type": request.form.get("type"), "at": request.form.get("at"),
                "config": _config_from_form()}
        if request.form.get("title"):
            step["title"] = request.form["title"]
        document.setdefault("steps", []).append(step)

    return _edit(name, change, f"Added step {step_id!r} to the draft.")


def _find(document: dict[str, Any], step_id: str) -> int:
    for n, step in enumerate(document.get("steps") or []):
        if step.get("id") == step_id:
            return n
    raise KeyError(f"the draft has no step {step_id!r} (another editor may have removed it): reload")


@bp.post("/<name>/steps/<step_id>")
@require_role(*EDITORS)
def change_step(name: str, step_id: str) -> Redirect:
    _known(name)
    action = request.form.get("action") or "save"

    def change(document: dict[str, Any]) -> None:
        steps = document["steps"]
        n = _find(document, step_id)
        if action == "remove":
            del steps[n]
        elif action in ("up", "down"):
            same = [i for i, s in enumerate(steps) if s.get("at") == steps[n].get("at")]
            where = same.index(n) + (-1 if action == "up" else 1)
            if 0 <= where < len(same):
                other = same[where]
                steps[n], steps[other] = steps[other], steps[n]
        else:
            steps[n]["config"] = _config_from_form()
            if request.form.get("at"):
                steps[n]["at"] = request.form["at"]

    said = {"remove": "Removed", "up": "Moved up", "down": "Moved down"}.get(action, "Saved")
    return _edit(name, change, f"{said} step {step_id!r} in the draft.")


@bp.post("/<name>/publish")
@require_role(*EDITORS)
def publish(name: str) -> Redirect:
    _known(name)
    try:
        version = actions.publish(current(), name, actor=actor())
    except (versions.VersionError, ValueError) as exc:
        flash(f"Not published: {exc}", "error")
    else:
        flash(f"Published version {version.number}: new events run it; items already started keep theirs.", "ok")
    return redirect(url_for("workflows.workflow", name=name))


@bp.post("/<name>/rollback")
@require_role(*EDITORS)
def rollback(name: str) -> Redirect:
    _known(name)
    to = request.form.get("to", type=int)
    try:
        live = actions.rollback(current(), name, actor=actor(), to=to)
    except versions.VersionError as exc:
        flash(f"Not rolled back: {exc}", "error")
    else:
        flash(f"Rolled back: new events run {f'version {live}' if live else 'the built-in steps alone'}.", "ok")
    return redirect(url_for("workflows.workflow", name=name))


@bp.post("/<name>/discard")
@require_role(*EDITORS)
def discard(name: str) -> Redirect:
    _known(name)
    versions.discard_draft(current().store, name)
    flash("Draft discarded.", "ok")
    return redirect(url_for("workflows.workflow", name=name))


@bp.post("/<name>/try")
@require_role()
def try_draft(name: str) -> str | Redirect:
    """The test form: a dry run of the draft on a chosen item, dead letter or pasted event."""
    _known(name)
    runtime = current()
    pasted = (request.form.get("event") or "").strip()
    kind, _, ident = (request.form.get("source") or "").partition(":")
    try:
        event = json.loads(pasted) if pasted else None
        number = whole_number(ident)
        if event is None and number is None:
            raise ValueError("pick a recent order or a dead letter, or paste an order")
        report = actions.test(runtime, name, item_id=number if event is None and kind == "item" else None,
                              dead_letter_id=number if event is None and kind == "dead" else None, event=event)
    except (ValueError, LookupError) as exc:
        flash(f"Not tested: {exc}", "error")
        return redirect(url_for("workflows.workflow", name=name))
    return _render(name, _page_state(name, None), recent=dry_run.recent_items(runtime.store, name, limit=15),
                   letters=dry_run.open_dead_letters(runtime.store, name, limit=15), report=report, changes=None,
                   compare=None)
