"""The reconciliation runs people ask for (the page, ``POST /v1/reports/reconciliation/runs``), done
by a worker: reading a month of both systems takes longer than a web request may."""

from __future__ import annotations

from typing import Any

from service.api.outbound import events
from service.flows.context import current
from service.reconciliation import run as reconciliation


def ask(runtime: Any, date_from: str, date_to: str, trigger: str) -> dict[str, Any]:
    """Queue a run of date_from..date_to; returns the run as queued."""
    return reconciliation.queue(runtime, date_from, date_to, trigger, job=reconcile_job)


def reconcile_job(run_id: int) -> str:
    """The RQ entry point: do the queued run, announce its new exceptions; returns its state."""
    return str(reconciliation.execute(current(), run_id, announce=events.reconciliation_exception)["state"])
