"""A per-session token that every form posts back, so other sites cannot act with a user's cookie.

Checked on every POST/PUT/PATCH/DELETE that could ride on a session: the sign-in form, and any
request from a browser that has a session. Requests authenticated by ``Authorization: Bearer``
carry no ambient credentials and need no token; neither do signed webhooks, which have no session.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import Flask, abort, request, session
from markupsafe import Markup

from service.api.tokens import bearer_token

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def csrf_token() -> str:
    token = session.get(FIELD)
    if not token:
        token = secrets.token_urlsafe(32)
        session[FIELD] = token
    return str(token)


def csrf_field() -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, csrf_token())


def _needs_check() -> bool:
    if request.method not in UNSAFE_METHODS or bearer_token() is not None:
        return False
    return request.endpoint == "auth.login" or "_user_id" in session


def _check() -> None:
    if not _needs_check():
        return
    expected = session.get(FIELD)
    sent = request.form.get(FIELD) or request.headers.get(HEADER) or ""
    if not expected or not hmac.compare_digest(str(expected), sent):
        abort(400, description="This form has expired or did not come from Tillbridge. Reload the page "
                               "and submit it again.")


def init_csrf(app: Flask) -> None:
    app.before_request(_check)

    @app.context_processor
    def _helpers() -> dict[str, Any]:
        return {"csrf_field": csrf_field, "csrf_token": csrf_token}
