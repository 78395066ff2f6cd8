"""``tillbridge forecasts …``: fit the stock forecasts now and list what sells out (service/operations/forecasts.py)."""

from __future__ import annotations

import json
from datetime import date

import click


@click.group()
def forecasts() -> None:
    """Stock forecasts: demand per SKU and location, days of cover, what to reorder."""


@forecasts.command("run")
@click.option("--as-of", "as_of", default="", help="Last day of sales history to use, YYYY-MM-DD (default: yesterday).")
@click.option("--json", "as_json", is_flag=True, help="Print the run and the SKUs at risk as JSON.")
def run_now(as_of: str, as_json: bool) -> None:
    """Read the sales history from Heartland, fit, store, and list the SKUs at risk of selling out."""
    from service.ai.forecast.planning import PolicyError
    from service.app.factory import create_app
    from service.kernel.errors import SyncError
    from service.operations import forecasts as stock_forecasts
    from service.rules.loader import RuleError

    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise click.BadParameter(f"{as_of!r} is not a date: write it as YYYY-MM-DD", param_hint="--as-of") from None
    runtime = create_app().extensions["tillbridge"]
    try:
        summary = stock_forecasts.run(runtime, "cli", day)
    except (SyncError, RuleError, PolicyError) as exc:
        raise click.ClickException(str(exc)) from None
    risky = stock_forecasts.at_risk(runtime.store, summary.run_id, limit=1000)
    if as_json:
        click.echo(json.dumps({**vars(summary), "at_risk_skus": [
            {"sku": r.sku, "location": r.location, "available": r.available, "daily_demand": r.daily_demand,
             "days_of_cover": r.days_of_cover, "lead_days": r.lead_days, "reorder_qty": r.reorder_qty}
            for r in risky]}, indent=2))
        return
    for r in risky:
        click.echo(f"{r.sku:<16} {r.location:<20} {r.available:>6.0f} available  {r.daily_demand:5.2f}/day  "
                   f"{r.days_of_cover or 0:5.1f} days of cover < {r.lead_days} days lead  reorder {r.reorder_qty}")
    click.echo(f"forecast {summary.series} SKU-locations from sales {summary.history_from} – {summary.history_to}: "
               f"{summary.at_risk} sell out before their lead time; read in {summary.fetch_seconds:.1f} s, "
               f"fitted in {summary.fit_seconds:.1f} s (run {summary.run_id})")
