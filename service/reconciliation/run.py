"""A reconciliation run: collect both sides' ledger entries for a period, match them, record the
results, raise ``reconciliation.exception`` for each new exception, and keep a person's resolution
across reruns.

The scheduler runs it every RECONCILIATION_INTERVAL_SECONDS over the last RECONCILIATION_DAYS
business days (late postings settle); accounting asks for one from the page or the API, and a
worker does it (queued → running → done | failed, with the reason).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from service.kernel.errors import SyncError
from service.reconciliation import ledger
from service.reconciliation.matching import EXCEPTIONS, Result, match
from service.store.api_tables import ReconciliationResult, ReconciliationRun
from service.store.tables import utcnow

log = logging.getLogger(__name__)
LAST_RUN_KEY = "tillbridge:reconciliation:last"
RUN_TIMEOUT_SECONDS = 1800  # a worker's limit on one run


Announce = Callable[[Any, int, Result], None]


def check_period(date_from: str, date_to: str) -> None:
    if date.fromisoformat(date_to) < date.fromisoformat(date_from):
        raise ValueError("date_to is before date_from")


def queue(runtime: Any, date_from: str, date_to: str, trigger: str, *, job: Callable[[int], Any]) -> dict[str, Any]:
    """Ask for a run a worker does (``job``, the RQ entry point, is handed the run's id): a month of
    both systems' ledgers takes longer than a web request may. Returns the run as it was queued (a
    worker may have taken it by the time the caller reads it again)."""
    check_period(date_from, date_to)
    queued = _new_run(runtime, date_from, date_to, trigger)
    runtime.queue.enqueue(job, queued["run_id"], result_ttl=0, failure_ttl=7 * 86400,
                          job_timeout=RUN_TIMEOUT_SECONDS)
    return queued


def run(runtime: Any, date_from: str, date_to: str, trigger: str, *, announce: Announce) -> dict[str, Any]:
    """Reconcile the business days date_from..date_to (inclusive) here and now (the scheduler's
    daily run); returns the run as :func:`describe` gives it."""
    check_period(date_from, date_to)
    return execute(runtime, _new_run(runtime, date_from, date_to, trigger)["run_id"], announce=announce)


def execute(runtime: Any, run_id: int, *, announce: Announce) -> dict[str, Any]:
    """Do the queued run ``run_id``: collect both sides' entries, match, record the results, then
    ``announce`` each new exception (the /v1 ``reconciliation.exception`` event:
    service/api/outbound/events.py). A system that cannot be read fails the run with the reason;
    a run already taken (a job delivered twice) is left alone."""
    with runtime.store.session() as s:
        taken: Any = s.execute(update(ReconciliationRun)
                               .where(ReconciliationRun.id == run_id, ReconciliationRun.state == "queued")
                               .values(state="running", started_at=utcnow()))
        record = s.get(ReconciliationRun, run_id)
        if record is None:
            raise LookupError(f"no reconciliation run {run_id}")
        date_from, date_to, trigger = record.date_from, record.date_to, record.trigger
    if not taken.rowcount:
        return describe(runtime, run_id)
    try:
        counts, new_exceptions = _reconcile(runtime, run_id, date_from, date_to)
    except SyncError as exc:
        # The client's own "will retry" is for a sync item; this run is not retried by itself.
        reason = str(exc).removesuffix("; will retry")
        _finish(runtime, run_id, "failed", f"a system could not be read: {reason}; run it again")
        log.warning("reconciliation run %s failed: %s", run_id, exc)
        return describe(runtime, run_id)
    except Exception as exc:
        _finish(runtime, run_id, "failed", f"internal error ({type(exc).__name__}); see the worker's log")
        raise
    _finish(runtime, run_id, "done", "", counts)
    for result_id, result in new_exceptions:
        log.warning("reconciliation exception rx_%s: %s on %s: %s", result_id, result.category,
                    result.business_date, result.reason)
        try:
            announce(runtime, result_id, result)
        except Exception:  # noqa: BLE001 - the exception is recorded and on the page; the event is a convenience
            log.exception("could not announce reconciliation exception %s", result_id)
    log.info("reconciliation %s..%s (%s): %s", date_from, date_to, trigger, counts)
    return describe(runtime, run_id)


def describe(runtime: Any, run_id: int) -> dict[str, Any]:
    with runtime.store.session() as s:
        record = s.get(ReconciliationRun, run_id)
        if record is None:
            raise LookupError(f"no reconciliation run {run_id}")
        return _described(record)


def recent_runs(runtime: Any, limit: int = 5) -> list[dict[str, Any]]:
    with runtime.store.session() as s:
        return [_described(record) for record in
                s.scalars(select(ReconciliationRun).order_by(ReconciliationRun.id.desc()).limit(limit))]


def _described(record: ReconciliationRun) -> dict[str, Any]:
    return {"run_id": record.id, "state": record.state, "date_from": record.date_from, "date_to": record.date_to,
            "trigger": record.trigger, "started_at": record.started_at, "finished_at": record.finished_at,
            "counts": dict(record.counts or {}), "error": record.error}


def _new_run(runtime: Any, date_from: str, date_to: str, trigger: str) -> dict[str, Any]:
    with runtime.store.session() as s:
        record = ReconciliationRun(date_from=date_from, date_to=date_to, trigger=trigger[:32], counts={},
                                   state="queued", error="")
        s.add(record)
        s.flush()
        return _described(record)


def _finish(runtime: Any, run_id: int, state: str, error: str, counts: dict[str, int] | None = None) -> None:
    with runtime.store.session() as s:
        record = s.get(ReconciliationRun, run_id)
        record.state, record.error, record.finished_at = state, error[:2000], utcnow()
        if counts is not None:
            record.counts = counts


def _reconcile(runtime: Any, run_id: int, date_from: str, date_to: str
               ) -> tuple[dict[str, int], list[tuple[int, Result]]]:
    days = runtime.settings.RECONCILIATION_FUZZY_DAYS
    entries = ledger.collect(runtime, date_from, date_to, pad_days=days)
    results = match([e for e in entries if e.source == "magento"], [e for e in entries if e.source == "heartland"],
                    fuzzy_days=days)
    in_period = [r for r in results if date_from <= r.business_date <= date_to]
    new_exceptions = _record(runtime, run_id, in_period)
    counts: dict[str, int] = {}
    for r in in_period:
        counts[r.category] = counts.get(r.category, 0) + 1
    return counts, new_exceptions


def fail_stalled(runtime: Any) -> int:
    """Runs queued or running for longer than a job may take: their worker is gone. They fail with
    a reason, so the page and the API stop showing them as under way."""
    cutoff = utcnow() - timedelta(seconds=RUN_TIMEOUT_SECONDS + 300)
    with runtime.store.session() as s:
        stalled: Any = s.execute(update(ReconciliationRun)
                                 .where(ReconciliationRun.state.in_(("queued", "running")),
                                        ReconciliationRun.started_at < cutoff)
                                 .values(state="failed", finished_at=utcnow(),
                                         error="stalled: no worker finished it; run it again"))
        return int(stalled.rowcount or 0)


def _record(runtime: Any, run_id: int, results: list[Result]) -> list[tuple[int, Result]]:
    """Upsert results by their entries; a resolved exception stays resolved. Returns the new exceptions."""
    new: list[tuple[int, Result]] = []
    with runtime.store.session() as s:
        for r in results:
            row = s.scalar(select(ReconciliationResult).where(ReconciliationResult.match_key == r.key))
            is_exception = r.category in EXCEPTIONS
            if row is None:
                row = ReconciliationResult(match_key=r.key, run_id=run_id, note="", resolved_by="",
                                           state="open" if is_exception else "none")
                s.add(row)
            elif row.state == "resolved":
                row.run_id = run_id
                continue
            was_open = row.state == "open" and row.category == r.category
            row.run_id, row.business_date, row.category = run_id, r.business_date, r.category
            row.matched_by, row.delta, row.currency, row.reason = r.matched_by, r.delta, r.currency, r.reason
            row.magento_entry_id = r.magento.id if r.magento else None
            row.heartland_entry_id = r.heartland.id if r.heartland else None
            row.state = "open" if is_exception else "none"
            s.flush()
            if is_exception and not was_open:
                new.append((row.id, r))
    return new


def resolve(runtime: Any, result_id: int, note: str, actor: str) -> ReconciliationResult:
    if not note.strip():
        raise ValueError("say how it was resolved: a note is required")
    with runtime.store.session() as s:
        row = s.get(ReconciliationResult, result_id)
        if row is None or row.state == "none":
            raise LookupError(f"no reconciliation exception rx_{result_id}")
        row.state, row.note, row.resolved_by, row.resolved_at = "resolved", note.strip()[:2000], actor[:80], utcnow()
        s.flush()
        s.expunge(row)
        return row


def run_due(runtime: Any, *, announce: Announce) -> None:
    """The scheduler's daily run over the last RECONCILIATION_DAYS days, once per interval (Redis-held).
    (Runs no worker finished are failed by the scheduler's housekeeping: service/app/api_duties.py.)"""
    interval = runtime.settings.RECONCILIATION_INTERVAL_SECONDS
    if interval <= 0:
        return
    # One scheduler runs it per interval, however many there are: the key lives for the interval.
    if not runtime.redis.set(LAST_RUN_KEY, utcnow().isoformat(), nx=True, ex=max(1, int(interval))):
        return
    zone = ZoneInfo(runtime.settings.STORE_TIMEZONE or "UTC")
    today = datetime.now(zone).date()
    days = max(1, runtime.settings.RECONCILIATION_DAYS or 3)
    run(runtime, (today - timedelta(days=days)).isoformat(), (today - timedelta(days=1)).isoformat(), "schedule",
        announce=announce)
