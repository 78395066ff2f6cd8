"""Signed-in browsers, kept server-side so that one can be ended at once.

The session cookie carries a random token; only its SHA-256 is stored, with the user and an expiry.
A request is signed in while its token's row exists, has not expired and its user is not disabled.
Signing out deletes the row; a password change or disabling a user deletes all of that user's rows
(service.store.users does that in the same transaction as the change).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select

from service.store.db import Store
from service.store.tables import User, WebSession, utcnow
from service.store.users import Account, account_of

# Writing the last-seen time on every page view would add a write to every request; once a minute shows
# well enough on the users page whether a session is in use.
LAST_SEEN_EVERY = timedelta(minutes=1)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(store: Store, user_id: int, lifetime: timedelta, address: str = "") -> str:
    """A new session for the user; returns the token for the cookie (only its digest is stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with store.session() as s:
        s.execute(delete(WebSession).where(WebSession.expires_at <= now))  # tidy as we go: no sweeper needed
        s.add(WebSession(user_id=user_id, token_hash=digest(token), created_at=now, expires_at=now + lifetime,
                         last_seen_at=now, address=address[:64]))
    return token


def account_for(store: Store, user_id: int, token: str) -> Account | None:
    """The account a session cookie signs in, or None when the session has ended, expired or its user
    is disabled."""
    if not token:
        return None
    now = utcnow()
    with store.session() as s:
        row = s.execute(select(WebSession, User).join(User, User.id == WebSession.user_id)
                        .where(WebSession.token_hash == digest(token), WebSession.user_id == user_id)).first()
        if row is None:
            return None
        web_session, user = row
        if web_session.expires_at <= now or user.disabled_at is not None:
            return None
        if now - web_session.last_seen_at >= LAST_SEEN_EVERY:
            web_session.last_seen_at = now
        return account_of(user)


def end(store: Store, token: str) -> None:
    """Sign out one browser (nothing happens when the session is already gone)."""
    if not token:
        return
    with store.session() as s:
        s.execute(delete(WebSession).where(WebSession.token_hash == digest(token)))

