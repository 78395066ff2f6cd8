"""The customer page: find a person by email, phone or either system's id, and see them as one
across the till and the website (the same 360° record GET /v1/customers/{id} answers)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from service.api.v1.customers import customer_360
from service.api.v1.errors import ApiError
from service.flows.context import current
from service.kernel.numbers import whole_number
from service.store import bindings
from service.web.auth import require_role

bp = Blueprint("customers_page", __name__)
ROLES = ("integrator", "risk", "operator", "accounting")


@bp.get("/customers")
@require_role(*ROLES)
def index() -> Any:

    query = (request.args.get("q") or "").strip()
    people: list[dict[str, Any]] = []
    error = ""
    if query:
        runtime = current()
        try:
            ids: list[int] = []
            if query.startswith("heartland:") and (number := whole_number(query[10:])) is not None:
                ids = [number]
            elif query.startswith("magento:"):
                bound = bindings.find(runtime.store, "customer", query if query.count(":") == 2
                                      else f"magento:default:{query[8:]}", "heartland")
                ids = [int(bound.external_id)] if bound else []
            elif "@" in query:
                ids = [int(c["id"]) for c in runtime.heartland.find_customers_by_email(query)]
            else:
                from service.api.v1.customers import _emails_with_phone

                ids = [int(c["id"]) for email in _emails_with_phone(query)
                       for c in runtime.heartland.find_customers_by_email(email)]
            people = [customer_360(i) for i in dict.fromkeys(ids)]
            if not people:
                error = f"No customer found for {query!r}."
        except ApiError as exc:
            error = exc.message
    return render_template("customers.html", query=query, people=people, error=error)
