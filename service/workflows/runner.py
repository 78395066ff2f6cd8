"""Running a built-in flow with its published workflow spliced in.

A built-in flow that can be extended names its insertion points: ``{"after check": ("after",
"check"), "before deliver": ("before", "deliver"), …}``. Its own steps stay as they are (locked);
the workflow's steps go in at those points when the item runs. A point after the flow's last step
(``after confirm``) runs once that step has finished the run as done, and the run then ends with
that step's outcome.

Each item runs the version live at its first run, kept in its progress for every retry
(``run_flow``); versions are immutable, so their compiled steps are kept per process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from service.engine.outcome import Outcome
from service.engine.steps import Run, Step, run_steps, run_until_outcome
from service.engine.trace import Trace
from service.workflows import versions
from service.workflows.model import StepSpec, Workflow, WorkflowError
from service.workflows.step_types import Env, WorkflowContext, build

Wrap = Callable[[Step], Step]
PIN = "workflow@"  # the item's progress entry holding the version it runs (no step has this name)


class Extensible(Protocol):
    """A built-in flow made of declared steps that names where a workflow may add its own."""

    @property
    def name(self) -> str: ...

    @property
    def direction(self) -> str: ...

    @property
    def steps(self) -> tuple[Step, ...]: ...

    @property
    def insertion_points(self) -> Mapping[str, tuple[str, str]]: ...

    def start(self, run: Run) -> None: ...


def parse(flow: Extensible, document: Any) -> Workflow:
    """The document as a workflow of ``flow``: its insertion points and step names checked too."""
    workflow = Workflow.from_dict(document, points=list(flow.insertion_points),
                                  locked=[s.name for s in flow.steps] + list(flow.insertion_points))
    if workflow.flow != flow.name:
        raise WorkflowError([f"flow: this workflow extends {workflow.flow!r}, not {flow.name!r}"])
    return workflow


def compile_steps(specs: Sequence[StepSpec], env: Env, wrap: Wrap | None = None) -> list[Step]:
    steps = []
    for spec in specs:
        nested = {name: compile_steps(children, env, wrap) for name, children in spec.branches}
        step = build(spec, env, nested)
        steps.append(wrap(step) if wrap else step)
    return steps


def splice(flow: Extensible, workflow: Workflow | None, env: Env, wrap: Wrap | None = None,
           builtin: Wrap | None = None) -> list[Step]:
    """The flow's steps with the workflow's at their insertion points (``builtin`` may replace a
    built-in step, as a dry run does with effects)."""
    wrap_builtin = builtin or wrap
    if workflow is None or not workflow.steps:
        return [wrap_builtin(s) if wrap_builtin else s for s in flow.steps]
    added = {point: compile_steps(workflow.at(point), env, wrap) for point in flow.insertion_points}
    last = flow.steps[-1].name
    out: list[Step] = []
    tail: list[Step] = []
    for step in flow.steps:
        for point, (where, anchor) in flow.insertion_points.items():
            if where == "before" and anchor == step.name:
                out.extend(added[point])
        after = [s for point, (where, anchor) in flow.insertion_points.items()
                 if where == "after" and anchor == step.name for s in added[point]]
        if step.name == last and after:
            out.append(_keeping_outcome(wrap_builtin(step) if wrap_builtin else step))
            tail = after
            continue
        out.append(wrap_builtin(step) if wrap_builtin else step)
        out.extend(after)
    if tail:
        out.append(_after_last(last, tail))
    return out


def _keeping_outcome(step: Step) -> Step:
    """The flow's last step, its outcome kept (in the item's progress) for the steps added after it."""

    def does(run: Run) -> None:
        outcome = step.does(run)
        if outcome is None:
            return
        run["outcome"] = {"state": outcome.state, "reason": outcome.reason, "result": outcome.result,
                          "mapping_version": outcome.mapping_version}

    return Step(step.name, does, step.title, reads=step.reads, writes=(*step.writes, "outcome"),
                effect=step.effect, idempotency=step.idempotency, binding=step.binding)


def _after_last(last: str, steps: list[Step]) -> Step:
    def does(run: Run) -> Outcome:
        kept = run.get("outcome")
        if kept is None:
            # The last step went on without an outcome: the flow's own contract is broken.
            from service.kernel.errors import FatalError

            raise FatalError(f"step {last!r} ended without an outcome", hint="the last step must finish the run")
        outcome = Outcome(**kept)
        if outcome.state != "done":
            run.say(f"{last} ended {outcome.state}: the steps after it do not run")
            return outcome
        run.say(f"{len(steps)} step(s) after {last}")
        ended = run_until_outcome(steps, run)
        return ended if ended is not None else outcome

    return Step(f"after {last}", does, f"the workflow's steps after {last}")


def _cache(flow: Extensible) -> dict[int, list[Step]]:
    cache: dict[int, list[Step]] = flow.__dict__.setdefault("_workflow_steps", {})
    return cache


def steps_for(flow: Extensible, context: WorkflowContext, version: int) -> list[Step]:
    """The steps an item pinned to ``version`` runs (0: the flow's own)."""
    if version == 0:
        return list(flow.steps)
    cache = _cache(flow)
    steps = cache.get(version)
    if steps is None:
        document = versions.get(context.store, flow.name, version).document
        steps = splice(flow, parse(flow, document), Env(context, flow.name, version))
        cache[version] = steps
    return steps


def run_flow(flow: Extensible, context: WorkflowContext, item: Any, trace: Trace) -> Outcome:
    """Run one item through ``flow`` and the workflow version it is pinned to: the version live at
    its first run, kept in the item's progress (service/engine/steps.py), which the engine keeps
    whenever a run fails or ends in review, so every retry runs the same version. A run that
    finishes needs no pin, and reading the live version is cached per process: an order costs no
    query for it."""
    pinned = trace.progress.get(PIN)
    if pinned is not None:
        version = int(pinned["version"])
    else:
        version = versions.live_for_run(context.store, context.redis, flow.name)
        trace.progress[PIN] = {"version": version}
    steps = steps_for(flow, context, version)
    run = Run(item, trace)
    flow.start(run)
    if version:
        trace.note("workflow", f"workflow {flow.name} version {version}",
                   detail={"workflow": flow.name, "version": version})
    outcome = run_steps(steps, run)
    if version:
        outcome.result.setdefault("workflow_version", version)
    return outcome


def insertion_points(flow: Extensible) -> list[dict[str, Any]]:
    """The flow's steps in order with its insertion points between them, for the page and the CLI."""
    out: list[dict[str, Any]] = []
    for step in flow.steps:
        out.extend({"point": p} for p, (w, a) in flow.insertion_points.items() if w == "before" and a == step.name)
        out.append({"step": step.describe(), "locked": True})
        out.extend({"point": p} for p, (w, a) in flow.insertion_points.items() if w == "after" and a == step.name)
    return out
