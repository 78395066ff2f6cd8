"""The scheduler's duties: send due items to the queue, and take back items whose worker vanished;
poll the sources and check for drift when their intervals have passed.

Items are rows first: the queue is only told "run this one now". Retries wait in the store
until due; an enqueue lost between the commit and Redis (or dropped by Redis) is re-sent; an
item whose worker died mid-run is reclaimed when its lease expires. Together they make sure every
accepted event reaches a terminal state.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from service.app.runtime import Runtime
from service.engine import polling, shutdown
from service.engine.polling import PollResult
from service.store import items, retention

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    reclaimed: int
    enqueued: int
    polled: int = 0  # items the polling backstop created this sweep


def poll_sources(runtime: Runtime) -> list[PollResult]:
    """Poll each source resource whose interval has passed (POLL_INTERVAL_SECONDS; 0 turns it off)."""
    interval = runtime.settings.POLL_INTERVAL_SECONDS
    if interval <= 0:
        return []
    from service.flows.registry import build_pollers

    return polling.poll_due(runtime.store, build_pollers(runtime), interval_seconds=interval,
                            overlap_seconds=runtime.settings.POLL_OVERLAP_SECONDS,
                            enqueue=runtime.enqueue)


def check_drift(runtime: Runtime) -> None:
    """Compare both sides once DRIFT_INTERVAL_SECONDS have passed (service/flows/drift.py); its repairs are
    enqueued there. A failing check never stops the sweep."""
    from service.flows import drift
    try:
        drift.run_due(runtime)
    except Exception:  # noqa: BLE001 - a bug: keep the traceback, keep sweeping
        log.exception("drift check failed")


def api_duties(runtime: Runtime) -> None:
    """Outbound webhooks and the daily reconciliation (service/app/api_duties.py); never stops the sweep."""
    from service.app import api_duties as duties
    try:
        duties.run_due(runtime)
    except Exception:  # noqa: BLE001 - a bug: keep the traceback, keep sweeping
        log.exception("API duties failed")


def monitor(runtime: Runtime) -> None:
    """Roll up the flows' figures for the charts and evaluate the alert rules (service/app/monitoring.py);
    a failure there never stops the sweep."""
    from service.app import monitoring
    try:
        monitoring.run_due(runtime)
    except Exception:  # noqa: BLE001 - a bug or a bad rules file: keep the traceback, keep sweeping
        log.exception("monitoring failed")


def forecast_stock(runtime: Runtime) -> None:
    """Re-fit the stock forecasts once FORECAST_INTERVAL_SECONDS have passed (service/operations/forecasts.py);
    a failure there never stops the sweep."""
    from service.operations import forecasts
    try:
        forecasts.run_due(runtime)
    except Exception:  # noqa: BLE001 - Heartland down or a bad rules file: keep the traceback, keep sweeping
        log.exception("stock forecasts failed")


def purge_expired(runtime: Runtime) -> None:
    """Forget what is past RETENTION_DAYS (service/store/retention.py); a failing purge never stops the sweep."""
    try:
        retention.purge_due(runtime.store, runtime.redis, runtime.settings)
    except Exception:  # noqa: BLE001 - a bug or a busy database: keep the traceback, keep sweeping
        log.exception("purge failed")


def sweep(runtime: Runtime) -> SweepResult:
    polled = sum(len(result.item_ids) for result in poll_sources(runtime))
    check_drift(runtime)
    api_duties(runtime)
    monitor(runtime)
    forecast_stock(runtime)
    purge_expired(runtime)
    reclaimed = items.reclaim_expired(runtime.store)
    if reclaimed:
        log.warning("reclaimed %d items whose worker stopped mid-run", len(reclaimed))
    due = items.due_for_enqueue(runtime.store, runtime.settings.STUCK_AFTER_SECONDS)
    if due:
        runtime.enqueue(due)
    return SweepResult(reclaimed=len(reclaimed), enqueued=len(due), polled=polled)


def run_forever(runtime: Runtime, tick_seconds: float) -> None:
    """Sweep every tick until asked to stop (service/engine/shutdown.py): a stop waits for the sweep
    in hand for the grace, then interrupts it; each of its steps commits on its own, and what a cut
    sweep left undone the next one does."""
    try:
        while not shutdown.requested():
            started = time.monotonic()
            try:
                with shutdown.interruptible():
                    result = sweep(runtime)
                if result.enqueued:
                    log.debug("enqueued %d due items", result.enqueued)
            except Exception:  # noqa: BLE001 - keep sweeping; the next tick retries
                log.exception("sweep failed")
            shutdown.wait(max(0.05, tick_seconds - (time.monotonic() - started)))
    except shutdown.Stopping:
        pass
