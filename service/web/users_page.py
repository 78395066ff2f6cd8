"""Users: admins add people, change their roles, disable or enable them, set or reset passwords and
sign them out everywhere. Every action goes through service.store.users, which records who did it
and refuses to leave the service without an active admin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from service.flows.context import current
from service.store import user_events, users
from service.store.users import ROLES, Account, UserError
from service.web.auth import WebUser, actor, current_session_digest, require_role

bp = Blueprint("users", __name__, url_prefix="/users")

EVENTS_SHOWN = 50



def _account(user_id: int) -> Account:
    account = users.get_account(current().store, user_id)
    if account is None:
        abort(404, description=f"There is no user {user_id}: it may have been removed. Go back to the Users page.")
    return account


def _is_me(account: Account) -> bool:
    return account.id == cast(WebUser, current_user).id


def _page(revealed: dict[str, str] | None = None, status: int = 200) -> Any:
    store = current().store
    html = render_template("users.html", users=users.summaries(store), roles=ROLES,
                           events=user_events.recent(store, EVENTS_SHOWN), revealed=revealed,
                           me=cast(WebUser, current_user).id)
    # A page that shows a password once must not be kept by the browser or a proxy.
    return html, status, {"Cache-Control": "no-store"}


def _act(action: Callable[[], str]) -> Any:
    """Run an action; its message, or what went wrong, shows on the users page."""
    try:
        flash(action(), "ok")
    except UserError as exc:
        flash(f"Nothing changed: {exc}.", "error")
    return redirect(url_for("users.index"))


@bp.get("")
@require_role("admin")
def index() -> Any:
    return _page()


@bp.post("")
@require_role("admin")
def create() -> Any:
    username = request.form.get("username", "")
    role = request.form.get("role", "")
    typed = request.form.get("password", "")
    password = typed or users.generate_password()
    try:
        account = users.create_user(current().store, username, password, role, actor=actor())
    except UserError as exc:
        flash(f"Nothing changed: {exc}.", "error")
        return _page(status=400)
    flash(f"User {account.username} added with role {account.role}.", "ok")
    if typed:
        return redirect(url_for("users.index"))
    return _page(revealed={"username": account.username, "password": password})


@bp.post("/<int:user_id>/role")
@require_role("admin")
def change_role(user_id: int) -> Any:
    account = _account(user_id)
    role = request.form.get("role", "")

    def change() -> str:
        users.set_role(current().store, account.username, role, actor=actor())
        return f"{account.username} is now {role}."

    return _act(change)


@bp.post("/<int:user_id>/disable")
@require_role("admin")
def disable(user_id: int) -> Any:
    account = _account(user_id)

    def change() -> str:
        ended = users.set_disabled(current().store, account.username, True, actor=actor())
        return f"{account.username} is disabled: cannot sign in, API tokens refused, {ended} session(s) ended."

    return _act(change)


@bp.post("/<int:user_id>/enable")
@require_role("admin")
def enable(user_id: int) -> Any:
    account = _account(user_id)

    def change() -> str:
        users.set_disabled(current().store, account.username, False, actor=actor())
        return f"{account.username} is enabled and can sign in again."

    return _act(change)


@bp.post("/<int:user_id>/password")
@require_role("admin")
def reset_password(user_id: int) -> Any:
    account = _account(user_id)
    typed = request.form.get("password", "")
    password = typed or users.generate_password()
    keep = current_session_digest() if _is_me(account) else None  # changing your own: stay signed in here
    try:
        ended = users.set_password(current().store, account.username, password, actor=actor(), keep_session=keep)
    except UserError as exc:
        flash(f"Nothing changed: {exc}.", "error")
        return redirect(url_for("users.index"))
    flash(f"Password of {account.username} changed; {ended} session(s) ended.", "ok")
    if typed:
        return redirect(url_for("users.index"))
    return _page(revealed={"username": account.username, "password": password})


@bp.post("/<int:user_id>/sessions/end")
@require_role("admin")
def end_sessions(user_id: int) -> Any:
    account = _account(user_id)
    keep = current_session_digest() if _is_me(account) else None

    def change() -> str:
        ended = users.end_sessions(current().store, account.username, actor=actor(), keep_session=keep)
        return f"{account.username} signed out everywhere: {ended} session(s) ended."

    return _act(change)
