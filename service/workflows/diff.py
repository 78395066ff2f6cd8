"""What changed between two versions of a workflow, in words: steps added, removed, moved to
another insertion point or reordered, and each changed setting with its old and new value."""

from __future__ import annotations

import json
from typing import Any

from service.workflows.model import StepSpec, Workflow


def _flat(spec: StepSpec) -> dict[str, StepSpec]:
    return {s.id: s for s in spec.walk()}


def _value(value: Any) -> str:
    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def in_words(old: Workflow | None, new: Workflow) -> list[str]:
    """One sentence per change from ``old`` (None: the built-in flow alone) to ``new``."""
    before: dict[str, StepSpec] = {}
    for step in (old.steps if old else ()):
        before.update(_flat(step))
    after: dict[str, StepSpec] = {}
    for step in new.steps:
        after.update(_flat(step))
    lines = []
    for step_id, spec in after.items():
        if step_id not in before:
            where = f"at {spec.at}" if spec.at else "inside a branch"
            lines.append(f"added step {step_id!r} ({spec.type}) {where}: {spec.summary()}")
    for step_id, spec in before.items():
        if step_id not in after:
            lines.append(f"removed step {step_id!r} ({spec.type}): {spec.summary()}")
    for step_id, spec in after.items():
        was = before.get(step_id)
        if was is None:
            continue
        if was.type != spec.type:
            lines.append(f"step {step_id!r} changed from {was.type} to {spec.type}")
        if was.at != spec.at:
            lines.append(f"step {step_id!r} moved from {was.at or 'a branch'} to {spec.at or 'a branch'}")
        for key in sorted(set(was.config) | set(spec.config)):
            if was.config.get(key) != spec.config.get(key):
                if key not in was.config:
                    lines.append(f"step {step_id!r}: {key} set to {_value(spec.config[key])}")
                elif key not in spec.config:
                    lines.append(f"step {step_id!r}: {key} removed (was {_value(was.config[key])})")
                else:
                    lines.append(f"step {step_id!r}: {key} changed from {_value(was.config[key])} to "
                                 f"{_value(spec.config[key])}")
        if was.on_failure != spec.on_failure:
            lines.append(f"step {step_id!r}: on failure {was.on_failure} → {spec.on_failure}")
        if was.title != spec.title:
            lines.append(f"step {step_id!r}: title {was.title!r} → {spec.title!r}")
    order_before = [s.id for s in (old.steps if old else ()) if s.id in after]
    order_after = [s.id for s in new.steps if s.id in before]
    if order_before != order_after and sorted(order_before) == sorted(order_after):
        lines.append(f"steps reordered: {', '.join(order_before)} → {', '.join(order_after)}")
    if old is not None and old.trigger != new.trigger:
        lines.append(f"trigger changed from {_value(old.trigger)} to {_value(new.trigger)}")
    if old is not None and old.description != new.description:
        lines.append("description changed")
    return lines or ["no changes"]
