"""A dry run: a workflow version (a draft, usually) run on a real event with every effect suppressed.

The flow's pure steps run for real (they read Magento, the mappings, the store); its effect steps
are not run, only listed with what they would do; the workflow's own steps run, except that a
notice or an HTTP call is listed (with its idempotency key and whether it was already sent) instead
of sent, and a wait does not wait. Each step's input and output are kept for the page and the CLI.

The event is a recent item of the flow, a past item or an open dead letter (replay: what the draft
would do against what happened), or a pasted envelope.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from service.engine.outcome import Outcome
from service.engine.steps import Run, Step
from service.engine.trace import Trace, cut_body
from service.kernel.cards import mask_card_numbers
from service.kernel.errors import SyncError
from service.store.db import Store
from service.store.tables import DeadLetter, SyncItem
from service.workflows import expressions
from service.workflows.runner import Extensible, splice
from service.workflows.step_types import Env, WorkflowContext, plain

KEEP_BYTES = 4000


@dataclass
class DryItem:
    """A stand-in for an item that is not in the store (a pasted event): it is never written."""

    flow: str
    payload: dict[str, Any]
    entity_key: str
    id: int = 0
    attempts: int = 0
    label: str = "pasted event"


@dataclass
class Report:
    workflow: str
    version: int
    source: str  # what was run: "item 12", "dead letter 3", "pasted event"
    state: str  # the outcome the run would end in: done | ignored | review | failed
    reason: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    effects: list[dict[str, Any]] = field(default_factory=list)
    happened: dict[str, Any] | None = None  # for a replay: what the item's real runs ended in

    def to_dict(self) -> dict[str, Any]:
        return {"workflow": self.workflow, "version": self.version, "source": self.source, "state": self.state,
                "reason": self.reason, "steps": self.steps, "effects": self.effects, "happened": self.happened}


def _kept(value: Any) -> Any:
    return cut_body(json.loads(json.dumps(plain(value), default=str)), KEEP_BYTES)


def _watch(io: dict[str, dict[str, Any]]) -> Any:
    def wrap(step: Step) -> Step:
        def does(run: Run) -> Outcome | None:
            before = {k: json.dumps(plain(v), default=str, sort_keys=True) for k, v in run.values.items()}
            names = step.reads or tuple(k for k in ("vars",) if k in run.values)
            io[step.name] = {"input": {k: _kept(run.values[k]) for k in names if k in run.values}}
            outcome = step.does(run)
            io[step.name]["output"] = {k: _kept(v) for k, v in run.values.items()
                                       if before.get(k) != json.dumps(plain(v), default=str, sort_keys=True)}
            return outcome

        return Step(step.name, does, step.title, reads=step.reads, writes=step.writes, effect=step.effect,
                    idempotency=step.idempotency, binding=step.binding)

    return wrap


def _suppressing(io: dict[str, dict[str, Any]], env: Env, last: str) -> Any:
    watch = _watch(io)

    def builtin(step: Step) -> Step:
        if step.pure:
            return watch(step)

        def does(run: Run) -> Outcome | None:
            for name in step.writes:
                run.values.setdefault(name, f"(written by {step.name}: not run in a dry run)")
            io[step.name] = {"input": {k: _kept(run.values[k]) for k in step.reads if k in run.values},
                             "output": {}}
            env.would_send.append({"step": step.name, "kind": "built-in", "system": step.effect or "tillbridge",
                                   "would": step.title, "once": step.idempotency or step.binding})
            run.say(f"not run in a dry run: would {step.title}")
            return Outcome.done(f"would be done by {step.name}") if step.name == last else None

        return Step(step.name, does, step.title, reads=step.reads, writes=step.writes)

    return builtin


def dry_run(flow: Extensible, context: WorkflowContext, workflow: Any, item: Any, *, version: int,
            source: str) -> Report:
    """Run ``workflow`` (a parsed Workflow, or None for the flow alone) on ``item`` with effects suppressed."""
    env = Env(context, flow.name, version, dry_run=True)
    io: dict[str, dict[str, Any]] = {}
    steps = splice(flow, workflow, env, wrap=_watch(io), builtin=_suppressing(io, env, flow.steps[-1].name))
    trace = Trace()  # empty progress: nothing counts as done by an earlier run
    run = Run(item, trace)
    try:
        flow.start(run)
        outcome: Outcome | None = None
        for step in steps:
            with trace.step(step.name, step.title) as entry:
                run.entry = entry
                outcome = step.does(run)
            if outcome is not None:
                break
        state, reason = (outcome.state, outcome.reason) if outcome else ("done", "every step passed")
    except SyncError as exc:
        state, reason = "failed", f"{exc} ({exc.failure_class.value}{'; ' + exc.hint if exc.hint else ''})"
    except expressions.ExpressionError as exc:
        state, reason = "failed", str(exc)
    report = Report(flow.name, version, source, state, mask_card_numbers(reason), effects=env.would_send)
    for entry in trace.steps:
        name = entry["step"]
        report.steps.append({"step": name, "status": entry["status"], "message": mask_card_numbers(
            str(entry.get("message") or "")), "ms": entry.get("ms", 0.0), **io.get(name, {}),
            "detail": entry.get("detail") or {}})
    return report


# -- the events a dry run can take -----------------------------------------------------------------
def recent_items(store: Store, flow: str, limit: int = 20) -> list[SyncItem]:
    with store.session() as s:
        return list(s.scalars(select(SyncItem).where(SyncItem.flow == flow).order_by(SyncItem.id.desc())
                              .limit(limit)))


def item_by_id(store: Store, item_id: int) -> SyncItem:
    with store.session() as s:
        item = s.get(SyncItem, item_id)
        if item is None:
            raise LookupError(f"there is no item {item_id}")
        s.expunge(item)
        return item


def dead_letter_item(store: Store, dead_letter_id: int) -> tuple[SyncItem, DeadLetter]:
    with store.session() as s:
        letter = s.get(DeadLetter, dead_letter_id)
        if letter is None:
            raise LookupError(f"there is no dead letter {dead_letter_id}")
        item = s.get(SyncItem, letter.item_id)
        if item is None:
            raise LookupError(f"dead letter {dead_letter_id}'s item is gone")
        s.expunge(letter)
        s.expunge(item)
        item.payload = letter.payload  # the payload as it failed
        return item, letter


def open_dead_letters(store: Store, flow: str, limit: int = 50) -> list[DeadLetter]:
    with store.session() as s:
        return list(s.scalars(select(DeadLetter).where(DeadLetter.flow == flow, DeadLetter.resolved_at.is_(None))
                              .order_by(DeadLetter.id.desc()).limit(limit)))


def pasted_item(flow: str, envelope: Any) -> DryItem:
    """A pasted Magento order envelope ({"event", "store_code", "data": {...}}) or a bare order."""
    if not isinstance(envelope, dict):
        raise ValueError("paste a JSON object: the webhook envelope, or the order as Magento returns it")
    if "data" not in envelope:
        envelope = {"event": "order.created", "store_code": "default", "data": envelope}
    data = envelope.get("data") or {}
    if not isinstance(data, dict) or not data.get("entity_id"):
        raise ValueError("the pasted order has no entity_id: the dry run reads the order from Magento by it")
    store_code = str(envelope.get("store_code") or "default")
    return DryItem(flow, envelope, f"{flow}:magento:{store_code}:{data['entity_id']}")


def happened(item: SyncItem) -> dict[str, Any]:
    return {"item": item.id, "state": item.state, "reason": mask_card_numbers(item.reason or "")}
