"""Workflows: what integrators add to a built-in flow without code, versioned and tested.

A workflow is a document (service/workflows/model.py): the built-in flow it extends, and steps with
stable ids placed at the flow's named insertion points (after normalize, after check, before
deliver, after confirm). Its steps (service/workflows/step_types.py) filter, branch, set fields,
look records up read-only, hold for review, notify, wait and call out over HTTP; conditions and
values are JSONata (service/workflows/expressions.py), most of them written by the rule builder
(service/workflows/conditions.py). Versions (service/workflows/versions.py) are immutable once
published; an item runs with the version published at its first run, every retry included
(service/workflows/runner.py), and a draft can be run on a real event with every effect suppressed
(service/workflows/dry_run.py).
"""
