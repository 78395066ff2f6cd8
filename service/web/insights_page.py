"""Insights: sales by channel and location over time, stock-outs avoided, top customers and the
repeat rate across channels — charts for a time window, from the ledger the reconciliation runs
fill (its Refresh reads both systems for the window) and the inventory flow's items; and the SKUs
the last nightly stock forecast (service/operations/forecasts.py) says sell out before their next delivery."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from service.flows.context import current
from service.kernel.errors import SyncError
from service.operations import forecasts, insights
from service.reconciliation import ledger
from service.web.auth import require_role

bp = Blueprint("insights", __name__)
ROLES = ("operator", "accounting", "integrator")
WINDOWS = (7, 30, 90)
AT_RISK_SHOWN = 250  # the soonest to sell out; the CLI and /v1/inventory give the rest


def _window() -> tuple[int, str, str]:
    try:
        span = int(request.values.get("days") or 30)
    except ValueError:
        span = 30
    span = span if span in WINDOWS else 30
    today = date.today()
    return span, (today - timedelta(days=span - 1)).isoformat(), today.isoformat()


@bp.get("/insights")
@require_role(*ROLES)
def index() -> Any:
    span, date_from, date_to = _window()
    store = current().store
    axis = insights.days(date_from, date_to)
    by_channel = insights.sales_over_time(store, date_from, date_to, "channel")
    by_location = insights.sales_over_time(store, date_from, date_to, "location")
    stock = insights.stock_outs_avoided(store, date_from, date_to)
    run = forecasts.latest_run(store)
    risky = [{"row": row, "spark": sparkline(row.recent, row.forecast[:row.lead_days])}
             for row in (forecasts.at_risk(store, run.id, limit=AT_RISK_SHOWN) if run else [])]
    return render_template("insights.html", span=span, windows=WINDOWS, date_from=date_from, date_to=date_to,
                           forecast_run=run, forecast_finished=forecasts.finished_at(run) if run else "",
                           at_risk=risky, at_risk_shown=AT_RISK_SHOWN, patterns=forecasts.pattern_counts(store, run.id) if run else {},
                           channel_chart=insights.chart(by_channel, axis), location_chart=insights.chart(by_location, axis),
                           stock_chart=insights.chart(stock, axis), people=insights.customers(store, date_from, date_to),
                           currency=str(current().settings.STORE_CURRENCY or "USD"))


def sparkline(recent: list[float], ahead: list[float], width: int = 160, height: int = 28) -> dict[str, str]:
    """SVG points for the last days' sales (``sold``) and the forecast over the lead time (``ahead``), one scale."""
    values = [float(v) for v in recent] + [float(v) for v in ahead]
    peak = max(values, default=0.0) or 1.0
    step = width / max(1, len(values) - 1)

    def points(start: int, series: list[float]) -> str:
        return " ".join(f"{(start + n) * step:.1f},{height - v / peak * height:.1f}" for n, v in enumerate(series))

    last = len(recent) - 1
    return {"sold": points(0, [float(v) for v in recent]),
            "ahead": points(last, [float(recent[-1]) if recent else 0.0] + [float(v) for v in ahead])}


@bp.post("/insights/refresh")
@require_role(*ROLES)
def refresh() -> Any:
    span, date_from, date_to = _window()
    runtime = current()
    try:
        saved = ledger.collect(runtime, date_from, date_to, pad_days=0)
        flash(f"Read {len(saved)} money movements from Heartland and Magento for the last {span} days.", "info")
    except SyncError as exc:
        flash(f"A system could not be read: {exc}", "error")
    return redirect(url_for("insights.index", days=span))
