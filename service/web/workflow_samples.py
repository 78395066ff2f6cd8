"""The values a workflow step's condition sees, on a real order, for the page's live preview.

The canvas's config form evaluates a condition in the browser (the ``jsonata`` npm package, the same
language as ``jsonata-python`` on the server) against the document the step would be given: the
order after the flow's steps before it, and ``vars`` from the workflow's own steps before it (a
lookup of prior orders, a set field). That document is made here the way a dry run makes it: the
flow's pure steps run for real (they read Magento), its effect steps do not run, the workflow's
steps run with notices and calls only listed, and the run stops just before the chosen step.
"""

from __future__ import annotations

import json
from typing import Any

from service.engine.outcome import Outcome
from service.engine.steps import Run, Step
from service.engine.trace import Trace
from service.kernel.cards import mask_card_numbers
from service.kernel.errors import SyncError
from service.workflows import actions, dry_run, expressions
from service.workflows.runner import parse, splice
from service.workflows.step_types import Env, document

KEEP_BYTES = 200_000


class _Reached(Exception):
    """The run got to the step whose input is wanted."""


def sample_for(context: actions.WorkflowsContext, name: str, item_id: int, step_id: str | None) -> dict[str, Any]:
    """``{"document", "at", "item", "label"}``: what step ``step_id`` of the draft (else the live
    version) would see on item ``item_id``; with no step (or one the run never reached), the values
    when the run ended."""
    flow = actions.extensible(context, name)
    version, doc = actions.document_of(context, name, None)
    workflow = parse(flow, doc) if doc else None
    item = dry_run.item_by_id(context.store, item_id)
    if item.flow != name:
        raise ValueError(f"item {item.id} is of flow {item.flow!r}, not {name!r}")
    env = Env(context, name, version, dry_run=True)
    seen: dict[str, Any] = {"document": {}}

    def watch(step: Step) -> Step:
        def does(run: Run) -> Outcome | None:
            seen["document"] = document(run)
            if step_id and step.name == step_id:
                raise _Reached
            return step.does(run)

        return Step(step.name, does, step.title, reads=step.reads, writes=step.writes, effect=step.effect,
                    idempotency=step.idempotency, binding=step.binding)

    last = flow.steps[-1].name

    def builtin(step: Step) -> Step:
        if step.pure:
            return watch(step)

        def suppressed(run: Run) -> Outcome | None:
            for written in step.writes:
                run.values.setdefault(written, f"(written by {step.name}: not run in a preview)")
            return Outcome.done(f"would be done by {step.name}") if step.name == last else None

        return watch(Step(step.name, suppressed, step.title, reads=step.reads, writes=step.writes))

    steps = splice(flow, workflow, env, wrap=watch, builtin=builtin)
    run = Run(item, Trace())
    ended = ""
    try:
        flow.start(run)
        for step in steps:
            with run.trace.step(step.name, step.title) as entry:
                run.entry = entry  # a branch notes the output it took in its entry
                outcome = step.does(run)
            if outcome is not None:
                ended = f"the run ended {outcome.state} before it: {outcome.reason}"
                break
        else:
            ended = "the run ended before it"
        seen["document"] = document(run)
    except _Reached:
        ended = ""
    except (SyncError, expressions.ExpressionError) as exc:
        ended = f"the run failed before it: {exc}"
    if step_id:
        at = f"before step {step_id!r}" if not ended else f"step {step_id!r} was not reached ({ended})"
    else:
        at = f"when the run ended{f' ({ended})' if ended else ''}"
    return {"item": item.id, "label": getattr(item, "label", "") or item.entity_key, "at": mask_card_numbers(at),
            "document": _plain(seen["document"])}


def _plain(value: Any) -> Any:
    """JSON as the browser gets it (dates as text), card numbers masked, at most KEEP_BYTES."""
    text = mask_card_numbers(json.dumps(value, default=str))
    if len(text) > KEEP_BYTES:
        raise ValueError(f"the sample is {len(text)} bytes; the preview takes at most {KEEP_BYTES}")
    return json.loads(text)
