"""Order reviews for the risk team: the queue of orders the anomaly scorer held in Magento, each with
its score, the reasons in words, the customer's history and the order lines; Approve (release the
hold, sync to Heartland), Reject (cancel in Magento), Escalate (stay on hold), one at a time or in
bulk. Decisions go through service.flows.checks.fraud with who made them, and become training labels.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for

from service.ai.anomaly.features import FEATURE_SPECS, shipping_address
from service.flows.checks import fraud
from service.flows.context import current
from service.store import items, reviews
from service.store.reviews import ReviewError, ReviewFilter
from service.store.tables import OrderReview
from service.web.auth import actor, require_role, wants_json
from service.web.paging import Page, page_number

bp = Blueprint("reviews_orders", __name__)

PAGE_SIZE = 50
ROLES = ("risk",)  # and admin, who passes every check
STATE_CHOICES = ("open", "queued", "escalated", "approved", "rejected", "all")
SORTS = ("newest", "score")
MAX_NOTE = 2000



def _score(raw: str | None) -> float | None:
    try:
        return float(raw) if raw not in (None, "") else None
    except ValueError:
        return None


def _filter_from(values: Any) -> ReviewFilter:
    state = values.get("state") or "open"
    sort = values.get("sort") or "newest"
    return ReviewFilter(
        state=None if state == "all" else (state if state in STATE_CHOICES else "open"),
        min_score=_score(values.get("min_score")),
        max_score=_score(values.get("max_score")),
        text=(values.get("q") or "").strip() or None,
        sort=sort if sort in SORTS else "newest",
    )


def review_dict(review: OrderReview) -> dict[str, Any]:
    return {
        "id": review.id, "item_id": review.item_id, "order_key": review.order_key,
        "magento_entity_id": review.entity_id, "order_number": review.increment_id, "email": review.email,
        "grand_total": review.grand_total, "currency": review.currency, "score": review.score,
        "threshold": review.threshold, "explanation": review.explanation, "model_version": review.model_version,
        "state": review.state, "decided_by": review.decided_by,
        "decided_at": review.decided_at.isoformat() if review.decided_at else None, "note": review.note,
        "created_at": review.created_at.isoformat() if review.created_at else None,
    }


@bp.get("/reviews/orders")
@require_role(*ROLES)
def index() -> Any:
    runtime = current()
    f = _filter_from(request.args)
    number = page_number(request.args.get("page"))
    rows = reviews.query(runtime.store, f, limit=PAGE_SIZE + 1, offset=(number - 1) * PAGE_SIZE)
    page = Page(rows=rows[:PAGE_SIZE], number=number, has_next=len(rows) > PAGE_SIZE)
    if wants_json():
        return jsonify({"reviews": [review_dict(r) for r in page.rows], "page": page.number,
                        "has_next": page.has_next})
    filters = {"state": request.args.get("state") or "open", "min_score": request.args.get("min_score", ""),
               "max_score": request.args.get("max_score", ""), "q": f.text or "", "sort": f.sort}
    return render_template("reviews/orders.html", page=page, filters=filters, states=STATE_CHOICES,
                           counts=reviews.counts_by_state(runtime.store))


def order_lines(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The order's purchased lines as Magento sent them (child lines of configurables left out)."""
    raw = payload.get("data") or {}
    return [{"sku": line.get("sku"), "name": line.get("name") or "", "qty": line.get("qty_ordered"),
             "price": line.get("price"), "row_total": line.get("row_total")}
            for line in raw.get("items") or [] if not line.get("parent_item_id")]


def addresses(payload: dict[str, Any]) -> dict[str, Any]:
    raw = payload.get("data") or {}

    def text(address: Any) -> str:
        if not address:
            return "—"
        street = address.get("street") or []
        street = ", ".join(street) if isinstance(street, list) else str(street)
        return ", ".join(p for p in (street, address.get("city"), address.get("postcode"),
                                     address.get("country_id")) if p)

    payment = raw.get("payment") or {}
    return {"billing": text(raw.get("billing_address")), "shipping": text(shipping_address(raw)),
            "payment": payment.get("method") or "—", "card_type": payment.get("cc_type") or "",
            "placed_at": raw.get("created_at") or "", "guest": bool(raw.get("customer_is_guest"))}


def feature_rows(review: OrderReview) -> list[dict[str, Any]]:
    rows = []
    for name, value in (review.features or {}).items():
        spec = FEATURE_SPECS.get(name)
        rows.append({"name": name, "label": spec.label if spec else name, "value": value,
                     "kind": spec.kind if spec else "number"})
    return rows


@bp.get("/reviews/orders/<int:review_id>")
@require_role(*ROLES)
def show(review_id: int) -> Any:
    runtime = current()
    review = reviews.get(runtime.store, review_id)
    if review is None:
        abort(404, description=f"There is no order review {review_id}.")
    item = items.get(runtime.store, review.item_id)
    payload = item.payload if item is not None else {}
    history = reviews.customer_orders(runtime.store, review.email, exclude_key=review.order_key)
    if wants_json():
        return jsonify({**review_dict(review), "features": review.features, "lines": order_lines(payload),
                        "history": [{"order_number": h.increment_id, "total": h.total, "currency": h.currency,
                                     "placed_at": h.created_at.isoformat(), "score": h.score} for h in history]})
    decisions = [r for r in reviews.query(runtime.store, ReviewFilter(state=None, text=review.email), limit=100)
                 if r.id != review.id and r.email == review.email]
    return render_template("reviews/orders_detail.html", review=review, item=item, lines=order_lines(payload),
                           where=addresses(payload), history=history, earlier_reviews=decisions,
                           features=feature_rows(review))


def _note() -> str:
    body = request.get_json(silent=True) if request.is_json else None
    return str((body or request.form).get("note", "") or "").strip()[:MAX_NOTE]


def _back() -> Any:
    target = request.form.get("next") or ""
    if target.startswith("/reviews/orders") and not target.startswith("//"):
        return redirect(target)
    return redirect(url_for("reviews_orders.index"))


@bp.post("/reviews/orders/<int:review_id>/<any(approve, reject, escalate):decision>")
@require_role(*ROLES)
def decide(review_id: int, decision: str) -> Any:
    try:
        result = fraud.decide(current(), review_id, decision, actor=actor(), note=_note())
    except ReviewError as exc:
        if wants_json():
            response = jsonify({"error": "not_done", "message": str(exc)})
            response.status_code = 409
            return response
        flash(str(exc), "error")
        return _back()
    if wants_json():
        return jsonify(review_dict(result.review))
    flash(result.message, "ok")
    return _back()


@bp.post("/reviews/orders/bulk")
@require_role(*ROLES)
def bulk() -> Any:
    body = request.get_json(silent=True) if request.is_json else None
    source: Any = body or request.form
    decision = str(source.get("decision", ""))
    raw_ids = source.get("review_ids", []) if body else request.form.getlist("review_ids")
    try:
        ids = sorted({int(i) for i in raw_ids})
    except (TypeError, ValueError):
        abort(400, description="review_ids must be review numbers")
    if decision not in fraud.ACTIONS or not ids:
        message = ("Select one or more orders, then choose Approve, Reject or Escalate."
                   if not ids else f"Unknown decision {decision!r}: use approve, reject or escalate.")
        if wants_json():
            response = jsonify({"error": "not_done", "message": message})
            response.status_code = 400
            return response
        flash(message, "error")
        return _back()
    done: list[int] = []
    failed: list[str] = []
    note = _note()
    for review_id in ids:
        try:
            fraud.decide(current(), review_id, decision, actor=actor(), note=note)
            done.append(review_id)
        except ReviewError as exc:
            failed.append(str(exc))
    if wants_json():
        return jsonify({"decision": decision, "done": done, "failed": failed})
    past = fraud.ACTION_PAST[decision]
    if done:
        flash(f"{len(done)} order{'s' if len(done) != 1 else ''} {past}.", "ok")
    for message in failed:
        flash(message, "error")
    return _back()
