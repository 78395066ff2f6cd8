"""The scheduler's duties for the /v1 API, each guarded so one failing never stops the others:
emit the outbound events of what finished and send the webhook deliveries that are due (every tick),
run the daily reconciliation when it is due, and the housekeeping (forget old webhook events and
expired Idempotency-Keys, fail reconciliation runs no worker finished) once a minute per process:
their cutoffs are minutes to days, so every tick would only cost the database a query each."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 60.0
_housekept_at = float("-inf")


def run_due(runtime: Any) -> None:
    global _housekept_at
    from service.api.outbound import delivery, events, scan
    from service.api.v1 import idempotency
    from service.reconciliation import run as reconciliation

    duties: list[tuple[str, Callable[[Any], object]]] = [
        ("outbound events", scan.scan), ("webhook deliveries", delivery.send_due),
        ("reconciliation", lambda r: reconciliation.run_due(r, announce=events.reconciliation_exception))]
    if time.monotonic() - _housekept_at >= HOUSEKEEPING_SECONDS:
        _housekept_at = time.monotonic()
        duties += [("webhook event purge", events.purge),
                   ("idempotency purge", lambda r: idempotency.purge_expired(r.store)),
                   ("stalled reconciliation runs", reconciliation.fail_stalled)]
    for name, duty in duties:
        try:
            duty(runtime)
        except Exception:  # noqa: BLE001 - a bug or a busy database: keep the traceback, keep sweeping
            log.exception("%s failed", name)
