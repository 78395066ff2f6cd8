"""What the CLI, the page and the API do with workflows, in one place: find the flow a workflow
extends, save a draft from a document, publish with the flow's checks, test a version on an event."""

from __future__ import annotations

from typing import Any, Protocol

from service.workflows import diff, dry_run, versions
from service.workflows.model import Workflow, WorkflowError
from service.workflows.runner import Extensible, insertion_points, parse
from service.workflows.step_types import LOOKUPS, TYPES, WorkflowContext


class WorkflowsContext(WorkflowContext, Protocol):
    def flow(self, name: str) -> Any: ...


def extensible(context: WorkflowsContext, name: str) -> Extensible:
    """The built-in flow ``name`` if a workflow can extend it; else ValueError saying which can."""
    from service.kernel.errors import SyncError

    try:
        flow = context.flow(name)
    except SyncError as exc:
        raise ValueError(f"{exc}") from None
    if not getattr(flow, "insertion_points", None) or not getattr(flow, "steps", None):
        raise ValueError(f"flow {name!r} has no insertion points yet: workflows extend {', '.join(EXTENSIBLE)}")
    extended: Extensible = flow
    return extended


EXTENSIBLE = ("orders",)  # the flows that name insertion points today


def save(context: WorkflowsContext, document: Any, *, base_revision: int | None, actor: str) -> versions.Version:
    if not isinstance(document, dict):
        raise WorkflowError(["a workflow is a mapping with workflow, flow, trigger and steps"])
    flow = extensible(context, str(document.get("flow") or document.get("workflow") or ""))
    workflow = parse(flow, document)
    return versions.save_draft(context.store, workflow, base_revision=base_revision, actor=actor)


def publish(context: WorkflowsContext, name: str, *, actor: str) -> versions.Version:
    """Publish the draft: new items run it from now on, in every process."""
    flow = extensible(context, name)
    published = versions.publish(context.store, name, actor=actor, check=lambda doc: parse(flow, doc))
    versions.announce(context.redis)
    return published


def rollback(context: WorkflowsContext, name: str, *, actor: str, to: int | None = None) -> int:
    """Make an earlier version live again (0: the built-in flow alone); returns the live version."""
    live = versions.rollback(context.store, name, actor=actor, to=to)
    versions.announce(context.redis)
    return live


def document_of(context: WorkflowsContext, name: str, number: int | None) -> tuple[int, dict[str, Any] | None]:
    """A version's document: ``number``, else the draft, else the live version (0, None: none)."""
    store = context.store
    if number is not None:
        return number, (versions.get(store, name, number).document if number else None)
    current = versions.draft(store, name)
    if current is not None:
        return current.number, current.document
    live = versions.live_version(store, name)
    return live, (versions.get(store, name, live).document if live else None)


def described(context: WorkflowsContext, name: str, number: int | None = None) -> dict[str, Any]:
    """The flow's steps with the insertion points and a version's steps at each, for show and the page."""
    flow = extensible(context, name)
    version, document = document_of(context, name, number)
    workflow = parse(flow, document) if document else None
    rows = []
    for row in insertion_points(flow):
        if "point" in row and workflow is not None:
            row = {**row, "steps": [s.to_dict() | {"summary": s.summary()} for s in workflow.at(row["point"])]}
        elif "point" in row:
            row = {**row, "steps": []}
        rows.append(row)
    return {"workflow": name, "flow": flow.name, "direction": flow.direction, "version": version,
            "live": versions.live_version(context.store, name), "rows": rows,
            "document": document or {"workflow": name, "flow": name, "trigger": {"kind": "event"}, "steps": []}}


def changes(context: WorkflowsContext, name: str, old: int, new: int | None) -> list[str]:
    flow = extensible(context, name)
    _, new_doc = document_of(context, name, new)
    old_doc = versions.get(context.store, name, old).document if old else None
    if new_doc is None:
        return ["no changes"]
    return diff.in_words(parse(flow, old_doc) if old_doc else None, parse(flow, new_doc))


def test(context: WorkflowsContext, name: str, *, number: int | None = None, item_id: int | None = None,
         dead_letter_id: int | None = None, event: Any = None, recent: bool = False) -> dry_run.Report:
    """Run a version (the draft by default) in a dry run on one event."""
    flow = extensible(context, name)
    version, document = document_of(context, name, number)
    workflow = parse(flow, document) if document else None
    store = context.store
    what: Any
    happened = None
    if dead_letter_id is not None:
        what, letter = dry_run.dead_letter_item(store, dead_letter_id)
        source = f"dead letter {letter.id} (item {what.id})"
        happened = dry_run.happened(what)
    elif item_id is not None:
        what = dry_run.item_by_id(store, item_id)
        source = f"item {what.id}"
        happened = dry_run.happened(what)
    elif event is not None:
        what, source = dry_run.pasted_item(name, event), "pasted event"
    elif recent:
        found = dry_run.recent_items(store, name, limit=1)
        if not found:
            raise LookupError(f"no {name} item yet to test on: paste an event instead")
        what, source = found[0], f"item {found[0].id} (the most recent)"
        happened = dry_run.happened(what)
    else:
        raise ValueError("say what to test on: a recent item, an item id, a dead letter or a pasted event")
    if what.flow != name:
        raise ValueError(f"item {what.id} is of flow {what.flow!r}, not {name!r}")
    report = dry_run.dry_run(flow, context, workflow, what, version=version, source=source)
    report.happened = happened
    return report


def palette() -> list[dict[str, Any]]:
    return [{"type": t.name, "title": t.title, "effect": t.effect, "ends_run": t.ends_run} for t in TYPES.values()]


def lookups() -> list[str]:
    return list(LOOKUPS)


__all__ = ["Workflow", "WorkflowError", "changes", "described", "extensible", "lookups", "palette", "publish",
           "save", "test"]


def parse_workflow(context: WorkflowsContext, document: Any) -> Workflow:
    """A document parsed against the flow it extends."""
    return parse(extensible(context, str(document.get("flow") or document.get("workflow") or "")), document)
