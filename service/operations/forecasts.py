"""Stock forecasts, nightly: read the sales history from Heartland, forecast demand per SKU and
location (service/ai/forecast/), and store days of cover, sell-out risk and reorder quantities.

The scheduler runs it every FORECAST_INTERVAL_SECONDS (one scheduler per interval, Redis-held);
``tillbridge forecasts run`` runs it now. Fitting happens here only, never in a web request: the
insights page and /v1/inventory read the last finished run from the store.

What is read from Heartland: daily net units per item and location from the analyzer
(``reporting/analyzer``, grouped by day, item and location, the last ``history_days`` days up to
yesterday) and the current ``qty_available`` per item and location (``inventory/values``). Every
(item, location) that sold at least once in the window is forecast.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select

from service.ai.forecast.planning import LeadTimes, plan
from service.store.forecast_tables import ForecastRun, StockForecast
from service.store.tables import utcnow

log = logging.getLogger(__name__)
RULES_FILE = "forecast.yaml"
LAST_RUN_KEY = "tillbridge:forecasts:last"
RECENT_DAYS = 28


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    series: int
    at_risk: int
    history_from: str
    history_to: str
    fetch_seconds: float
    fit_seconds: float


def lead_times(runtime: Any) -> LeadTimes:
    return LeadTimes.from_rules(runtime.rules.load(RULES_FILE), str(runtime.rules.path(RULES_FILE)))


def yesterday(runtime: Any) -> date:
    zone = ZoneInfo(runtime.settings.STORE_TIMEZONE or "UTC")
    return datetime.now(zone).date() - timedelta(days=1)


def run(runtime: Any, trigger: str, as_of: date | None = None) -> RunSummary:
    """Forecast from the history up to ``as_of`` (default: yesterday) and store the run."""
    import pandas as pd

    from service.ai.forecast.forecaster import forecast

    policy = lead_times(runtime)
    end = as_of or yesterday(runtime)
    start = end - timedelta(days=policy.history_days - 1)
    with runtime.store.session() as s:
        record = ForecastRun(trigger=trigger[:32], state="running", error="", history_from=start.isoformat(),
                             history_to=end.isoformat())
        s.add(record)
        s.flush()
        run_id = record.id
    try:
        began = time.monotonic()
        heartland = runtime.heartland
        locations = {int(loc["id"]): loc for loc in heartland.locations()}
        sales = heartland.daily_sales(start.isoformat(), end.isoformat())
        stock = {(int(r["item_id"]), int(r["location_id"])): float(r.get("qty_available") or 0)
                 for r in heartland.inventory_values(None, None)}
        fetched = time.monotonic()
        skus = {int(r["item.id"]): str(r.get("item.public_id") or r["item.id"]) for r in sales}
        history = pd.DataFrame({
            "unique_id": [f"{int(r['item.id'])}:{int(r['location.id'])}" for r in sales],
            "ds": [r["date.date"] for r in sales],
            "y": [float(r.get("source_sales.net_qty_sold") or 0) for r in sales],
        })
        forecasts = forecast(history, policy.horizon_days, start=start, end=end) if len(history) else {}
        fitted = time.monotonic()
        recent_from = (end - timedelta(days=RECENT_DAYS - 1)).isoformat()
        recent = _recent(history, recent_from, end)
        rows = []
        for uid, f in forecasts.items():
            item_id, location_id = (int(part) for part in uid.split(":"))
            location = locations.get(location_id, {})
            names = [str(location.get("public_id") or ""), str(location.get("name") or ""), str(location_id)]
            lead = policy.lead_for(names)
            p = plan(f, stock.get((item_id, location_id), 0.0), lead, policy.review_days, policy.service_level)
            rows.append(StockForecast(
                run_id=run_id, sku=skus.get(item_id, str(item_id)), item_id=item_id, location_id=location_id,
                location=str(location.get("name") or location_id), pattern=f.pattern.kind, method=f.method,
                available=p.on_hand, daily_demand=round(p.daily_demand, 4),
                days_of_cover=None if p.days_of_cover is None else round(p.days_of_cover, 2), lead_days=lead,
                demand_over_lead=round(p.demand_over_lead, 3), safety_stock=round(p.safety_stock, 3),
                reorder_qty=p.reorder_qty, at_risk=p.at_risk, stockout_days=f.stockout_days,
                forecast=[round(float(v), 3) for v in f.mean], recent=recent.get(uid, [0.0] * RECENT_DAYS)))
    except Exception as exc:
        with runtime.store.session() as s:
            failed = s.get(ForecastRun, run_id)
            failed.state, failed.error, failed.finished_at = "failed", str(exc)[:2000], utcnow()
        raise
    at_risk = sum(1 for r in rows if r.at_risk)
    with runtime.store.session() as s:
        s.add_all(rows)
        done = s.get(ForecastRun, run_id)
        done.state, done.finished_at, done.series, done.at_risk = "done", utcnow(), len(rows), at_risk
        done.fetch_seconds, done.fit_seconds = round(fetched - began, 3), round(fitted - fetched, 3)
    _prune(runtime)
    log.info("stock forecasts (%s): %d SKU-locations, %d at risk of selling out; read in %.1f s, fitted in %.1f s",
             trigger, len(rows), at_risk, fetched - began, fitted - fetched)
    return RunSummary(run_id, len(rows), at_risk, start.isoformat(), end.isoformat(), round(fetched - began, 3),
                      round(fitted - fetched, 3))


def _recent(history: Any, first: str, end: date) -> dict[str, list[float]]:
    """The last RECENT_DAYS days of sales per series, zeros included, oldest first (for sparklines)."""
    days = [(date.fromisoformat(first) + timedelta(days=n)).isoformat() for n in range(RECENT_DAYS)]
    position = {d: n for n, d in enumerate(days)}
    out: dict[str, list[float]] = {}
    for uid, ds, y in zip(history["unique_id"], history["ds"], history["y"], strict=True):
        n = position.get(str(ds)[:10])
        if n is not None:
            out.setdefault(uid, [0.0] * RECENT_DAYS)[n] += float(y)
    return out


def _prune(runtime: Any) -> None:
    kept = max(1, runtime.settings.FORECAST_RUNS_KEPT or 3)
    with runtime.store.session() as s:
        newest = list(s.scalars(select(ForecastRun.id).order_by(ForecastRun.id.desc()).limit(kept)))
        if newest:
            old = select(ForecastRun.id).where(ForecastRun.id < min(newest))
            s.execute(delete(StockForecast).where(StockForecast.run_id.in_(old)))
            s.execute(delete(ForecastRun).where(ForecastRun.id < min(newest)))


def run_due(runtime: Any) -> None:
    """The scheduler's nightly run, once per FORECAST_INTERVAL_SECONDS however many schedulers run."""
    interval = runtime.settings.FORECAST_INTERVAL_SECONDS
    if interval <= 0:
        return
    if not runtime.redis.set(LAST_RUN_KEY, utcnow().isoformat(), nx=True, ex=max(1, int(interval))):
        return
    run(runtime, "schedule")


# -- reading ------------------------------------------------------------------------------------------


def latest_run(store: Any) -> ForecastRun | None:
    with store.session() as s:
        found = s.scalar(select(ForecastRun).where(ForecastRun.state == "done").order_by(ForecastRun.id.desc()).limit(1))
        if found is not None:
            s.expunge(found)
        return found


def at_risk(store: Any, run_id: int, limit: int = 50) -> list[StockForecast]:
    """The run's SKU-locations that sell out before a delivery, soonest first."""
    with store.session() as s:
        rows = list(s.scalars(select(StockForecast).where(StockForecast.run_id == run_id,
                                                          StockForecast.at_risk.is_(True))
                              .order_by(StockForecast.days_of_cover, StockForecast.sku).limit(limit)))
        s.expunge_all()
    return rows


def by_sku(store: Any, skus: list[str]) -> dict[str, list[StockForecast]]:
    """The last run's forecasts of these SKUs, per SKU (per location inside)."""
    latest = latest_run(store)
    if latest is None or not skus:
        return {}
    with store.session() as s:
        rows = list(s.scalars(select(StockForecast).where(StockForecast.run_id == latest.id,
                                                          StockForecast.sku.in_(skus))
                              .order_by(StockForecast.sku, StockForecast.location_id)))
        s.expunge_all()
    out: dict[str, list[StockForecast]] = {}
    for row in rows:
        out.setdefault(row.sku, []).append(row)
    return out


def pattern_counts(store: Any, run_id: int) -> dict[str, int]:
    with store.session() as s:
        return {str(k): int(v) for k, v in s.execute(
            select(StockForecast.pattern, func.count()).where(StockForecast.run_id == run_id)
            .group_by(StockForecast.pattern))}


def finished_at(run: ForecastRun) -> str:
    moment = run.finished_at or run.started_at
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
