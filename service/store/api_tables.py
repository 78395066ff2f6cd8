"""The tables of the /v1 API, its outbound webhooks and payment reconciliation.

Kept beside service/store/tables.py (same Base, same migrations) so the API's nouns live together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.store.tables import Base, IdType, UTCDateTime, utcnow


class ApiTokenScopes(Base):
    """The scopes an API token was limited to (no row: everything its user's role allows)."""

    __tablename__ = "api_token_scopes"

    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True)
    scopes: Mapped[list[Any]] = mapped_column(JSON, default=list)


class ApiIdempotency(Base):
    """The first answer to a POST/PUT with an Idempotency-Key, replayed for the same key (24 h)."""

    __tablename__ = "api_idempotency"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256(principal, key)
    principal: Mapped[str] = mapped_column(String(80))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(400))
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of method, path, query and body
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: the first request still runs
    body: Mapped[str] = mapped_column(Text, default="")
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class WebhookEndpoint(Base):
    """A subscriber: where events are sent, which ones, and its signing secret (encrypted)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    events: Mapped[list[Any]] = mapped_column(JSON, default=list)
    secret: Mapped[str] = mapped_column(Text)  # Fernet token of the whsec_ secret
    previous_secret: Mapped[str] = mapped_column(Text, default="")  # still signs until previous_until
    previous_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disabled_reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WebhookEvent(Base):
    """One outbound event, as every subscriber receives it."""

    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("dedup_key", name="uq_webhook_event_dedup"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)  # evt_…, the webhook-id
    type: Mapped[str] = mapped_column(String(64), index=True)
    dedup_key: Mapped[str] = mapped_column(String(200))  # one event per fact: e.g. order.synced:item:42
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One event to one endpoint: its attempts and what the endpoint answered."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("event_id", "endpoint_id", name="uq_delivery_event_endpoint"),
                      Index("ix_delivery_state_due", "state", "next_attempt_at"))

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|succeeded|failed|abandoned
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_response: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class EventCursor(Base):
    """How far the outbound events have read a source (e.g. the last finished item looked at)."""

    __tablename__ = "api_event_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class LedgerEntry(Base):
    """One money movement on one side, normalised: what reconciliation matches."""

    __tablename__ = "ledger_entries"
    __table_args__ = (UniqueConstraint("source", "kind", "source_id", name="uq_ledger_source"),
                      Index("ix_ledger_date", "business_date"))

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(16))  # magento | heartland
    kind: Mapped[str] = mapped_column(String(32))  # sale | payment | refund | giftcard_sold | giftcard_redeemed
    source_id: Mapped[str] = mapped_column(String(128))
    order_ref: Mapped[str] = mapped_column(String(200), default="", index=True)  # our reference, when known
    number: Mapped[str] = mapped_column(String(64), default="")
    channel: Mapped[str] = mapped_column(String(16), default="")  # web | store | api
    location: Mapped[str] = mapped_column(String(64), default="")
    tender: Mapped[str] = mapped_column(String(64), default="")
    amount: Mapped[int] = mapped_column(Integer, default=0)  # minor units, signed: refunds negative
    tax: Mapped[int] = mapped_column(Integer, default=0)
    shipping: Mapped[int] = mapped_column(Integer, default=0)
    discount: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    business_date: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD in the store's zone
    transaction_id: Mapped[str] = mapped_column(String(128), default="")
    last4: Mapped[str] = mapped_column(String(4), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    customer: Mapped[str] = mapped_column(String(64), default="")  # heartland:<id>, when the sale names one
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReconciliationRun(Base):
    __tablename__ = "reconciliation_runs"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    date_from: Mapped[str] = mapped_column(String(10))
    date_to: Mapped[str] = mapped_column(String(10))
    trigger: Mapped[str] = mapped_column(String(32), default="")  # schedule | api:<user> | page:<user>
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # queued (asked for, waiting for a worker) → running → done | failed (``error`` says why)
    state: Mapped[str] = mapped_column(String(16), default="done", server_default="done")
    error: Mapped[str] = mapped_column(Text, default="", server_default="")


class ReconciliationResult(Base):
    """What one run concluded about one entry (or pair): matched, or an exception to act on."""

    __tablename__ = "reconciliation_results"
    __table_args__ = (Index("ix_recon_state_category", "state", "category"),
                      UniqueConstraint("match_key", name="uq_recon_match_key"))

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_runs.id"), index=True)
    match_key: Mapped[str] = mapped_column(String(200))  # the entries it is about, so a rerun updates it
    business_date: Mapped[str] = mapped_column(String(10), index=True)
    category: Mapped[str] = mapped_column(String(32))
    matched_by: Mapped[str] = mapped_column(String(16), default="")  # reference | transaction | fuzzy
    magento_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), nullable=True)
    heartland_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), nullable=True)
    delta: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    reason: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | resolved | none (matched)
    note: Mapped[str] = mapped_column(Text, default="")
    resolved_by: Mapped[str] = mapped_column(String(80), default="")
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
