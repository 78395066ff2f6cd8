"""A reconciliation run: collect both sides' ledger entries for a period, match them, record the
results, raise ``reconciliation.exception`` for each new exception, and keep a person's resolution
across reruns.

The scheduler runs it every RECONCILIATION_INTERVAL_SECONDS over the last RECONCILIATION_DAYS
business days (late postings settle); accounting runs it on demand from the page or the API.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from service.reconciliation import ledger
from service.reconciliation.matching import EXCEPTIONS, Result, match
from service.store.api_tables import ReconciliationResult, ReconciliationRun
from service.store.tables import utcnow

log = logging.getLogger(__name__)
LAST_RUN_KEY = "tillbridge:reconciliation:last"


Announce = Callable[[Any, int, Result], None]


def run(runtime: Any, date_from: str, date_to: str, trigger: str, *, announce: Announce) -> dict[str, Any]:
    """Reconcile the business days date_from..date_to (inclusive); returns the run's counts.
    ``announce`` tells the world of each new exception (the /v1 ``reconciliation.exception``
    event: service/api/outbound/events.py), after the results are recorded."""
    if date.fromisoformat(date_to) < date.fromisoformat(date_from):
        raise ValueError("date_to is before date_from")
    days = int(runtime.settings.get("RECONCILIATION_FUZZY_DAYS", 2))
    with runtime.store.session() as s:
        record = ReconciliationRun(date_from=date_from, date_to=date_to, trigger=trigger[:32], counts={})
        s.add(record)
        s.flush()
        run_id = record.id
    entries = ledger.collect(runtime, date_from, date_to, pad_days=days)
    results = match([e for e in entries if e.source == "magento"], [e for e in entries if e.source == "heartland"],
                    fuzzy_days=days)
    in_period = [r for r in results if date_from <= r.business_date <= date_to]
    new_exceptions = _record(runtime, run_id, in_period)
    counts: dict[str, int] = {}
    for r in in_period:
        counts[r.category] = counts.get(r.category, 0) + 1
    with runtime.store.session() as s:
        record = s.get(ReconciliationRun, run_id)
        record.finished_at, record.counts = utcnow(), counts
    for result_id, result in new_exceptions:
        log.warning("reconciliation exception rx_%s: %s on %s: %s", result_id, result.category,
                    result.business_date, result.reason)
        try:
            announce(runtime, result_id, result)
        except Exception:  # noqa: BLE001 - the exception is recorded and on the page; the event is a convenience
            log.exception("could not announce reconciliation exception %s", result_id)
    log.info("reconciliation %s..%s (%s): %s", date_from, date_to, trigger, counts)
    return {"run_id": run_id, "counts": counts}


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
    """The scheduler's daily run over the last RECONCILIATION_DAYS days, once per interval (Redis-held)."""
    interval = float(runtime.settings.get("RECONCILIATION_INTERVAL_SECONDS") or 0)
    if interval <= 0:
        return
    # One scheduler runs it per interval, however many there are: the key lives for the interval.
    if not runtime.redis.set(LAST_RUN_KEY, utcnow().isoformat(), nx=True, ex=max(1, int(interval))):
        return
    zone = ZoneInfo(str(runtime.settings.get("STORE_TIMEZONE") or "UTC"))
    today = datetime.now(zone).date()
    days = max(1, int(runtime.settings.get("RECONCILIATION_DAYS") or 3))
    run(runtime, (today - timedelta(days=days)).isoformat(), (today - timedelta(days=1)).isoformat(), "schedule",
        announce=announce)
