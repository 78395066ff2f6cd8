"""The workflow document: a trigger, then steps with stable ids and typed config.

    workflow: orders                  # the workflow's name
    flow: orders                      # the built-in flow it extends (its steps stay, locked)
    trigger: {kind: event, events: [order.created, order.updated]}
    steps:
      - id: prior-orders              # stable: traces, effects and diffs name steps by it
        type: lookup
        at: after check               # one of the flow's insertion points
        config: {source: magento.orders_before, input: order.email, as: prior}
      - id: big-first-order
        type: branch
        at: after check
        config:
          outputs:
            - name: big_and_new
              rule: {all: [{field: order.grand_total, op: ">", value: 1000}, {field: vars.prior.count, op: "=", value: 0}]}
              steps: [{id: notify-risk, type: notify, ...}, {id: hold-big, type: hold, ...}]
        on_failure: review            # dead_letter (the default) | review | notify

Parsing checks the shape and every expression and says, per step, what to fix. Whether a version
may be published (every effect step declares its binding and idempotency key) is
``publish_problems``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from service.workflows import conditions, expressions
from service.workflows.step_types import TYPES, StepTypeError

STEP_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")
TRIGGERS = ("event", "schedule", "manual", "api")
ON_FAILURE = ("dead_letter", "review", "notify")


class WorkflowError(ValueError):
    """A document that is not a valid workflow; ``problems`` lists each one."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class StepSpec:
    id: str
    type: str
    config: dict[str, Any]
    at: str = ""  # the insertion point (top-level steps only)
    title: str = ""
    on_failure: str = "dead_letter"
    on_failure_notify: dict[str, Any] = field(default_factory=dict)  # the notice for on_failure: notify
    branches: tuple[tuple[str, tuple[StepSpec, ...]], ...] = ()  # a branch's outputs and their steps

    @property
    def effect(self) -> bool:
        return TYPES[self.type].effect

    def walk(self) -> Iterator[StepSpec]:
        yield self
        for _, steps in self.branches:
            for step in steps:
                yield from step.walk()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.at:
            out["at"] = self.at
        if self.title:
            out["title"] = self.title
        config = dict(self.config)
        if self.type == "branch":
            named = dict(self.branches)
            config["outputs"] = [{**{k: v for k, v in o.items() if k != "steps"},
                                  "steps": [s.to_dict() for s in named.get(o["name"], ())]}
                                 for o in self.config.get("outputs", [])]
            if "otherwise" in named:
                config["otherwise"] = [s.to_dict() for s in named["otherwise"]]
        out["config"] = config
        if self.on_failure != "dead_letter":
            out["on_failure"] = self.on_failure
        if self.on_failure_notify:
            out["on_failure_notify"] = dict(self.on_failure_notify)
        return out

    def summary(self) -> str:
        """The step in words, for lists and diffs."""
        return TYPES[self.type].summary(self.config)


@dataclass(frozen=True)
class Workflow:
    name: str
    flow: str
    trigger: dict[str, Any]
    steps: tuple[StepSpec, ...]
    description: str = ""

    def all_steps(self) -> Iterator[StepSpec]:
        for step in self.steps:
            yield from step.walk()

    def at(self, point: str) -> list[StepSpec]:
        return [s for s in self.steps if s.at == point]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"workflow": self.name, "flow": self.flow, "trigger": dict(self.trigger)}
        if self.description:
            out["description"] = self.description
        out["steps"] = [s.to_dict() for s in self.steps]
        return out

    @classmethod
    def from_dict(cls, data: Any, *, points: Sequence[str] | None = None,
                  locked: Sequence[str] = ()) -> Workflow:
        """Parse a document; ``points`` are the flow's insertion points, ``locked`` its step names."""
        problems: list[str] = []
        if not isinstance(data, Mapping):
            raise WorkflowError(["a workflow is a mapping with workflow, flow, trigger and steps"])
        name = str(data.get("workflow") or "")
        if not STEP_ID.match(name):
            problems.append(f"workflow: {name!r} must be a short name (lowercase letters, digits, - and _)")
        flow = str(data.get("flow") or name)
        trigger = data.get("trigger") or {"kind": "event"}
        if not isinstance(trigger, Mapping) or trigger.get("kind") not in TRIGGERS:
            problems.append(f"trigger: kind must be one of {', '.join(TRIGGERS)}")
            trigger = {"kind": "event"}
        raw_steps = data.get("steps") or []
        if not isinstance(raw_steps, list):
            problems.append("steps must be a list")
            raw_steps = []
        seen: set[str] = set(locked)
        steps = tuple(_parse_step(s, f"steps[{n}]", problems, seen, points, top=True)
                      for n, s in enumerate(raw_steps))
        if problems:
            raise WorkflowError(problems)
        return cls(name=name, flow=flow, trigger=dict(trigger), steps=steps,
                   description=str(data.get("description") or ""))


def _parse_step(raw: Any, where: str, problems: list[str], seen: set[str], points: Sequence[str] | None,
                *, top: bool) -> StepSpec:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: a step is a mapping with id, type and config")
        return StepSpec("?", "filter", {})
    step_id = str(raw.get("id") or "")
    label = f"step {step_id!r}" if step_id else where
    if not STEP_ID.match(step_id):
        problems.append(f"{where}: id {step_id!r} must be lowercase letters, digits, - and _ (at most 48)")
    elif step_id in seen:
        problems.append(f"{label}: the id is used twice (or names a built-in step); ids must be unique")
    seen.add(step_id)
    kind = str(raw.get("type") or "")
    if kind not in TYPES:
        problems.append(f"{label}: type {kind!r} is not one of {', '.join(TYPES)}")
        return StepSpec(step_id, "filter", {})
    config = raw.get("config") or {}
    if not isinstance(config, Mapping):
        problems.append(f"{label}: config must be a mapping")
        config = {}
    at = str(raw.get("at") or "")
    if top and points is not None and at not in points:
        problems.append(f"{label}: at {at!r} must be one of the flow's insertion points: {', '.join(points)}")
    if not top and at:
        problems.append(f"{label}: a step inside a branch has no insertion point; remove at")
    on_failure = str(raw.get("on_failure") or "dead_letter")
    if on_failure not in ON_FAILURE:
        problems.append(f"{label}: on_failure must be one of {', '.join(ON_FAILURE)}")
    notify = raw.get("on_failure_notify") or {}
    if on_failure == "notify":
        try:
            TYPES["notify"].check({**notify, "message": notify.get("message") or "step failed"})
        except (StepTypeError, expressions.ExpressionError, conditions.RuleError) as exc:
            problems.append(f"{label}: on_failure_notify: {exc}")
    try:
        TYPES[kind].check(dict(config))
    except (StepTypeError, expressions.ExpressionError, conditions.RuleError) as exc:
        problems.append(f"{label}: {exc}")
    branches: list[tuple[str, tuple[StepSpec, ...]]] = []
    if kind == "branch":
        for o, output in enumerate(config.get("outputs") or []):
            nested = output.get("steps") or [] if isinstance(output, Mapping) else []
            branches.append((str(output.get("name")) if isinstance(output, Mapping) else "?", tuple(
                _parse_step(s, f"{where}.outputs[{o}].steps[{n}]", problems, seen, points, top=False)
                for n, s in enumerate(nested))))
        if config.get("otherwise"):
            branches.append(("otherwise", tuple(
                _parse_step(s, f"{where}.otherwise[{n}]", problems, seen, points, top=False)
                for n, s in enumerate(config.get("otherwise") or []))))
        config = {**config, "outputs": [{k: v for k, v in o.items() if k != "steps"}
                                        for o in config.get("outputs") or [] if isinstance(o, Mapping)]}
        config.pop("otherwise", None)
    return StepSpec(step_id, kind, dict(config), at=at, title=str(raw.get("title") or ""), on_failure=on_failure,
                    on_failure_notify=dict(notify), branches=tuple(branches))


def publish_problems(workflow: Workflow) -> list[str]:
    """Why this version may not be published (empty: it may): every effect step must say which
    binding records it and the idempotency key that finds it again, so a retry never repeats it."""
    problems = []
    for step in workflow.all_steps():
        if not step.effect:
            continue
        missing = [name for name in ("binding", "idempotency_key") if not str(step.config.get(name) or "").strip()]
        if missing:
            problems.append(f"step {step.id!r} ({step.type}) changes another system but declares no "
                            f"{' and no '.join(missing)}: add binding (what records the effect, e.g. notice) and "
                            "idempotency_key (a template unique per effect, e.g. "
                            "\"hold-notice:{{order.number}}\") so a retry never sends it twice")
    return problems
