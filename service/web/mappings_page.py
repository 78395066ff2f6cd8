"""The mapping page: integrators edit a flow's mapping template against real sample records.

Source fields (from live samples or an upload) on the left, target fields on the right with the
suggestion engine's proposals; every edit previews the payload for a real record. Saving makes a new
version in the store; activating one makes the flows use it from their next item on. The page is a
shell; the editor (static/mappings-editor.js) talks to the JSON routes below.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template, request

from service.flows.context import Context, current
from service.flows.templates import TemplateError, current_spec, file_spec, file_version, template_names
from service.kernel.errors import SyncError
from service.mappings.editor import CHECKS, preview, rows_from_spec, spec_from_rows
from service.mappings.samples import Samples, live_samples, uploaded_samples
from service.mappings.suggestions import record_decision, source_fields, suggestions_by_target, target_fields
from service.mappings.versions import diff, spec_yaml
from service.rules.templates import TRANSFORMS
from service.store import mappings as versions_store
from service.store.mappings import Version, VersionError
from service.web.auth import actor, require_role

bp = Blueprint("mappings", __name__, url_prefix="/mappings")

ROLES = ("integrator",)  # and admin, who passes every check
MAX_UPLOAD_BYTES = 2_000_000



def _known(template: str) -> str:
    if template not in template_names(current()):
        abort(404, description=f"there is no mapping template {template!r}: pick one on the mappings page")
    return template


def _base(runtime: Context, template: str) -> dict[str, Any]:
    """The spec whose name, version and other top-level keys the edited rows go with."""
    try:
        return current_spec(runtime, template)[0]
    except TemplateError:
        latest = versions_store.latest_version(runtime.store, template)
        if latest is None:
            abort(404, description=f"there is no mapping template {template!r}")
        return latest.spec


def _same_spec(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two specs map the same way (key order, name and version number aside)."""
    def canonical(spec: dict[str, Any]) -> str:
        return json.dumps({k: v for k, v in spec.items() if k not in ("name", "version")}, sort_keys=True, default=str)

    return canonical(a) == canonical(b)


def _error(status: int, message: str, fields: dict[str, list[str]] | None = None) -> Response:
    response = jsonify({"error": "invalid" if status == 400 else "conflict", "message": message,
                        "fields": fields or {}})
    response.status_code = status
    return response


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description="send a JSON object")
    return body


def _version_json(v: Version) -> dict[str, Any]:
    return {"version": v.version, "label": v.label, "note": v.note, "created_by": v.created_by,
            "created_at": v.created_at.isoformat(timespec="seconds"), "active": v.active,
            "activated_at": v.activated_at.isoformat(timespec="seconds") if v.activated_at else None,
            "activated_by": v.activated_by}


def _fields_json(fields: list[Any]) -> list[dict[str, Any]]:
    return [{"name": f.name, "type": f.type, "description": f.description, "samples": list(f.samples[:3])}
            for f in fields]


def _as_fields(items: Any) -> list[Any]:
    from service.ai.mapping.schema import SchemaError, fields_from_dicts

    try:
        return fields_from_dicts(list(items or []), what="fields")
    except SchemaError as exc:
        abort(400, description=str(exc))


@bp.get("/")
@require_role(*ROLES)
def index() -> str:
    runtime = current()
    rows = []
    for name in template_names(runtime):
        active = versions_store.active(runtime.store, name)
        rows.append({"name": name, "flow": name.split(".", 1)[0], "active": active,
                     "count": len(versions_store.versions(runtime.store, name)),
                     "file_version": file_version(runtime.rules, name) if file_spec(runtime.rules, name) else None})
    return render_template("mappings/index.html", title="Mappings", templates=rows)


@bp.get("/<template>")
@require_role(*ROLES)
def editor(template: str) -> str:
    _known(template)
    return render_template("mappings/editor.html", title=f"Mapping {template}", template=template,
                           transforms=sorted(TRANSFORMS))


@bp.get("/<template>/state")
@require_role(*ROLES)
def state(template: str) -> Response:
    """Everything the editor starts from: rows, samples, fields, suggestions and versions."""
    runtime = current()
    _known(template)
    requested = request.args.get("version", type=int)
    try:
        if requested is not None:
            spec, origin = versions_store.get(runtime.store, template, requested).spec, f"version {requested}"
        else:
            spec, origin = current_spec(runtime, template)
    except VersionError as exc:
        abort(404, description=str(exc))
    except TemplateError:
        spec = _base(runtime, template)
        origin = f"version {spec.get('version')} (latest; none active and no file)"
    rows = rows_from_spec(spec)
    notes: list[str] = []
    try:
        samples = live_samples(runtime, template)
    except SyncError as exc:
        samples = _no_samples(str(exc))
    notes.extend(samples.notes)
    first = preview(runtime.rules, spec, samples.records[0], samples.contexts[0],
                    CHECKS.get(template)) if samples.records else {"payload": None, "errors": {}}
    sources = source_fields(samples, rows)
    targets = target_fields(template, rows, payloads=[first["payload"]] if first["payload"] else [])
    return jsonify({
        "template": template, "origin": origin, "spec": spec, "yaml": spec_yaml(spec), "rows": rows,
        "samples": samples.to_json(), "notes": notes,
        "source_fields": _fields_json(sources), "target_fields": _fields_json(targets),
        "suggestions": _suggest(sources, targets, rows), "preview": first,
        "versions": [_version_json(v) for v in versions_store.versions(runtime.store, template)],
        "transforms": sorted(TRANSFORMS),
    })


def _no_samples(message: str) -> Samples:
    return Samples([], [], [], "none", notes=[f"could not fetch live samples ({message}): upload sample records"])


def _suggest(sources: list[Any], targets: list[Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    from service.ai.mapping.model import ModelError

    try:
        return suggestions_by_target(current().store, sources, targets, rows)
    except ModelError as exc:
        return {"_error": str(exc)}


@bp.post("/<template>/samples")
@require_role(*ROLES)
def samples(template: str) -> Response:
    """Sample records from an uploaded JSON or CSV file, with the source fields they give."""
    _known(template)
    upload = request.files.get("file")
    if upload is None:
        return _error(400, "choose a JSON or CSV file of sample records to upload")
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        return _error(400, f"the file is over {MAX_UPLOAD_BYTES // 1_000_000} MB: upload a few records only")
    try:
        found = uploaded_samples(data.decode("utf-8-sig"), upload.filename or "")
    except (TemplateError, UnicodeDecodeError) as exc:
        return _error(400, str(exc))
    rows = request.form.get("rows")
    sources = source_fields(found, json.loads(rows) if rows else [])
    return jsonify({"samples": found.to_json(), "source_fields": _fields_json(sources)})


@bp.post("/<template>/preview")
@require_role(*ROLES)
def preview_payload(template: str) -> Response:
    """The payload the edited rows make of one sample record, and the errors per target field."""
    runtime = current()
    _known(template)
    body = _body()
    base = _base(runtime, template)
    spec, errors = spec_from_rows(template, body.get("rows") or [], base, runtime.rules)
    result: dict[str, Any] = {"payload": None, "errors": dict(errors)}
    record = body.get("record")
    if isinstance(record, dict) and not errors:
        result = preview(runtime.rules, spec, record, body.get("context") or {}, CHECKS.get(template))
    result["yaml"] = spec_yaml(spec)
    return jsonify(result)


@bp.post("/<template>/suggest")
@require_role(*ROLES)
def suggest(template: str) -> Response:
    _known(template)
    body = _body()
    sources = _as_fields(body.get("source_fields"))
    rows = body.get("rows") or []
    payload = body.get("payload")
    targets = target_fields(template, rows, extra=[str(t) for t in body.get("extra_targets") or []],
                            payloads=[payload] if isinstance(payload, dict) else [])
    return jsonify({"suggestions": _suggest(sources, targets, rows), "target_fields": _fields_json(targets)})


@bp.post("/<template>/decisions")
@require_role(*ROLES)
def decide(template: str) -> Response:
    """An accept or reject of a suggested pair, fed to the suggestion engine."""
    _known(template)
    body = _body()
    source = _as_fields([body.get("source")])[0]
    target = _as_fields([body.get("target")])[0]
    record_decision(current().store, source, target, bool(body.get("accepted")), by=actor())
    return jsonify({"recorded": True})


@bp.post("/<template>/versions")
@require_role(*ROLES)
def save(template: str) -> Response:
    runtime = current()
    _known(template)
    body = _body()
    base = _base(runtime, template)
    spec, errors = spec_from_rows(template, body.get("rows") or [], base, runtime.rules)
    if errors:
        return _error(400, "fix the fields marked before saving", errors)
    if _same_spec(spec, base):
        return _error(409, f"nothing to save: the rows are what is in force already (version {base.get('version')}); "
                           "change a field first")
    try:
        saved = versions_store.save(runtime.store, template, spec, created_by=actor(),
                                    note=str(body.get("note") or ""), floor=file_version(runtime.rules, template))
    except VersionError as exc:
        return _error(400, str(exc))
    return jsonify({"version": _version_json(saved),
                    "versions": [_version_json(v) for v in versions_store.versions(runtime.store, template)]})


@bp.post("/<template>/versions/<int:number>/activate")
@require_role(*ROLES)
def activate(template: str, number: int) -> Response:
    runtime = current()
    _known(template)
    try:
        done = versions_store.activate(runtime.store, template, number, by=actor())
    except VersionError as exc:
        return _error(404, str(exc))
    return jsonify({"version": _version_json(done),
                    "versions": [_version_json(v) for v in versions_store.versions(runtime.store, template)]})


@bp.post("/<template>/rollback")
@require_role(*ROLES)
def rollback(template: str) -> Response:
    runtime = current()
    _known(template)
    try:
        done = versions_store.rollback(runtime.store, template, by=actor())
    except VersionError as exc:
        return _error(409, str(exc))
    return jsonify({"version": _version_json(done),
                    "versions": [_version_json(v) for v in versions_store.versions(runtime.store, template)]})


@bp.post("/<template>/deactivate")
@require_role(*ROLES)
def deactivate(template: str) -> Response:
    """Put the file in rules/mappings/ back in force (the saved versions stay)."""
    runtime = current()
    _known(template)
    if file_spec(runtime.rules, template) is None:
        return _error(409, f"rules/mappings/{template}.yaml does not exist, so a version must stay active: "
                           "activate the one you want instead")
    versions_store.deactivate(runtime.store, template)
    return jsonify({"versions": [_version_json(v) for v in versions_store.versions(runtime.store, template)]})


@bp.get("/<template>/diff")
@require_role(*ROLES)
def version_diff(template: str) -> Response:
    """``?to=N[&from=M]``: the YAML diff from version M (default: the one before N, or the file) to N."""
    runtime = current()
    _known(template)
    to = request.args.get("to", type=int)
    if to is None:
        return _error(400, "say which version to compare: ?to=N (and from=M)")
    start = request.args.get("from", type=int)
    try:
        new = versions_store.get(runtime.store, template, to)
        if start is None:
            older = [v for v in versions_store.versions(runtime.store, template) if v.version < to]
            old = older[0] if older else None
        else:
            old = versions_store.get(runtime.store, template, start)
    except VersionError as exc:
        return _error(404, str(exc))
    return jsonify({"from": old.version if old else None, "to": to,
                    "diff": diff(template, old, new, file_spec(runtime.rules, template))})
