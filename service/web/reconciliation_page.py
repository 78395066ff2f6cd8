"""The reconciliation page (accounting): exceptions with filters and actions — resolve with a
note, open the trace, re-sync through the flow — a run on demand, the period's summary and the
journal exports. Everything goes through service.reconciliation, as the API does."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from service.api import reconciliation_jobs
from service.api.v1.reports import result_object, results_query
from service.flows.context import current
from service.kernel.errors import SyncError
from service.reconciliation import exports
from service.reconciliation import run as reconciliation
from service.reconciliation.matching import CATEGORIES
from service.reconciliation.summary import summaries
from service.store import items
from service.store.api_tables import LedgerEntry, ReconciliationResult
from service.store.tables import SyncItem
from service.web.auth import actor, require_role

bp = Blueprint("reconciliation", __name__)
ROLES = ("accounting",)
PAGE_SIZE = 100



def _period(values: Any) -> tuple[str, str]:
    today = date.today()
    try:
        start = date.fromisoformat(values.get("date_from") or "")
    except ValueError:
        start = today - timedelta(days=7)
    try:
        end = date.fromisoformat(values.get("date_to") or "")
    except ValueError:
        end = today
    return start.isoformat(), max(start, end).isoformat()


def _trace_item(entry: LedgerEntry | None) -> int | None:
    """The newest sync item of the Magento order an entry is about, for its trace."""
    if entry is None or entry.source != "magento" or not entry.source_id.startswith("order:"):
        return None
    store_code = entry.order_ref.split(":")[1] if entry.order_ref.count(":") >= 2 else "default"
    key = f"orders:magento:{store_code}:{entry.source_id.split(':', 1)[1]}"
    with current().store.session() as s:
        return s.scalar(select(SyncItem.id).where(SyncItem.entity_key == key).order_by(SyncItem.id.desc()).limit(1))


@bp.get("/reconciliation")
@require_role(*ROLES)
def index() -> Any:
    date_from, date_to = _period(request.args)
    category = request.args.get("category") or ""
    state = request.args.get("state") or "open"
    query = results_query().where(ReconciliationResult.business_date >= date_from,
                                  ReconciliationResult.business_date <= date_to)
    if state != "any":
        query = query.where(ReconciliationResult.state == state)
    if category:
        query = query.where(ReconciliationResult.category == category)
    rows = []
    with current().store.session() as s:
        for r, m, h in s.execute(query.order_by(ReconciliationResult.business_date.desc(),
                                                ReconciliationResult.id.desc()).limit(PAGE_SIZE)):
            rows.append({**result_object(r, m, h), "number": r.id, "trace_item": _trace_item(m),
                         "can_resync": m is not None and m.kind == "sale" and r.state == "open"})
    return render_template("reconciliation.html", rows=rows, categories=CATEGORIES, state=state, category=category,
                           date_from=date_from, date_to=date_to, runs=reconciliation.recent_runs(current()),
                           summary=summaries(current().store, date_from, date_to, "day"))


@bp.post("/reconciliation/run")
@require_role(*ROLES)
def run_now() -> Any:
    date_from, date_to = _period(request.form)
    if (date.fromisoformat(date_to) - date.fromisoformat(date_from)).days > 31:
        flash("Reconcile at most 31 days at once.", "error")
    else:
        run_id = reconciliation_jobs.ask(current(), date_from, date_to, f"page:{actor()}")["run_id"]
        flash(f"Reconciliation run {run_id} of {date_from} to {date_to} is queued: a worker reads both systems, "
              "and this page shows when it is done.", "info")
    return redirect(url_for("reconciliation.index", date_from=date_from, date_to=date_to))


@bp.post("/reconciliation/<int:result_id>/resolve")
@require_role(*ROLES)
def resolve(result_id: int) -> Any:
    try:
        reconciliation.resolve(current(), result_id, request.form.get("note", ""), actor())
        flash(f"Exception rx_{result_id} resolved.", "info")
    except (LookupError, ValueError) as exc:
        flash(str(exc), "error")
    return redirect(request.referrer or url_for("reconciliation.index"))


@bp.post("/reconciliation/<int:result_id>/resync")
@require_role(*ROLES)
def resync(result_id: int) -> Any:
    """Send the Magento order again through the orders flow (it looks Heartland up by our reference first)."""
    runtime = current()
    with runtime.store.session() as s:
        row = s.execute(results_query().where(ReconciliationResult.id == result_id)).first()
    if row is None or row[1] is None:
        flash(f"rx_{result_id} is not about a Magento order.", "error")
        return redirect(url_for("reconciliation.index"))
    entry = row[1]
    store_code = entry.order_ref.split(":")[1] if entry.order_ref.count(":") >= 2 else "default"
    try:
        order = runtime.magento.order(int(entry.source_id.split(":", 1)[1]))
    except SyncError as exc:
        flash(f"Magento could not be read: {exc}", "error")
        return redirect(url_for("reconciliation.index"))
    from service.flows.order_polling import entity_key, envelope

    with runtime.store.session() as s:
        item = items.create(s, flow="orders", direction="magento→heartland",
                            entity_key=entity_key(store_code, order["entity_id"]),
                            label=f"order #{order.get('increment_id')} (re-sync from reconciliation)",
                            payload=envelope(order, store_code), source_version=str(order.get("updated_at") or ""))
        item_id = item.id
    runtime.enqueue([item_id])
    flash(f"Magento order #{order.get('increment_id')} sent through the orders flow again (item {item_id}).", "info")
    return redirect(url_for("items.show", item_id=item_id))


@bp.get("/reconciliation/export/<kind>")
@require_role(*ROLES)
def export(kind: str) -> Any:
    date_from, date_to = _period(request.args)
    store = current().store
    if kind == "xero":
        body, mimetype, name = exports.xero_csv(store, date_from, date_to), "text/csv", "xero"
        filename = f"tillbridge-{name}-{date_from}-{date_to}.csv"
    elif kind == "quickbooks":
        body, mimetype = exports.quickbooks_iif(store, date_from, date_to), "text/plain"
        filename = f"tillbridge-{date_from}-{date_to}.iif"
    else:
        return redirect(url_for("reconciliation.index"))
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.app_template_filter("money")
def money_filter(amount: int, currency: str = "USD") -> str:
    """Minor units as a person reads them: 12345, "USD" → "123.45 USD"."""
    from service.canonical.money import exponent, major_units

    return f"{major_units(int(amount or 0), currency):,.{exponent(currency)}f} {currency}"
