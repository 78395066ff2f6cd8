"""The scheduler's watch over Tillbridge itself: the charts' figures, then the alerts.

Each has its own interval and its own lock in Redis, so any number of schedulers may call this at
every tick; a failure of one never keeps the other from running.
"""

from __future__ import annotations

import logging

from service.app.runtime import Runtime
from service.operations import alerts, timeseries

log = logging.getLogger(__name__)


def run_due(runtime: Runtime) -> None:
    try:
        runtime.refresh_settings()  # a change on the settings page reaches the scheduler within seconds
    except Exception:  # noqa: BLE001 - a busy database: keep the settings in force
        log.exception("settings refresh failed")
    try:
        timeseries.run_due(runtime)
    except Exception:  # noqa: BLE001 - a bug or a busy database: the alerts still run
        log.exception("time-series rollup failed")
    try:
        alerts.run_due(runtime)
    except Exception:  # noqa: BLE001 - a bug or a bad rules file: keep the traceback
        log.exception("alert evaluation failed")
