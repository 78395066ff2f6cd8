"""Flows of several step lists (service/flows/routes.py): the route an item starts on, a branch
that follows another route and resumes there, a lock held until the run ends, and a step that
ends the run not kept as completed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from service.engine.outcome import Outcome
from service.engine.steps import Run, Step
from service.engine.trace import Trace
from service.flows.routes import RoutedFlow, hold, known_after
from service.kernel.errors import RetryableError


class Item:
    id = 1
    flow = "demo"

    def __init__(self, **payload: Any) -> None:
        self.payload = payload


class Branching(RoutedFlow):
    """Route "main" creates, then hands big records to route "big", whose pay step can fail."""

    name = "demo"
    direction = "A ⇄ B"

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail_at: str | None = None
        self.locked: list[str] = []
        main = (
            Step("lock", self.lock, reads=("n",)),
            Step("create", self.create, reads=("n",), writes=("created",), effect="b"),
            Step("big?", self.big, reads=("n", "created")),
            Step("finish", self.finish, reads=("created",), binding="demo"),
        )
        big = (
            Step("pay", self.pay, reads=("created",), writes=("paid",), effect="b"),
            Step("hold?", self.hold_for_review, reads=("paid",), effect="b"),
        )
        self.declare({"main": main, "big": big, "other": (Step("other", self.other, reads=("n",)),)},
                     {"main": ("n",), "big": known_after(main, "big?", ("n",)), "other": ("n",)})

    def route(self, run: Run) -> str:
        return "other" if run.item.payload.get("other") else "main"

    def start(self, run: Run) -> None:
        run["n"] = run.item.payload["n"]

    @contextmanager
    def record_lock(self) -> Iterator[None]:
        self.locked.append("taken")
        try:
            yield
        finally:
            self.locked.append("released")

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.fail_at == name:
            raise RetryableError(f"{name} failed")

    def lock(self, run: Run) -> None:
        hold(run, self.record_lock())

    def create(self, run: Run) -> None:
        self._call("create")
        run["created"] = 40 + run["n"]

    def big(self, run: Run) -> Outcome | None:
        return self.follow("big", run) if run["n"] > 5 else None

    def pay(self, run: Run) -> None:
        self._call("pay")
        run["paid"] = run["created"] * 2

    def hold_for_review(self, run: Run) -> Outcome:
        self._call("hold?")
        return Outcome.review(f"paid {run['paid']}: a person decides")

    def finish(self, run: Run) -> Outcome:
        return Outcome.done(f"record {run['created']}")

    def other(self, run: Run) -> Outcome:
        return Outcome.ignored(f"other {run['n']}")


def test_each_route_is_checked_and_described() -> None:
    flow = Branching()
    assert [(s["route"], s["name"]) for s in flow.describe()][:4] == \
        [("main", "lock"), ("main", "create"), ("main", "big?"), ("main", "finish")]
    assert [s.name for s in flow.steps] == ["lock", "create", "big?", "finish", "pay", "hold?", "other"]
    with pytest.raises(ValueError, match="step 'pay' reads created"):
        flow.declare({"big": flow.routes["big"]}, {"big": ("n",)})


def test_an_item_starts_on_its_route_and_the_lock_is_released_however_the_run_ends() -> None:
    flow = Branching()
    assert flow.run(Item(n=2, other=True), Trace()).reason == "other 2"
    assert flow.run(Item(n=2), Trace()).state == "done"
    flow.fail_at = "create"
    with pytest.raises(RetryableError):
        flow.run(Item(n=2), Trace())
    assert flow.locked == ["taken", "released", "taken", "released"]


def test_a_branch_resumes_after_its_completed_effects_and_the_ending_step_is_not_kept() -> None:
    flow = Branching()
    flow.fail_at = "pay"
    first = Trace()
    with pytest.raises(RetryableError):
        flow.run(Item(n=7), first)
    assert first.progress == {"create": {"created": 47}}

    flow.fail_at = None
    second = Trace(progress=first.progress)
    outcome = flow.run(Item(n=7), second)
    assert outcome.state == "review" and outcome.reason == "paid 94: a person decides"
    assert flow.calls == ["create", "pay", "pay", "hold?"]
    assert [s["step"] for s in second.steps if (s["detail"] or {}).get("resumed")] == ["create"]
    # The review's step decides again when a person retries the item; the effects before it are kept.
    assert second.progress == {"create": {"created": 47}, "pay": {"paid": 94}}
