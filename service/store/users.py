"""Users of the web pages and the API, with their roles and API tokens.

Passwords are kept as werkzeug hashes; API tokens as SHA-256 digests only, so the token itself
is shown once, when it is created, and never again.

A disabled user cannot sign in and their API tokens stop working. A password change or disabling
ends the user's web sessions in the same transaction, and every change is recorded with who made
it (service.store.user_events). There is always at least one active admin: the last one can be
neither disabled nor given another role.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from service.store.db import Store
from service.store.tables import ApiToken, User, WebSession, utcnow
from service.store.user_events import record

ROLES = ("integrator", "risk", "operator", "accounting", "admin")
MIN_PASSWORD_LENGTH = 8
TOKEN_PREFIX = "tb_"
# A stored hash that no password matches, so unknown users cost as much to check as known ones.
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))


class UserError(Exception):
    """The user or token action cannot be done; the message says what to do instead."""


@dataclass(frozen=True)
class Account:
    """What the rest of the service needs to know about a user (never the password hash)."""

    id: int
    username: str
    role: str
    active: bool = True


@dataclass(frozen=True)
class UserSummary:
    """A user as the users page lists them: the account, and how it is being used."""

    account: Account
    created_at: datetime
    disabled_at: datetime | None
    sessions: int  # signed-in browsers now
    last_seen_at: datetime | None


@dataclass(frozen=True)
class TokenInfo:
    id: int
    username: str
    name: str
    created_at: datetime
    last_used_at: datetime | None


def account_of(user: User) -> Account:
    return Account(id=user.id, username=user.username, role=user.role, active=user.disabled_at is None)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters")


def _check_username(username: str) -> str:
    name = username.strip()
    if not name or len(name) > 64 or any(c.isspace() for c in name):
        raise UserError(f"username {username!r} is not usable: 1–64 characters, no spaces")
    return name


def create_user(store: Store, username: str, password: str, role: str, *, actor: str = "cli") -> Account:
    """Add a user; fails if the name is taken."""
    name = _check_username(username)
    _check_role(role)
    _check_password(password)
    with store.session() as s:
        if s.scalar(select(User.id).where(User.username == name)) is not None:
            raise UserError(f"user {name!r} already exists: pick another name, or change its password")
        user = User(username=name, password_hash=generate_password_hash(password), role=role)
        s.add(user)
        s.flush()
        record(s, actor=actor, action="created", username=name, detail=f"role {role}")
        return account_of(user)


def generate_password() -> str:
    """A password to hand to a person once: 16 URL-safe characters (96 random bits)."""
    return secrets.token_urlsafe(12)


def ensure_user(store: Store, username: str, password: str, role: str) -> Account:
    """The user with this name, password and role: created, or brought up to date if it exists."""
    name = _check_username(username)
    _check_role(role)
    _check_password(password)
    with store.session() as s:
        user = s.scalar(select(User).where(User.username == name))
        if user is None:
            user = User(username=name, password_hash=generate_password_hash(password), role=role)
            s.add(user)
            s.flush()
        else:
            user.role = role
            if not check_password_hash(user.password_hash, password):
                user.password_hash = generate_password_hash(password)
        return account_of(user)


def _user_named(s: Session, username: str) -> User:
    user = s.scalar(select(User).where(User.username == username))
    if user is None:
        raise UserError(f"no user named {username!r}: create it with `tillbridge users create` or on /users")
    return user


def _end_sessions(s: Session, user: User, keep_token_hash: str | None = None) -> int:
    query = delete(WebSession).where(WebSession.user_id == user.id)
    if keep_token_hash:
        query = query.where(WebSession.token_hash != keep_token_hash)
    return int(s.execute(query).rowcount or 0)  # type: ignore[attr-defined]


def _keep_an_admin(s: Session, user: User, doing: str) -> None:
    """Refuse a change that would leave no active admin (the rows are locked on PostgreSQL, so two
    admins demoting each other at once cannot both succeed)."""
    if user.role != "admin" or user.disabled_at is not None:
        return
    admins = s.scalars(select(User.id).where(User.role == "admin", User.disabled_at.is_(None))
                       .with_for_update()).all()
    if [i for i in admins if i != user.id]:
        return
    raise UserError(f"{user.username} is the last active admin, so it cannot be {doing}: "
                    "make another user admin first")


def set_password(store: Store, username: str, password: str, *, actor: str = "cli",
                 keep_session: str | None = None) -> int:
    """Change a user's password and end their web sessions (all but ``keep_session``, the token digest of
    the browser making the change, when people change their own). Returns how many sessions ended."""
    _check_password(password)
    with store.session() as s:
        user = _user_named(s, username)
        user.password_hash = generate_password_hash(password)
        ended = _end_sessions(s, user, keep_session)
        record(s, actor=actor, action="password changed", username=user.username,
               detail=f"{ended} session(s) ended")
        return ended


def set_role(store: Store, username: str, role: str, *, actor: str = "cli") -> None:
    _check_role(role)
    with store.session() as s:
        user = _user_named(s, username)
        if user.role == role:
            return
        if role != "admin":
            _keep_an_admin(s, user, f"made {role}")
        record(s, actor=actor, action="role changed", username=user.username, detail=f"{user.role} → {role}")
        user.role = role


def set_disabled(store: Store, username: str, disabled: bool, *, actor: str = "cli") -> int:
    """Disable a user (no sign-in, no API tokens, their sessions end at once) or enable them again.
    Returns how many sessions ended."""
    with store.session() as s:
        user = _user_named(s, username)
        if (user.disabled_at is not None) == disabled:
            return 0
        if not disabled:
            user.disabled_at = None
            record(s, actor=actor, action="enabled", username=user.username)
            return 0
        _keep_an_admin(s, user, "disabled")
        user.disabled_at = utcnow()
        ended = _end_sessions(s, user)
        record(s, actor=actor, action="disabled", username=user.username, detail=f"{ended} session(s) ended")
        return ended


def end_sessions(store: Store, username: str, *, actor: str = "cli", keep_session: str | None = None) -> int:
    """Sign a user out everywhere (but ``keep_session``); returns how many sessions ended."""
    with store.session() as s:
        user = _user_named(s, username)
        ended = _end_sessions(s, user, keep_session)
        record(s, actor=actor, action="signed out everywhere", username=user.username,
               detail=f"{ended} session(s) ended")
        return ended


def authenticate(store: Store, username: str, password: str) -> Account | None:
    """The account if the password is right, else None (the same work either way)."""
    with store.session() as s:
        user = s.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return account_of(user) if check_password_hash(user.password_hash, password) else None


def get_account(store: Store, user_id: int) -> Account | None:
    with store.session() as s:
        user = s.get(User, user_id)
        return account_of(user) if user is not None else None


def list_users(store: Store) -> list[Account]:
    with store.session() as s:
        return [account_of(u) for u in s.scalars(select(User).order_by(User.username))]


def summaries(store: Store) -> list[UserSummary]:
    """Every user by name, with their live sessions and when one was last used."""
    now = utcnow()
    with store.session() as s:
        usage = {user_id: (count, last) for user_id, count, last in s.execute(
            select(WebSession.user_id, func.count(), func.max(WebSession.last_seen_at))
            .where(WebSession.expires_at > now).group_by(WebSession.user_id))}
        summaries = []
        for user in s.scalars(select(User).order_by(User.username)):
            count, last = usage.get(user.id, (0, None))
            summaries.append(UserSummary(account=account_of(user), created_at=user.created_at,
                                         disabled_at=user.disabled_at, sessions=int(count), last_seen_at=_aware(last)))
        return summaries


def _aware(value: datetime | None) -> datetime | None:
    """max() comes back as the column's raw value on SQLite: naive, in UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def count_users(store: Store) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(User)) or 0)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(store: Store, username: str, name: str) -> tuple[TokenInfo, str]:
    """A new API token for the user; returns its record and the token (shown once, never stored)."""
    label = name.strip()
    if not label or len(label) > 64:
        raise UserError("give the token a name of 1–64 characters that says what uses it")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.session() as s:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise UserError(f"no user named {username!r}: create it with `tillbridge users create`")
        row = ApiToken(user_id=user.id, name=label, token_hash=_digest(token))
        s.add(row)
        s.flush()
        return TokenInfo(row.id, user.username, row.name, row.created_at, None), token


def list_tokens(store: Store, username: str | None = None) -> list[TokenInfo]:
    with store.session() as s:
        query = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
        if username:
            query = query.where(User.username == username)
        return [TokenInfo(t.id, uname, t.name, t.created_at, t.last_used_at) for t, uname in s.execute(query)]


def revoke_token(store: Store, token_id: int) -> None:
    with store.session() as s:
        removed = s.execute(delete(ApiToken).where(ApiToken.id == token_id))
        if removed.rowcount != 1:  # type: ignore[attr-defined]
            raise UserError(f"no API token with id {token_id}: see `tillbridge tokens list`")


def account_for_token(store: Store, token: str) -> Account | None:
    """The account an API token belongs to, or None for an unknown or revoked token."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    now = utcnow()
    with store.session() as s:
        row = s.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                        .where(ApiToken.token_hash == _digest(token))).first()
        if row is None:
            return None
        api_token, user = row
        if user.disabled_at is not None:
            return None
        # Recording every use would write on every API call; once a minute is enough to see it is alive.
        if api_token.last_used_at is None or (now - api_token.last_used_at).total_seconds() > 60:
            api_token.last_used_at = now
        return account_of(user)
