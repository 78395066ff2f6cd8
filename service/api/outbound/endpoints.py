"""Webhook endpoints (subscriptions): where, which events, and the signing secret.

The secret (``whsec_`` + 24 random bytes, base64) is shown once, when the endpoint is created or
its secret rotated, and kept only encrypted (Fernet, TILLBRIDGE_ENCRYPTION_KEY). After a rotation
the old secret still signs, beside the new one, for WEBHOOK_SECRET_ROTATION_HOURS, so a subscriber
can switch without missing a delivery.

Endpoint URLs are guarded against SSRF: http or https only, no credentials in the URL, and every
address the host resolves to must be public (no loopback, private, link-local, multicast or
reserved ranges: cloud metadata at 169.254.169.254 included). The check runs when the endpoint is
saved and again before every delivery (the name may resolve elsewhere later).
WEBHOOKS_ALLOW_PRIVATE_URLS lifts it, for tests and closed networks only.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from service.api.outbound import EVENT_TYPES
from service.connectors.public_urls import UnsafeURL, check_public_url
from service.store.api_tables import WebhookEndpoint
from service.store.credentials import cipher
from service.store.db import Store
from service.store.tables import utcnow


class EndpointError(ValueError):
    """An endpoint that cannot be saved as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Endpoint:
    id: int
    url: str
    description: str
    events: list[str]
    disabled_at: datetime | None
    disabled_reason: str
    created_at: datetime

    @property
    def public_id(self) -> str:
        return f"we_{self.id}"


def _view(row: WebhookEndpoint) -> Endpoint:
    return Endpoint(row.id, row.url, row.description, list(row.events), row.disabled_at, row.disabled_reason,
                    row.created_at)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def check_url(url: str, *, allow_private: bool) -> str:
    """The URL, if Tillbridge may post to it; else EndpointError saying why."""
    try:
        return check_public_url(url, allow_private=allow_private)
    except UnsafeURL as exc:
        raise EndpointError(str(exc)) from None


def check_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENT_TYPES) - {"*"})
    if unknown:
        raise EndpointError(f"unknown event types {', '.join(unknown)}: use {', '.join(EVENT_TYPES)} or *")
    if not events:
        raise EndpointError("subscribe to at least one event type (or *)")
    return sorted(set(events))


def create(store: Store, key: str | None, *, url: str, events: list[str], description: str, actor: str,
           allow_private: bool) -> tuple[Endpoint, str]:
    """A new endpoint and its secret (returned once, never again)."""
    checked = check_url(url, allow_private=allow_private)
    secret = new_secret()
    with store.session() as s:
        row = WebhookEndpoint(url=checked, events=check_events(events), description=description,
                              secret=cipher(key).encrypt(secret.encode()).decode(), previous_secret="",
                              disabled_reason="", created_by=actor)
        s.add(row)
        s.flush()
        return _view(row), secret


def update(store: Store, endpoint_id: int, *, allow_private: bool, url: str | None = None,
           events: list[str] | None = None, description: str | None = None,
           enabled: bool | None = None) -> Endpoint:
    with store.session() as s:
        row = _row(s, endpoint_id)
        if url is not None:
            row.url = check_url(url, allow_private=allow_private)
        if events is not None:
            row.events = check_events(events)
        if description is not None:
            row.description = description
        if enabled is True:
            row.disabled_at, row.disabled_reason = None, ""
        elif enabled is False and row.disabled_at is None:
            row.disabled_at, row.disabled_reason = utcnow(), "disabled through the API"
        return _view(row)


def rotate(store: Store, key: str | None, endpoint_id: int, overlap_hours: float) -> tuple[Endpoint, str]:
    secret = new_secret()
    fernet = cipher(key)
    with store.session() as s:
        row = _row(s, endpoint_id)
        row.previous_secret = row.secret
        row.previous_until = utcnow() + timedelta(hours=overlap_hours)
        row.secret = fernet.encrypt(secret.encode()).decode()
        return _view(row), secret


def delete(store: Store, endpoint_id: int) -> None:
    with store.session() as s:
        row = _row(s, endpoint_id)
        row.deleted_at = utcnow()
        row.disabled_at = row.disabled_at or utcnow()
        row.disabled_reason = row.disabled_reason or "deleted"


def get(store: Store, endpoint_id: int) -> Endpoint | None:
    with store.session() as s:
        row = s.get(WebhookEndpoint, endpoint_id)
        return _view(row) if row is not None and row.deleted_at is None else None


def listing(store: Store, *, after_id: int | None, limit: int) -> list[Endpoint]:
    with store.session() as s:
        query = select(WebhookEndpoint).where(WebhookEndpoint.deleted_at.is_(None)).order_by(WebhookEndpoint.id.desc())
        if after_id is not None:
            query = query.where(WebhookEndpoint.id < after_id)
        return [_view(r) for r in s.scalars(query.limit(limit))]


def signing_secrets(row: WebhookEndpoint, key: str | None) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous during a rotation."""
    fernet = cipher(key)
    found = [fernet.decrypt(row.secret.encode()).decode()]
    if row.previous_secret and row.previous_until is not None and row.previous_until > utcnow():
        found.append(fernet.decrypt(row.previous_secret.encode()).decode())
    return found


def disable(store: Store, endpoint_id: int, reason: str) -> None:
    with store.session() as s:
        row = s.get(WebhookEndpoint, endpoint_id)
        if row is not None and row.disabled_at is None:
            row.disabled_at, row.disabled_reason = utcnow(), reason


def _row(s: Any, endpoint_id: int) -> WebhookEndpoint:
    row = s.get(WebhookEndpoint, endpoint_id)
    if row is None or row.deleted_at is not None:
        raise LookupError(f"no webhook endpoint we_{endpoint_id}")
    return row


def subscribed(s: Any, event_type: str) -> list[WebhookEndpoint]:
    rows = s.scalars(select(WebhookEndpoint).where(WebhookEndpoint.deleted_at.is_(None),
                                                   WebhookEndpoint.disabled_at.is_(None)))
    return [r for r in rows if "*" in r.events or event_type in r.events]
