"""Flows with more than one step list, and runs that hold a lock from one step to the end.

Some flows run different steps for different items (customers and refunds: one list per direction)
or hand the rest of a run to a branch with steps of its own (a refund of goods not yet fulfilled).
A :class:`RoutedFlow` declares its lists as named routes; ``route`` picks the one an item starts
on and a step may ``follow`` another route, which ends the run with that route's outcome. Every
route is a plain step list run by the engine (service/engine/steps.py), so each step is traced and
a failed run resumes after the effects it completed, whichever route they were on.

A step that takes a lock for the rest of the run (one refund of an order at a time) keeps it with
:func:`hold`: it is released when the run ends, however it ends.

A step that ends the run (returns an Outcome) is not kept as completed, even when it is an effect:
an item a person retries from review runs that step again (it decides again, on what the systems
hold then) instead of resuming after it. Flows of one list use this class too, for that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from typing import Any

from service.engine.outcome import Outcome
from service.engine.steps import Run, Step, StepFlow, check_steps, run_steps
from service.engine.trace import Trace
from service.kernel.errors import FatalError


@dataclass
class HoldingRun(Run):
    """A run that keeps what its steps hold (locks) until it ends."""

    held: ExitStack = field(default_factory=ExitStack)


def hold(run: Run, resource: AbstractContextManager[Any]) -> None:
    """Enter ``resource`` (a lock) now and leave it when the run ends."""
    if not isinstance(run, HoldingRun):
        raise FatalError("a step holds a lock in a run that cannot keep it",
                         hint="run the flow through RoutedFlow.run (service/flows/routes.py)")
    run.held.enter_context(resource)


def known_after(steps: Sequence[Step], name: str, given: Iterable[str] = ()) -> tuple[str, ...]:
    """The values written once step ``name`` of ``steps`` has run (what a route it follows may read)."""
    known = list(given)
    for step in steps:
        known += step.writes
        if step.name == name:
            return tuple(dict.fromkeys(known))
    raise ValueError(f"no step {name!r} in the list")


class RoutedFlow(StepFlow):
    """A flow of one step list (``steps``) or of several named ones: subclasses with routes call
    :meth:`declare` and define ``route``."""

    routes: dict[str, tuple[Step, ...]] = {}

    def declare(self, routes: Mapping[str, tuple[Step, ...]], given: Mapping[str, Sequence[str]]) -> None:
        """Check each route against the values it starts with (``given`` per route) and keep them.

        Step names are unique within an item's way through (a route and the branches it follows),
        because the engine keeps a run's completed effects by step name.
        """
        for name, steps in routes.items():
            check_steps(steps, given.get(name, self.given))
        self.routes = dict(routes)
        self.steps = tuple(step for steps in routes.values() for step in steps)

    def route(self, run: Run) -> str:
        """The route an item starts on; "" for a flow of one list."""
        return ""

    def follow(self, route: str, run: Run) -> Outcome:
        """Hand the rest of the run to another route; its outcome ends the run."""
        return run_steps(self.routes[route], run)

    def run(self, item: Any, trace: Trace) -> Outcome:
        run = HoldingRun(item, trace)
        with run.held:
            self.start(run)
            route = self.route(run)
            return run_steps(self.routes[route] if route else self.steps, run)

    def describe(self) -> list[dict[str, Any]]:
        if not self.routes:
            return super().describe()
        return [{**step.describe(), "route": name} for name, steps in self.routes.items() for step in steps]
