"""Customer reviews: pairs that may be one customer, side by side; Merge, Not the same or Skip.

Integrators decide (they own how records map between the systems); operators may look. Admins pass
every check. Decisions are recorded with who and when, and decided pairs download as training labels
for ``tillbridge models train dedup --pairs``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import requests
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from service.ai.dedup.model import ModelError
from service.ai.dedup.normalise import FIELDS, Profile, normalise
from service.ai.dedup.resolver import load_rules, merge
from service.flows.checks import duplicates
from service.flows.context import current
from service.kernel.errors import SyncError
from service.store import customer_reviews
from service.store.customer_reviews import ReviewError
from service.store.tables import CustomerReview
from service.web.auth import actor, require_role, wants_json
from service.web.paging import Page, page_number

bp = Blueprint("reviews_customers", __name__)

PAGE_SIZE = 20
VIEW_ROLES = ("integrator", "operator")
ACT_ROLES = ("integrator",)  # and admin, who passes every check
SHOW = {
    "pending": ("pending",),
    "skipped": ("skipped",),
    "decided": ("merged", "not_same"),
}
LABELS = {
    "first_name": "First name", "middle_name": "Middle name", "last_name": "Last name", "email": "Email",
    "phone": "Phone", "street": "Street", "city": "City", "region": "Region", "postcode": "Postcode",
    "country": "Country", "dob": "Date of birth",
}
# The profile attribute each canonical field is compared on (normalised: case, nicknames aside).
PROFILE_FIELD = {"first_name": "first", "middle_name": "middle", "last_name": "last"}
DECISION_WORDS = {"merged": "Merged", "not_same": "Not the same", "skipped": "Skipped"}


@dataclass
class FieldRow:
    name: str
    label: str
    left: str
    right: str
    kept: str
    status: str  # same | differs | one_side | empty



def compare_fields(review: CustomerReview) -> list[FieldRow]:
    """The pair field by field: both values, the value a merge keeps, and whether they differ."""
    rules = load_rules(current().rules)
    left, right = review.left or {}, review.right or {}
    pa: Profile = normalise(left, rules.vocabulary)
    pb: Profile = normalise(right, rules.vocabulary)
    kept = merge({**right, "source": "heartland"}, {**left, "source": "magento"}, rules.merge_policy)
    rows = []
    for name in FIELDS:
        a, b = str(left.get(name) or ""), str(right.get(name) or "")
        if not a and not b:
            status = "empty"
        elif not a or not b:
            status = "one_side"
        else:
            attr = PROFILE_FIELD.get(name, name)
            status = "same" if getattr(pa, attr) == getattr(pb, attr) else "differs"
        rows.append(FieldRow(name, LABELS[name], a, b, kept.get(name, ""), status))
    return rows


def review_dict(review: CustomerReview) -> dict[str, Any]:
    return {
        "id": review.id,
        "state": review.state,
        "score": review.score,
        "drivers": review.drivers,
        "origin": review.origin,
        "left": {"system": review.left_system, "key": review.left_key, "id": review.left_id, "record": review.left},
        "right": {"system": review.right_system, "id": review.right_id, "record": review.right},
        "linked_id": review.linked_id,
        "linked_created": review.linked_created,
        "model_version": review.model_version,
        "created_at": review.created_at.isoformat() if review.created_at else None,
        "decided_by": review.decided_by,
        "decided_at": review.decided_at.isoformat() if review.decided_at else None,
        "note": review.note,
    }


@bp.get("/reviews/customers")
@require_role(*VIEW_ROLES)
def index() -> Any:
    store = current().store
    show = request.args.get("show", "pending")
    if show not in SHOW:
        show = "pending"
    number = page_number(request.args.get("page"))
    rows = customer_reviews.search(store, SHOW[show], limit=PAGE_SIZE + 1, offset=(number - 1) * PAGE_SIZE)
    page = Page(rows=rows[:PAGE_SIZE], number=number, has_next=len(rows) > PAGE_SIZE)
    if wants_json():
        return jsonify({"reviews": [review_dict(r) for r in page.rows], "page": page.number, "has_next": page.has_next,
                        "counts": customer_reviews.counts(store)})
    return render_template("reviews/customers.html", page=page, show=show, counts=customer_reviews.counts(store),
                           pairs=[(r, compare_fields(r)) for r in page.rows], words=DECISION_WORDS)


@bp.get("/reviews/customers/<int:review_id>")
@require_role(*VIEW_ROLES)
def show(review_id: int) -> Any:
    review = customer_reviews.get(current().store, review_id)
    if review is None:
        abort(404, description=f"There is no customer review {review_id}.")
    if wants_json():
        return jsonify({**review_dict(review), "fields": [vars(f) for f in compare_fields(review)]})
    return render_template("reviews/customers_pair.html", review=review, fields=compare_fields(review),
                           words=DECISION_WORDS)


def _done(review_id: int, message: str, result: dict[str, Any]) -> Any:
    if wants_json():
        return jsonify({"id": review_id, **result})
    flash(message, "ok")
    return redirect(_back())


def _refused(review_id: int, message: str, status: int = 409) -> Any:
    if wants_json():
        response = jsonify({"error": "not_done", "message": message})
        response.status_code = status
        return response
    flash(f"Customer review #{review_id}: {message}", "error")
    return redirect(_back())


def _back() -> str:
    """Where a form goes after acting: the list it came from (its filters kept), never another site."""
    target = request.form.get("next") or ""
    home = url_for("reviews_customers.index")
    return target if target.startswith(home) and "//" not in target else home


def _note() -> str:
    body = request.get_json(silent=True) if request.is_json else None
    return str((body or request.form).get("note", "") or "")[:2000]


@bp.post("/reviews/customers/<int:review_id>/merge")
@require_role(*ACT_ROLES)
def merge_pair(review_id: int) -> Any:
    try:
        result = duplicates.merge_pair(current(), review_id, actor=actor(), note=_note())
    except (ReviewError, ModelError) as exc:
        return _refused(review_id, str(exc))
    except (SyncError, requests.RequestException) as exc:
        return _refused(review_id, f"Heartland did not take the merge ({exc}); nothing was recorded, try again",
                        status=502)
    changed = ", ".join(f"{k} → {v}" for k, v in result.heartland_changes.items()) or "no field changes"
    return _done(review_id,
                 f"Merged: the Magento customer is linked to Heartland customer {result.survivor_id} "
                 f"({changed}).",
                 {"state": "merged", "survivor_id": result.survivor_id, "heartland_changes": result.heartland_changes,
                  "merged": result.merged})


def _decide(review_id: int, decision: str, message: str) -> Any:
    try:
        customer_reviews.decide(current().store, review_id, decision, actor=actor(), note=_note())
    except ReviewError as exc:
        return _refused(review_id, str(exc))
    return _done(review_id, message, {"state": decision})


@bp.post("/reviews/customers/<int:review_id>/not-same")
@require_role(*ACT_ROLES)
def not_same(review_id: int) -> Any:
    return _decide(review_id, "not_same", f"Customer review #{review_id}: recorded as not the same customer.")


@bp.post("/reviews/customers/<int:review_id>/skip")
@require_role(*ACT_ROLES)
def skip(review_id: int) -> Any:
    return _decide(review_id, "skipped", f"Customer review #{review_id} skipped; it stays under “Skipped”.")


@bp.get("/reviews/customers/labels.csv")
@require_role(*VIEW_ROLES)
def labels() -> Any:
    out = io.StringIO()
    customer_reviews.write_labels(current().store, out)
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=customer-review-labels.csv"})
