"""Flows as declared steps: the list is checked, run in order, traced, and resumed after the
effects an earlier run of the item completed."""

from __future__ import annotations

from typing import Any

import pytest

from service.engine.outcome import Outcome
from service.engine.steps import Run, Step, StepFlow, check_steps, run_steps
from service.engine.trace import Trace
from service.kernel.errors import FatalError, RetryableError


class Item:
    id = 1
    flow = "demo"
    payload: dict[str, Any] = {"n": 2}


def test_a_list_that_reads_what_no_earlier_step_writes_is_refused() -> None:
    steps = [Step("b", lambda run: None, reads=("a",)), Step("a", lambda run: None, writes=("a",))]
    with pytest.raises(ValueError, match="step 'b' reads a, which no earlier step writes"):
        check_steps(steps)
    with pytest.raises(ValueError, match="appears twice"):
        check_steps([Step("a", lambda run: None), Step("a", lambda run: None)])
    check_steps(list(reversed(steps)))


class Counting(StepFlow):
    """Two effects and a pure step between them, counting how often each one really runs."""

    name = "demo"
    direction = "A → B"
    given = ("n",)

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail_at: str | None = None
        self.steps = (
            Step("read", self.read, reads=("n",), writes=("doubled",)),
            Step("create", self.create, reads=("doubled",), writes=("created_id",), effect="b",
                 idempotency="looked up by reference"),
            Step("pay", self.pay, reads=("created_id",), writes=("paid",), effect="b"),
            Step("finish", self.finish, reads=("created_id", "paid")),
        )
        check_steps(self.steps, self.given)

    def start(self, run: Run) -> None:
        run["n"] = run.item.payload["n"]

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.fail_at == name:
            raise RetryableError(f"{name} failed")

    def read(self, run: Run) -> None:
        self._call("read")
        run["doubled"] = run["n"] * 2

    def create(self, run: Run) -> None:
        self._call("create")
        run["created_id"] = 40 + run["doubled"]
        run.say(f"created {run['created_id']}")

    def pay(self, run: Run) -> None:
        self._call("pay")
        run["paid"] = True

    def finish(self, run: Run) -> Outcome:
        return Outcome.done(f"record {run['created_id']}", created_id=run["created_id"], resumed=run.resuming)


def test_steps_run_in_order_and_each_is_traced() -> None:
    flow = Counting()
    trace = Trace()
    outcome = flow.run(Item(), trace)
    assert outcome.state == "done" and outcome.result == {"created_id": 44, "resumed": False}
    assert flow.calls == ["read", "create", "pay"]
    assert [s["step"] for s in trace.steps] == ["read", "create", "pay", "finish"]
    assert trace.steps[1]["message"] == "created 44"
    assert trace.progress == {"create": {"created_id": 44}, "pay": {"paid": True}}
    assert [s["effect"] for s in flow.describe()] == ["", "b", "b", ""]


def test_a_failed_run_resumes_after_its_last_completed_effect() -> None:
    flow = Counting()
    flow.fail_at = "pay"
    first = Trace()
    with pytest.raises(RetryableError):
        flow.run(Item(), first)
    assert first.progress == {"create": {"created_id": 44}}  # what the engine keeps on the item
    flow.fail_at, flow.calls = None, []
    second = Trace(progress=first.progress)
    outcome = flow.run(Item(), second)
    # The pure step runs again (its source may have changed); the completed effect does not.
    assert flow.calls == ["read", "pay"]
    assert outcome.result == {"created_id": 44, "resumed": True}
    resumed = next(s for s in second.steps if s["step"] == "create")
    assert resumed["detail"] == {"resumed": True} and "earlier run" in resumed["message"]


def test_a_step_that_reads_a_value_nobody_wrote_fails_loudly() -> None:
    run = Run(Item(), Trace())
    with pytest.raises(FatalError, match="read 'missing', which no earlier step wrote"):
        run_steps([Step("only", lambda r: r["missing"])], run)


def test_a_list_without_an_ending_step_is_a_fatal_error() -> None:
    with pytest.raises(FatalError, match="ended without an outcome"):
        run_steps([Step("only", lambda r: None)], Run(Item(), Trace()))


def test_a_deciding_step_runs_again_on_a_resumed_run() -> None:
    calls: list[str] = []

    def decide(run: Run) -> None:
        calls.append("decide")

    def effect(run: Run) -> None:
        calls.append("effect")
        run["id"] = 7

    def fail(run: Run) -> None:
        raise RetryableError("later step failed")

    steps = [Step("decide", decide, effect="b", decides=True), Step("effect", effect, writes=("id",), effect="b"),
             Step("fail", fail)]
    first = Trace()
    with pytest.raises(RetryableError):
        run_steps(steps, Run(Item(), first))
    assert first.progress == {"effect": {"id": 7}}
    calls.clear()
    with pytest.raises(RetryableError):
        run_steps(steps, Run(Item(), Trace(progress=first.progress)))
    assert calls == ["decide"]
