"""Who is asking: sign-in with a session for people, API tokens for machines, and role checks.

Pages and API routes use one decorator::

    @require_role("operator", "admin")
    def view(): ...

Admins pass every role check. A request that carries ``Authorization: Bearer <token>`` is
authenticated by that token alone (any session cookie beside it is ignored), and gets JSON
401/403 answers; a browser without a session is sent to the sign-in page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from service.store.db import Store
from service.store.users import Account, account_for_token, authenticate, get_account

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)

F = TypeVar("F", bound=Callable[..., Any])


class WebUser(UserMixin):
    """The signed-in account as Flask-Login sees it."""

    def __init__(self, account: Account, via_token: bool = False) -> None:
        self.id = account.id
        self.username = account.username
        self.role = account.role
        self.via_token = via_token

    def has_role(self, *roles: str) -> bool:
        return self.role == "admin" or self.role in roles


def _store() -> Store:
    store: Store = current_app.extensions["tillbridge"].store
    return store


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer …`` header, if the request has one."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


def wants_json() -> bool:
    """API callers get JSON errors; browsers get pages and redirects."""
    if bearer_token() is not None or request.path.startswith(("/api/", "/v1/")) or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _load_session_user(user_id: str) -> WebUser | None:
    if bearer_token() is not None:
        return None  # a token request is the token's user, whatever cookie comes with it
    try:
        account = get_account(_store(), int(user_id))
    except ValueError:
        return None
    return WebUser(account) if account is not None else None


def _load_token_user(_request: Any) -> WebUser | None:
    token = bearer_token()
    if not token:
        return None
    account = account_for_token(_store(), token)
    return WebUser(account, via_token=True) if account is not None else None


def _unauthorized() -> Any:
    if wants_json():
        message = ("the API token is unknown or revoked: create one with `tillbridge tokens create`"
                   if bearer_token() is not None else
                   "sign in, or send an API token as `Authorization: Bearer <token>`")
        return _json_error(401, "unauthorized", message)
    return redirect(url_for("auth.login", next=_local_path(request.full_path)))


def _json_error(status: int, error: str, message: str) -> Response:
    response = jsonify({"error": error, "message": message})
    response.status_code = status
    return response


def _forbidden(roles: tuple[str, ...]) -> Any:
    user = cast(WebUser, current_user)
    message = f"{user.username} ({user.role}) may not do this: it needs the role {' or '.join(roles)}"
    if wants_json():
        return _json_error(403, "forbidden", message)
    return render_template("error.html", title="Not allowed", message=message), 403


def require_role(*roles: str) -> Callable[[F], F]:
    """Only signed-in users (or API tokens) with one of ``roles`` get through; admins always do.

    With no roles given, any signed-in user does.
    """

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return _unauthorized()
            if roles and not cast(WebUser, current_user).has_role(*roles):
                return _forbidden(roles)
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


def actor() -> str:
    """How an action is recorded: the username, marked when it came through an API token."""
    user = cast(WebUser, current_user)
    return f"api:{user.username}" if user.via_token else user.username


def _local_path(target: str | None) -> str:
    """Only same-site paths are followed after sign-in, so the login page cannot bounce users elsewhere."""
    if not target:
        return url_for("dashboard.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target[1:2] in ("/", "\\"):
        return url_for("dashboard.index")
    return target.rstrip("?") or "/"


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    next_path = _local_path(request.values.get("next"))
    if request.method == "POST":
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        account = authenticate(_store(), username, password)
        if account is None:
            log.info("sign-in refused from %s", request.remote_addr)  # no names: people type passwords there
            return render_template("login.html", error="Wrong username or password.", username=username,
                                   next=next_path), 401
        session.clear()  # a fresh session (and CSRF token) after sign-in: no session fixation
        login_user(WebUser(account))
        log.info("%s signed in from %s", account.username, request.remote_addr)
        return redirect(next_path)
    if current_user.is_authenticated:
        return redirect(next_path)
    return render_template("login.html", error=None, username="", next=next_path)


@bp.post("/logout")
def logout() -> Any:
    logout_user()
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"))


def init_auth(app: Flask) -> None:
    manager = LoginManager()
    manager.user_loader(_load_session_user)
    manager.request_loader(_load_token_user)
    manager.unauthorized_handler(_unauthorized)
    manager.session_protection = "basic"
    manager.init_app(app)
    app.register_blueprint(bp)
