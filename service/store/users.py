"""Users of the web pages and the API, with their roles and API tokens.

Passwords are kept as werkzeug hashes; API tokens as SHA-256 digests only, so the token itself
is shown once, when it is created, and never again.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from service.store.db import Store
from service.store.tables import ApiToken, User, utcnow

ROLES = ("integrator", "risk", "operator", "admin")
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


@dataclass(frozen=True)
class TokenInfo:
    id: int
    username: str
    name: str
    created_at: datetime
    last_used_at: datetime | None


def _account(user: User) -> Account:
    return Account(id=user.id, username=user.username, role=user.role)


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


def create_user(store: Store, username: str, password: str, role: str) -> Account:
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
        return _account(user)


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
        return _account(user)


def set_password(store: Store, username: str, password: str) -> None:
    _check_password(password)
    with store.session() as s:
        changed = s.execute(update(User).where(User.username == username)
                            .values(password_hash=generate_password_hash(password)))
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            raise UserError(f"no user named {username!r}: create it with `tillbridge users create`")


def authenticate(store: Store, username: str, password: str) -> Account | None:
    """The account if the password is right, else None (the same work either way)."""
    with store.session() as s:
        user = s.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return _account(user) if check_password_hash(user.password_hash, password) else None


def get_account(store: Store, user_id: int) -> Account | None:
    with store.session() as s:
        user = s.get(User, user_id)
        return _account(user) if user is not None else None


def list_users(store: Store) -> list[Account]:
    with store.session() as s:
        return [_account(u) for u in s.scalars(select(User).order_by(User.username))]


def count_users(store: Store) -> int:
    from sqlalchemy import func

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
        # Recording every use would write on every API call; once a minute is enough to see it is alive.
        if api_token.last_used_at is None or (now - api_token.last_used_at).total_seconds() > 60:
            api_token.last_used_at = now
        return _account(user)
