"""The scheduler's duties for the /v1 API, each guarded so one failing never stops the others:
emit the outbound events of what finished, send the webhook deliveries that are due, forget
expired Idempotency-Keys, and run the daily reconciliation when it is due."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def run_due(runtime: Any) -> None:
    from service.api.outbound import delivery, events, scan
    from service.api.v1 import idempotency
    from service.reconciliation import run as reconciliation
    for name, duty in (("outbound events", scan.scan), ("webhook deliveries", delivery.send_due),
                       ("webhook event purge", events.purge),
                       ("idempotency purge", lambda r: idempotency.purge_expired(r.store)),
                       ("reconciliation", lambda r: reconciliation.run_due(
                           r, announce=events.reconciliation_exception))):
        try:
            duty(runtime)
        except Exception:  # noqa: BLE001 - a bug or a busy database: keep the traceback, keep sweeping
            log.exception("%s failed", name)
