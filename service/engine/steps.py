"""Flows as declared steps: each flow is an ordered list of named steps that the engine runs.

A step says what it reads and writes (names in the run's working values), whether it is pure or
changes another system (``effect``), how a repeated effect finds the first one (``idempotency``)
and which binding it records. The engine runs the list in order, traces every step, and keeps the
values each completed effect wrote in the run's progress. When a run fails after some effects
(a timeout, a 503 on the payment), the item's next run resumes after the last completed effect:
pure steps run again (they re-read the source, which may have changed), completed effects are not
repeated and hand their values on. A run that died without writing its progress (a killed worker)
finds earlier effects by their idempotency keys instead.

A step either goes on (returns ``None``) or ends the run with an :class:`Outcome`; the last step
must end it. A step that ``decides`` (its effect, if any, ends the run: a branch to a follow-up
path, a hold for review) is never skipped: going on means it changed nothing. The list is data, so the workflow builder can show a built-in flow step by step and
insert steps of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from service.engine.outcome import Outcome
from service.engine.trace import Trace
from service.kernel.errors import FatalError

Does = Callable[["Run"], Outcome | None]


@dataclass(frozen=True)
class Step:
    name: str
    does: Does
    title: str = ""  # one line for the builder, the docs and `tillbridge flows show`
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    effect: str = ""  # the system this step changes ("heartland", "magento"); empty for a pure step
    idempotency: str = ""  # how a repeated effect finds the first one (a reference, a binding, a lookup)
    binding: str = ""  # the binding this step records, if any
    # A step whose effect, if any, ends the run (a branch to a follow-up path, a hold for review) runs
    # again on every run: going on means it changed nothing, and its decision must be made afresh.
    decides: bool = False

    @property
    def pure(self) -> bool:
        return not self.effect and not self.binding

    @property
    def resumable(self) -> bool:
        """Completed once, it is not repeated by a later run of the same item."""
        return bool(self.effect or self.binding) and not self.decides

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "reads": list(self.reads), "writes": list(self.writes),
                "pure": self.pure, "effect": self.effect, "idempotency": self.idempotency, "binding": self.binding,
                "decides": self.decides}


@dataclass
class Run:
    """One run of a flow's steps: the item, its trace, and the values the steps wrote so far."""

    item: Any
    trace: Trace
    values: dict[str, Any] = field(default_factory=dict)
    entry: dict[str, Any] = field(default_factory=dict)  # the current step's trace entry
    resuming: bool = False  # an earlier run of this item completed some of the effects

    def __getitem__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise FatalError(f"step {self.entry.get('step', '?')!r} read {name!r}, which no earlier step wrote",
                             hint="the flow's step list is out of order; declare a step that writes it first") from None

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def __setitem__(self, name: str, value: Any) -> None:
        self.values[name] = value

    def say(self, message: str) -> None:
        """The current step's line in the trace."""
        self.entry["message"] = message


def check_steps(steps: Sequence[Step], given: Sequence[str] = ()) -> None:
    """Refuse a list whose steps read what no earlier step writes, or that repeats a name."""
    known = set(given)
    seen: set[str] = set()
    for step in steps:
        if step.name in seen:
            raise ValueError(f"step {step.name!r} appears twice")
        seen.add(step.name)
        missing = [name for name in step.reads if name not in known]
        if missing:
            raise ValueError(f"step {step.name!r} reads {', '.join(missing)}, which no earlier step writes")
        known.update(step.writes)


def run_steps(steps: Sequence[Step], run: Run) -> Outcome:
    """Run the steps in order, resuming after effects an earlier run of this item completed."""
    outcome = run_until_outcome(steps, run)
    if outcome is not None:
        return outcome
    raise FatalError(f"the steps of flow {getattr(run.item, 'flow', '?')!r} ended without an outcome",
                     hint="the last step must finish the run")


def run_until_outcome(steps: Sequence[Step], run: Run) -> Outcome | None:
    """Run the steps in order until one ends the run (its Outcome) or none is left (None): a
    workflow's branch runs its steps this way and goes on when none ended the run."""
    progress = run.trace.progress
    for step in steps:
        done = progress.get(step.name) if step.resumable else None
        if done is not None:
            run.values.update(done)
            run.resuming = True
            run.trace.note(step.name, "done by an earlier run of this item; resumed after it", status="ok",
                           detail={"resumed": True})
            continue
        with run.trace.step(step.name, step.title) as entry:
            run.entry = entry
            outcome = step.does(run)
        if outcome is not None:
            # The step that ends the run is not completed for a later run: a retry (from review,
            # say) runs it again, and its own idempotency finds what it did.
            return outcome
        if step.resumable:
            progress[step.name] = progress_value({name: run.values[name] for name in step.writes
                                                  if name in run.values})
    return None


def progress_value(values: Mapping[str, Any]) -> dict[str, Any]:
    """What of a step's values can be kept between runs (JSON), refusing anything else loudly."""
    try:
        return dict(json.loads(json.dumps(values)))
    except (TypeError, ValueError) as exc:
        raise FatalError(f"a step wrote a value that cannot be kept between runs: {exc}",
                         hint="an effect step's writes must be JSON values (ids, numbers, short dicts)") from None


class StepFlow:
    """A flow made of declared steps; subclasses set ``name``, ``direction`` and build ``steps``."""

    name: str
    direction: str
    steps: tuple[Step, ...]
    given: tuple[str, ...] = ()  # values the run starts with (set by ``start``)

    def start(self, run: Run) -> None:
        """Fill the run's first values from the item (its payload); the steps do the rest."""

    def run(self, item: Any, trace: Trace) -> Outcome:
        run = Run(item, trace)
        self.start(run)
        return run_steps(self.steps, run)

    def describe(self) -> list[dict[str, Any]]:
        return [step.describe() for step in self.steps]
