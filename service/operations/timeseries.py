"""The flows' figures over time: throughput, error rate, latency p50/p95, queue depth and age.

The scheduler rolls the store up once a minute (one scheduler at a time): for each finished minute,
per flow and for all flows together (flow ``*``), the items that finished in it by state and their
latency (received → finished, p50 and p95), and the queue (items received or processing) as it is
at that minute's end. The hour that minute belongs to is rolled up again from the items, so hourly
percentiles are exact, not averages of minutes. Minutes the scheduler missed (it was stopped) are
rolled up when it comes back, up to CATCH_UP_MINUTES, without a queue sample.

Minute rows are kept TIMESERIES_MINUTE_HOURS; hour rows RETENTION_DAYS (like the items they count).
The dashboard draws them (service/web/charts.py); /metrics exposes the live figures instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from service.flows.context import Context
from service.store.items import TERMINAL_STATES
from service.store.tables import MetricRollup, SyncItem

MINUTE_KEY = "tb:timeseries:last_minute"
LOCK_KEY = "tb:timeseries:lock"
ALL_FLOWS = "*"
CATCH_UP_MINUTES = 120
PENDING_STATES = ("received", "processing")
STEP = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1)}
# The windows the charts offer: (label, length, resolution).
WINDOWS: dict[str, tuple[timedelta, str]] = {
    "1h": (timedelta(hours=1), "minute"),
    "6h": (timedelta(hours=6), "minute"),
    "24h": (timedelta(hours=24), "minute"),
    "7d": (timedelta(days=7), "hour"),
    "30d": (timedelta(days=30), "hour"),
}


def floor(moment: datetime, resolution: str) -> datetime:
    moment = moment.astimezone(UTC).replace(second=0, microsecond=0)
    return moment.replace(minute=0) if resolution == "hour" else moment


def run_due(runtime: Context, now: datetime | None = None) -> int:
    """Roll up every finished minute not rolled up yet (and their hours); returns the minutes rolled."""
    now = now or datetime.now(UTC)
    current = floor(now, "minute")
    raw = runtime.redis.get(MINUTE_KEY)
    last = floor(datetime.fromtimestamp(float(raw), UTC), "minute") if raw else current - timedelta(minutes=2)
    if last >= current - timedelta(minutes=1):
        return 0
    if not runtime.redis.set(LOCK_KEY, "1", nx=True, ex=50):
        return 0
    try:
        first = max(last + timedelta(minutes=1), current - timedelta(minutes=CATCH_UP_MINUTES))
        minutes = []
        moment = first
        while moment < current:
            minutes.append(moment)
            moment += timedelta(minutes=1)
        queue = queue_now(runtime, now)
        with runtime.store.session() as s:
            for start in minutes:
                sample = queue if start == current - timedelta(minutes=1) else None
                roll(s, "minute", start, sample)
            for hour in sorted({floor(m, "hour") for m in minutes}):
                roll(s, "hour", hour, None)
            prune(s, runtime, now)
        runtime.redis.set(MINUTE_KEY, str(minutes[-1].timestamp()))
        return len(minutes)
    finally:
        runtime.redis.delete(LOCK_KEY)


def queue_now(runtime: Context, now: datetime) -> dict[str, tuple[int, float]]:
    """flow → (items received or processing, age in seconds of the oldest), with ``*`` for all flows."""
    found: dict[str, tuple[int, float]] = {}
    with runtime.store.session() as s:
        rows = s.execute(select(SyncItem.flow, func.count(), func.min(SyncItem.created_at))
                         .where(SyncItem.state.in_(PENDING_STATES)).group_by(SyncItem.flow))
        for flow, n, oldest in rows:
            found[flow] = (int(n), max(0.0, (now - _aware(oldest)).total_seconds()) if oldest else 0.0)
    found[ALL_FLOWS] = (sum(n for n, _ in found.values()), max((age for _, age in found.values()), default=0.0))
    return found


def _aware(moment: Any) -> datetime:
    if isinstance(moment, str):  # func.min bypasses the column type on SQLite
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def percentile(sorted_values: list[float], share: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least ``share`` of the values at or below it."""
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(share * len(sorted_values)) - 1)]


def roll(s: Session, resolution: str, start: datetime, queue: dict[str, tuple[int, float]] | None) -> None:
    """Write one bucket's rows (replacing any written before: rolling up twice gives the same rows)."""
    end = start + STEP[resolution]
    counts: dict[str, dict[str, int]] = {}
    latencies: dict[str, list[float]] = {}
    rows = s.execute(select(SyncItem.flow, SyncItem.state, SyncItem.created_at, SyncItem.finished_at)
                     .where(SyncItem.finished_at >= start, SyncItem.finished_at < end,
                            SyncItem.state.in_(TERMINAL_STATES)))
    for flow, state, created, finished in rows:
        # Rounded to the microsecond a timestamp holds: float noise (1234.5670000000001) is no
        # measurement, and a long digit run in a stored value would look like a card number.
        ms = round(max(0.0, (_aware(finished) - _aware(created)).total_seconds() * 1000), 3)
        for key in (flow, ALL_FLOWS):
            by_state = counts.setdefault(key, dict.fromkeys(TERMINAL_STATES, 0))
            by_state[state] += 1
            latencies.setdefault(key, []).append(ms)
    depth_of: dict[str, tuple[int | None, float | None]] = {}
    if resolution == "hour":
        for flow, depth, oldest in s.execute(
                select(MetricRollup.flow, func.max(MetricRollup.depth), func.max(MetricRollup.oldest_seconds))
                .where(MetricRollup.resolution == "minute", MetricRollup.bucket >= start, MetricRollup.bucket < end)
                .group_by(MetricRollup.flow)):
            depth_of[flow] = (depth, oldest)
    elif queue is not None:
        depth_of = {flow: (n, None if age is None else round(age, 3)) for flow, (n, age) in queue.items()}
    s.execute(delete(MetricRollup).where(MetricRollup.resolution == resolution, MetricRollup.bucket == start))
    for flow in sorted(set(counts) | set(depth_of)):
        by_state = counts.get(flow, dict.fromkeys(TERMINAL_STATES, 0))
        values = sorted(latencies.get(flow, []))
        depth, oldest = depth_of.get(flow, (0, 0.0) if queue is not None else (None, None))
        s.add(MetricRollup(resolution=resolution, bucket=start, flow=flow, done=by_state["done"],
                           ignored=by_state["ignored"], review=by_state["review"], dead=by_state["dead"],
                           p50_ms=percentile(values, 0.5), p95_ms=percentile(values, 0.95),
                           depth=depth, oldest_seconds=oldest))


def prune(s: Session, runtime: Context, now: datetime) -> None:
    minute_hours = runtime.settings.TIMESERIES_MINUTE_HOURS
    s.execute(delete(MetricRollup).where(MetricRollup.resolution == "minute",
                                         MetricRollup.bucket < now - timedelta(hours=minute_hours)))
    days = runtime.settings.RETENTION_DAYS
    if days > 0:
        s.execute(delete(MetricRollup).where(MetricRollup.resolution == "hour",
                                             MetricRollup.bucket < now - timedelta(days=days)))


@dataclass
class Series:
    """Columns for a chart: one entry per bucket, gaps as zero counts and null figures."""

    resolution: str
    t: list[int]  # bucket starts, Unix seconds
    throughput: list[int]  # items finished
    dead: list[int]
    error_rate: list[float | None]  # dead / finished, null when nothing finished
    p50_ms: list[float | None]
    p95_ms: list[float | None]
    depth: list[int | None]
    oldest_seconds: list[float | None]

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def series(runtime: Context, *, window: str, flow: str | None = None, now: datetime | None = None) -> Series:
    length, resolution = WINDOWS[window]
    now = now or datetime.now(UTC)
    end = floor(now, resolution)
    start = end - length
    with runtime.store.session() as s:
        rows = {_aware(r.bucket): r for r in s.scalars(
            select(MetricRollup).where(MetricRollup.resolution == resolution, MetricRollup.flow == (flow or ALL_FLOWS),
                                       MetricRollup.bucket >= start, MetricRollup.bucket <= end))}
    out = Series(resolution, [], [], [], [], [], [], [], [])
    moment = start
    while moment <= end:
        r = rows.get(moment)
        finished = (r.done + r.ignored + r.review + r.dead) if r else 0
        out.t.append(int(moment.timestamp()))
        out.throughput.append(finished)
        out.dead.append(r.dead if r else 0)
        out.error_rate.append(round(r.dead / finished, 4) if r and finished else None)
        out.p50_ms.append(r.p50_ms if r else None)
        out.p95_ms.append(r.p95_ms if r else None)
        out.depth.append(r.depth if r else None)
        out.oldest_seconds.append(r.oldest_seconds if r else None)
        moment += STEP[resolution]
    return out
