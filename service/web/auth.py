"""Who is asking: sign-in with a session for people, API tokens for machines, and role checks.

Pages and API routes use one decorator::

    @require_role("operator", "admin")
    def view(): ...

Admins pass every role check. A request that carries ``Authorization: Bearer <token>`` is
authenticated by that token alone (any session cookie beside it is ignored), and gets JSON
401/403 answers; a browser without a session is sent to the sign-in page.

A browser's sign-in is a row in the store (service.store.web_sessions) whose token the session
cookie carries: each request checks it, so signing out, a password change or disabling the user
ends it at once, and it ends by itself after ``SESSION_LIFETIME_HOURS``. Wrong passwords are
throttled per account and per address through Redis (service.web.throttle).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
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

from service.api.tokens import bearer_token
from service.flows.context import current
from service.store import web_sessions
from service.store.db import Store
from service.store.users import Account, account_for_token, authenticate
from service.web.throttle import LoginThrottle, Throttled

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)

F = TypeVar("F", bound=Callable[..., Any])
SESSION_TOKEN = "_tb_session"  # the key of the server-side session's token in the cookie


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
    store: Store = current().store
    return store


def wants_json() -> bool:
    """API callers get JSON errors; browsers get pages and redirects."""
    if bearer_token() is not None or request.path.startswith(("/api/", "/v1/")) or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _throttle() -> LoginThrottle:
    throttle: LoginThrottle = current_app.extensions["tillbridge.login_throttle"]
    return throttle


def _load_session_user(user_id: str) -> WebUser | None:
    if bearer_token() is not None:
        return None  # a token request is the token's user, whatever cookie comes with it
    try:
        account = web_sessions.account_for(_store(), int(user_id), str(session.get(SESSION_TOKEN, "")))
    except ValueError:
        account = None
    if account is None:
        session.clear()  # signed out elsewhere, expired, or the user was disabled: sign in again
        return None
    return WebUser(account)


def current_session_digest() -> str | None:
    """The stored digest of this browser's session, to spare it when its user changes their own password."""
    token = session.get(SESSION_TOKEN)
    return hashlib.sha256(str(token).encode()).hexdigest() if token else None


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


def _client_address() -> str:
    return request.remote_addr or "unknown"


def _wait_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


def _throttled(throttled: Throttled, username: str, next_path: str) -> Any:
    until = datetime.now(UTC) + timedelta(seconds=throttled.retry_after)
    message = (f"Sign-in is paused: {throttled.reason}. Try again in {_wait_words(throttled.retry_after)} "
               f"(after {until:%H:%M} UTC).")
    log.warning("sign-in throttled from %s: %s", _client_address(), throttled.reason)
    if wants_json():
        response = _json_error(429, "too_many_attempts", message)
    else:
        response = Response(render_template("login.html", error=message, username=username, next=next_path),
                            status=429)
    response.headers["Retry-After"] = str(throttled.retry_after)
    return response


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    next_path = _local_path(request.values.get("next"))
    if request.method == "POST":
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        address = _client_address()
        throttled = _throttle().check(username, address)
        if throttled is not None:
            return _throttled(throttled, username, next_path)
        account = authenticate(_store(), username, password)
        if account is None:
            _throttle().failed(username, address)
            log.info("sign-in refused from %s", address)  # no names: people type passwords there
            return render_template("login.html", error="Wrong username or password.", username=username,
                                   next=next_path), 401
        _throttle().succeeded(username)
        if not account.active:
            log.info("sign-in of disabled user %s refused from %s", account.username, address)
            return render_template("login.html", error="This account is disabled: ask an admin to enable it "
                                   "on the Users page.", username=username, next=next_path), 403
        session.clear()  # a fresh session (and CSRF token) after sign-in: no session fixation
        lifetime = timedelta(hours=float(current().settings.SESSION_LIFETIME_HOURS))
        session[SESSION_TOKEN] = web_sessions.start(_store(), account.id, lifetime, address)
        session.permanent = True  # the cookie expires with the stored session
        login_user(WebUser(account))
        log.info("%s signed in from %s", account.username, address)
        return redirect(next_path)
    if current_user.is_authenticated:
        return redirect(next_path)
    return render_template("login.html", error=None, username="", next=next_path)


@bp.post("/logout")
def logout() -> Any:
    web_sessions.end(_store(), str(session.get(SESSION_TOKEN, "")))
    logout_user()
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"))


def init_auth(app: Flask) -> None:
    runtime = app.extensions["tillbridge"]
    app.extensions["tillbridge.login_throttle"] = LoginThrottle(
        runtime.redis, secret=runtime.settings.SECRET_KEY,
        per_account=runtime.settings.LOGIN_FAILURES_PER_ACCOUNT,
        per_address=runtime.settings.LOGIN_FAILURES_PER_ADDRESS,
        window_minutes=runtime.settings.LOGIN_FAILURE_WINDOW_MINUTES)
    manager = LoginManager()
    manager.user_loader(_load_session_user)
    manager.request_loader(_load_token_user)
    manager.unauthorized_handler(_unauthorized)
    manager.session_protection = "basic"
    manager.init_app(app)
    app.register_blueprint(bp)
