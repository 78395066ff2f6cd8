"""/v1/reports: transaction summaries, payment reconciliation and journal exports (accounting)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Response, g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.orm import aliased

from service.api import reconciliation_jobs
from service.api.v1.conventions import ListArgs, list_schema, page_of, rfc3339
from service.api.v1.errors import fail
from service.api.v1.schemas import MoneySchema
from service.flows.context import current
from service.kernel.numbers import whole_number
from service.reconciliation import exports
from service.reconciliation import run as reconciliation
from service.reconciliation.matching import CATEGORIES
from service.reconciliation.summary import MEASURES, summaries
from service.store.api_tables import LedgerEntry, ReconciliationResult

blp = Blueprint("v1_reports", __name__, url_prefix="/v1/reports",
                description="Transaction summaries, payment reconciliation and accounting exports")

MAX_DAYS = 366
DATES = validate.Range(min=date(2000, 1, 1), max=date(2099, 12, 31), error="must be a date from 2000 to 2099")


class PeriodArgs(Schema):
    date_from = fields.Date(required=True, validate=DATES, metadata={"description": "first business day (YYYY-MM-DD)"})
    date_to = fields.Date(required=True, validate=DATES, metadata={"description": "last business day, inclusive"})

    @validates_schema
    def ordered(self, data: dict[str, Any], **_: Any) -> None:
        if "date_from" in data and "date_to" in data:
            if data["date_to"] < data["date_from"]:
                raise ValidationError("is before date_from", "date_to")
            if (data["date_to"] - data["date_from"]).days > MAX_DAYS:
                raise ValidationError(f"the period is longer than {MAX_DAYS} days", "date_to")


class SummaryArgs(PeriodArgs):
    by = fields.String(load_default="day", validate=validate.OneOf(["day", "month"]))


class SummaryRow(Schema):
    period = fields.String(required=True)
    channel = fields.String(required=True)
    location = fields.String(required=True)
    tender = fields.String(required=True)
    currency = fields.String(required=True)
    average_order_value = fields.Integer(required=True)
    variance = fields.Integer(required=True, metadata={"description": "web only: Heartland − Magento for the period"})


for _measure in MEASURES:
    SummaryRow._declared_fields[_measure] = fields.Integer(required=True, metadata={"description": "minor units"
                                                                                   if _measure != "orders" else "count"})
SummaryList = list_schema(SummaryRow, "TransactionSummaryList")


class RunOut(Schema):
    id = fields.String(required=True, metadata={"example": "rr_12"})
    object = fields.Constant("reconciliation_run", required=True,
                             metadata={"type": "string", "enum": ["reconciliation_run"]})
    state = fields.String(required=True, validate=validate.OneOf(("queued", "running", "done", "failed")),
                          metadata={"description": "queued until a worker takes it; failed says why in error"})
    date_from = fields.String(required=True)
    date_to = fields.String(required=True)
    started_at = fields.String(required=True, allow_none=True)
    finished_at = fields.String(required=True, allow_none=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                         metadata={"description": "results by category, once done"})
    error = fields.String(required=True, metadata={"description": "why the run failed; empty otherwise"})


def run_object(run: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"rr_{run['run_id']}", "object": "reconciliation_run", "state": run["state"],
            "date_from": run["date_from"], "date_to": run["date_to"],
            "started_at": rfc3339(run["started_at"]) if run["started_at"] else None,
            "finished_at": rfc3339(run["finished_at"]) if run["finished_at"] else None,
            "counts": run["counts"], "error": run["error"]}


class SideOut(Schema):
    source_id = fields.String(required=True)
    number = fields.String(required=True)
    amount = fields.Nested(MoneySchema, required=True)
    business_date = fields.String(required=True)
    tender = fields.String(required=True)
    order_ref = fields.String(required=True)


class ExceptionOut(Schema):
    id = fields.String(required=True)
    object = fields.Constant("reconciliation_result", required=True,
                             metadata={"type": "string", "enum": ["reconciliation_result"]})
    category = fields.String(required=True, metadata={"enum": list(CATEGORIES)})
    state = fields.String(required=True, metadata={"enum": ["open", "resolved", "none"]})
    business_date = fields.String(required=True)
    matched_by = fields.String(required=True)
    delta = fields.Nested(MoneySchema, required=True)
    reason = fields.String(required=True)
    magento = fields.Nested(SideOut, allow_none=True, required=True)
    heartland = fields.Nested(SideOut, allow_none=True, required=True)
    note = fields.String(required=True)
    resolved_by = fields.String(required=True)
    resolved = fields.String(allow_none=True, metadata={"format": "date-time"})


ExceptionList = list_schema(ExceptionOut, "ReconciliationResultList")


class ExceptionArgs(ListArgs):
    category = fields.String(validate=validate.OneOf(list(CATEGORIES)))
    state = fields.String(load_default="open", validate=validate.OneOf(["open", "resolved", "none", "any"]))
    date_from = fields.Date(validate=DATES)
    date_to = fields.Date(validate=DATES)


class ResolveIn(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))



def _side(e: LedgerEntry | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {"source_id": e.source_id, "number": e.number, "amount": {"amount": e.amount, "currency": e.currency},
            "business_date": e.business_date, "tender": e.tender, "order_ref": e.order_ref}


def result_object(r: ReconciliationResult, m: LedgerEntry | None, h: LedgerEntry | None) -> dict[str, Any]:
    return {"id": f"rx_{r.id}", "object": "reconciliation_result", "category": "resolved" if r.state == "resolved"
            else r.category, "state": r.state, "business_date": r.business_date, "matched_by": r.matched_by,
            "delta": {"amount": r.delta, "currency": r.currency}, "reason": r.reason, "magento": _side(m),
            "heartland": _side(h), "note": r.note, "resolved_by": r.resolved_by, "resolved": rfc3339(r.resolved_at)}


def results_query() -> Any:
    m, h = aliased(LedgerEntry), aliased(LedgerEntry)
    return (select(ReconciliationResult, m, h).outerjoin(m, m.id == ReconciliationResult.magento_entry_id)
            .outerjoin(h, h.id == ReconciliationResult.heartland_entry_id))


def _number(public_id: str) -> int:
    number = whole_number(public_id[3:]) if public_id.startswith("rx_") else None
    if number is None:
        fail(404, f"no reconciliation result {public_id!r}: ids look like rx_12")
    return number


@blp.route("/transactions")
class Transactions(MethodView):
    @blp.arguments(SummaryArgs, location="query")
    @blp.response(200, SummaryList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Sales, returns, tax, shipping, gift cards, payments and refunds by day (or month) × channel × location × tender

        From the ledger of the last reconciliation runs over the period (run one first).
        """
        rows = summaries(current().store, args["date_from"].isoformat(), args["date_to"].isoformat(), args["by"])
        return {"object": "list", "url": "/v1/reports/transactions", "has_more": False, "data": rows}


@blp.route("/reconciliation/runs")
class Runs(MethodView):
    @blp.arguments(PeriodArgs)
    @blp.response(202, RunOut)
    def post(self, body: dict[str, Any]) -> Any:
        """Reconcile a period: a worker reads both systems, matches and records exceptions

        Answers at once with the queued run; follow its ``Location`` (or the
        ``reconciliation.exception`` webhooks) for the outcome.
        """
        if (body["date_to"] - body["date_from"]).days > 31:
            fail(422, "reconcile at most 31 days at once", fields={"date_to": ["at most 31 days after date_from"]})
        queued = reconciliation_jobs.ask(current(), body["date_from"].isoformat(), body["date_to"].isoformat(),
                                         f"api:{g.api_caller.username}")
        return run_object(queued), 202, {"Location": f"/v1/reports/reconciliation/runs/rr_{queued['run_id']}"}


@blp.route("/reconciliation/runs/<string:run_id>")
class RunOne(MethodView):
    @blp.response(200, RunOut)
    def get(self, run_id: str) -> dict[str, Any]:
        """One reconciliation run: its state, and its counts once done or its error once failed"""
        number = whole_number(run_id.removeprefix("rr_"))
        if number is None:
            fail(404, f"no reconciliation run {run_id!r}: ids look like rr_12")
        try:
            return run_object(reconciliation.describe(current(), number))
        except LookupError:
            fail(404, f"no reconciliation run {run_id!r}")
            raise


@blp.route("/reconciliation/results")
class Results(MethodView):
    @blp.arguments(ExceptionArgs, location="query")
    @blp.response(200, ExceptionList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Reconciliation results, open exceptions by default; newest first"""
        query = results_query().order_by(ReconciliationResult.id.desc())
        if args["state"] != "any":
            query = query.where(ReconciliationResult.state == args["state"])
        if args.get("category"):
            query = query.where(ReconciliationResult.category == args["category"])
        if args.get("date_from"):
            query = query.where(ReconciliationResult.business_date >= args["date_from"].isoformat())
        if args.get("date_to"):
            query = query.where(ReconciliationResult.business_date <= args["date_to"].isoformat())
        if args.get("starting_after"):
            query = query.where(ReconciliationResult.id < _number(args["starting_after"]))
        with current().store.session() as s:
            rows = [result_object(r, m, h) for r, m, h in s.execute(query.limit(args["limit"] + 1))]
        return page_of(rows, args["limit"])


@blp.route("/reconciliation/results/<string:result_id>")
class ResultOne(MethodView):
    @blp.response(200, ExceptionOut)
    def get(self, result_id: str) -> dict[str, Any]:
        """One reconciliation result"""
        with current().store.session() as s:
            row = s.execute(results_query().where(ReconciliationResult.id == _number(result_id))).first()
            if row is None:
                fail(404, f"no reconciliation result {result_id!r}")
            return result_object(*row)


@blp.route("/reconciliation/results/<string:result_id>/resolve")
class Resolve(MethodView):
    @blp.arguments(ResolveIn)
    @blp.response(200, ExceptionOut)
    def post(self, body: dict[str, Any], result_id: str) -> dict[str, Any]:
        """Resolve an exception with a note saying how"""
        try:
            reconciliation.resolve(current(), _number(result_id), body["note"], g.api_caller.actor)
        except LookupError as exc:
            fail(404, str(exc))
        except ValueError as exc:
            fail(422, str(exc), fields={"note": [str(exc)]})
        return ResultOne().get(result_id)


def _export(args: dict[str, Any], kind: str) -> Response:
    start, end = args["date_from"].isoformat(), args["date_to"].isoformat()
    store = current().store
    if kind == "xero":
        body, mimetype, name = exports.xero_csv(store, start, end), "text/csv", f"tillbridge-xero-{start}-{end}.csv"
    else:
        body, mimetype, name = exports.quickbooks_iif(store, start, end), "text/plain", f"tillbridge-{start}-{end}.iif"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@blp.route("/exports/xero")
class XeroExport(MethodView):
    @blp.arguments(PeriodArgs, location="query")
    @blp.doc(responses={"200": {"description": "Xero manual-journal CSV",
                                "content": {"text/csv": {"schema": {"type": "string"}}}}})
    def get(self, args: dict[str, Any]) -> Response:
        """Xero manual journals (CSV): one balanced journal per day × channel × location"""
        return _export(args, "xero")


@blp.route("/exports/quickbooks")
class QuickBooksExport(MethodView):
    @blp.arguments(PeriodArgs, location="query")
    @blp.doc(responses={"200": {"description": "QuickBooks Desktop IIF",
                                "content": {"text/plain": {"schema": {"type": "string"}}}}})
    def get(self, args: dict[str, Any]) -> Response:
        """QuickBooks Desktop IIF general journals: one balanced journal per day × channel × location"""
        return _export(args, "quickbooks")


def default_period() -> tuple[str, str]:
    today = date.today()
    return (today - timedelta(days=7)).isoformat(), today.isoformat()
