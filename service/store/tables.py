"""Every table of the store. Queries live in the module named after the table's noun."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


IdType = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UTCDateTime}


class InboxEvent(Base):
    """An event as it arrived, kept before anything is done with it."""

    __tablename__ = "inbox_events"
    __table_args__ = (UniqueConstraint("source", "event_id", name="uq_inbox_source_event"),
                      Index("ix_inbox_received_at", "received_at"))

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(128))
    event_type: Mapped[str] = mapped_column(String(64))
    store_code: Mapped[str] = mapped_column(String(64), default="")
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class SyncItem(Base):
    """One unit of work with a visible state: received → processing → done|ignored|review|dead."""

    __tablename__ = "sync_items"
    __table_args__ = (
        Index("ix_items_state_due", "state", "next_attempt_at"),
        Index("ix_items_entity", "entity_key"),
        Index("ix_items_flow_state", "flow", "state"),
        Index("ix_items_state_finished", "state", "finished_at"),  # the retention purge
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    flow: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(64), default="")
    entity_key: Mapped[str] = mapped_column(String(200))  # e.g. magento:default:order:42
    label: Mapped[str] = mapped_column(String(200), default="")  # what a person calls it: "order #000000042"
    inbox_event_id: Mapped[int | None] = mapped_column(ForeignKey("inbox_events.id"), nullable=True)
    source_version: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(16), default="received")
    reason: Mapped[str] = mapped_column(Text, default="")
    failure_class: Mapped[str] = mapped_column(String(32), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    waits: Mapped[int] = mapped_column(Integer, default=0)  # reschedules that burnt no attempt
    # The fencing token: raised by every claim and reclaim. A run writes its outcome only while the
    # item still carries the token it claimed with, so a run that stalled past its lease writes nothing.
    fence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # first wait of a run of waits
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    mapping_version: Mapped[str] = mapped_column(String(64), default="")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class TraceStep(Base):
    """One step of an item's way through, with timings and the exchange (redacted)."""

    __tablename__ = "trace_steps"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("sync_items.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    step: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="ok")
    message: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ms: Mapped[float] = mapped_column(default=0.0)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Binding(Base):
    """A record's id in one external system, bound to the canonical key it was synced from."""

    __tablename__ = "bindings"
    __table_args__ = (
        UniqueConstraint("entity", "system", "external_id", name="uq_binding_external"),
        UniqueConstraint("entity", "key", "system", name="uq_binding_key"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(200))
    system: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    external_ref: Mapped[str] = mapped_column(String(128), default="")  # e.g. the Heartland order number
    source_version: Mapped[str] = mapped_column(String(64), default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class IdempotencyKey(Base):
    """Delta writes (stock and gift-card adjustments) recorded once, beside their binding."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    item_id: Mapped[int | None] = mapped_column(IdType, nullable=True)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeadLetter(Base):
    """An item the engine gave up on, with what is needed to act on it."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("sync_items.id"), index=True)
    flow: Mapped[str] = mapped_column(String(32))
    failure_class: Mapped[str] = mapped_column(String(32))
    error: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # the original payload, as received
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolution: Mapped[str] = mapped_column(String(32), default="")  # retried | resolved
    note: Mapped[str] = mapped_column(Text, default="")
    resolved_by: Mapped[str] = mapped_column(String(64), default="")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # set: no sign-in, no tokens


class WebSession(Base):
    """A signed-in browser; the cookie carries its token, only the token's SHA-256 is kept here.

    Deleting the row signs that browser out at once (logout, password change, disabled user).
    """

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    address: Mapped[str] = mapped_column(String(64), default="")


class UserEvent(Base):
    """What was done to a user account, by whom and when (names, not ids: it outlives the user row)."""

    __tablename__ = "user_events"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(32))
    username: Mapped[str] = mapped_column(String(64), index=True)
    detail: Mapped[str] = mapped_column(String(200), default="")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class OrderFact(Base):
    """What later orders' velocity features need from an order, keyed by the order (no card number)."""

    __tablename__ = "order_facts"
    __table_args__ = (
        Index("ix_order_facts_email_at", "email", "created_at"),
        Index("ix_order_facts_address_at", "address_key", "created_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    order_key: Mapped[str] = mapped_column(String(200), unique=True)  # e.g. magento:default:order:42
    entity_id: Mapped[str] = mapped_column(String(64), default="")
    increment_id: Mapped[str] = mapped_column(String(64), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    address_key: Mapped[str] = mapped_column(String(64), default="")
    card: Mapped[str] = mapped_column(String(64), default="")  # hashed type + last 4 + expiry
    total: Mapped[float] = mapped_column(default=0.0)
    currency: Mapped[str] = mapped_column(String(8), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the order was placed
    # The features as scored, so training reads exactly what serving saw (labels come from reviews).
    features: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    score: Mapped[float | None] = mapped_column(nullable=True)
    model_version: Mapped[str] = mapped_column(String(64), default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OrderReview(Base):
    """An order the anomaly scorer flagged, held in Magento until the risk team decides."""

    __tablename__ = "order_reviews"
    __table_args__ = (Index("ix_order_reviews_state_score", "state", "score"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("sync_items.id", ondelete="CASCADE"), index=True)
    order_key: Mapped[str] = mapped_column(String(200), unique=True)
    entity_id: Mapped[str] = mapped_column(String(64))
    increment_id: Mapped[str] = mapped_column(String(64), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    grand_total: Mapped[float] = mapped_column(default=0.0)
    currency: Mapped[str] = mapped_column(String(8), default="")
    score: Mapped[float] = mapped_column(default=0.0)
    threshold: Mapped[float] = mapped_column(default=0.0)
    explanation: Mapped[list[Any]] = mapped_column(JSON, default=list)  # sentences, most telling first
    features: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    model_version: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued|approved|rejected|escalated
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MappingVersion(Base):
    """One saved version of a mapping template; the active one (at most one per template) is what flows use."""

    __tablename__ = "mapping_versions"
    __table_args__ = (
        UniqueConstraint("template", "version", name="uq_mapping_template_version"),
        Index("ix_mapping_versions_active", "template", "active"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    template: Mapped[str] = mapped_column(String(128))  # e.g. orders.magento_to_canonical
    version: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    active: Mapped[bool] = mapped_column(default=False)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    activated_by: Mapped[str] = mapped_column(String(64), default="")


class MappingDecision(Base):
    """An integrator's accept or reject of a suggested field pair (no sample values), for the suggestion engine."""

    __tablename__ = "mapping_decisions"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    source_field: Mapped[str] = mapped_column(String(300))
    target_field: Mapped[str] = mapped_column(String(300))
    accepted: Mapped[bool] = mapped_column(default=False)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)  # Feedback.to_json()
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomerReview(Base):
    """A pair of customer records that may be one person, waiting for (or decided by) a person.

    ``left`` is the incoming record (a Magento customer, canonical fields), ``right`` the known
    Heartland customer it resembles; ``linked_id`` is the Heartland customer the sync used meanwhile.
    """

    __tablename__ = "customer_reviews"
    __table_args__ = (
        UniqueConstraint("left_key", "right_id", name="uq_customer_review_pair"),
        Index("ix_customer_reviews_state_created", "state", "created_at"),
        Index("ix_customer_reviews_left_key", "left_key"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    left_system: Mapped[str] = mapped_column(String(32), default="magento")
    left_key: Mapped[str] = mapped_column(String(200))  # the customer's binding key, e.g. magento:default:42
    left_id: Mapped[str] = mapped_column(String(128), default="")  # Magento customer id ("" for a guest)
    left: Mapped[dict[str, Any]] = mapped_column(JSON)
    right_system: Mapped[str] = mapped_column(String(32), default="heartland")
    right_id: Mapped[str] = mapped_column(String(128))  # the Heartland customer id
    right: Mapped[dict[str, Any]] = mapped_column(JSON)
    linked_id: Mapped[str] = mapped_column(String(128), default="")
    linked_created: Mapped[bool] = mapped_column(default=False)  # the sync created linked_id for this record
    origin: Mapped[str] = mapped_column(String(200), default="")  # e.g. "Magento order #000000042"
    score: Mapped[float] = mapped_column(default=0.0)
    drivers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    model_version: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|merged|not_same|skipped
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PollCursor(Base):
    """How far the scheduler has read one source resource's changes (polling backstop).

    ``position`` is the moment the last committed poll started reading; the next poll reads from
    ``position`` minus the overlap window, so a change stamped late by the source is not missed.
    """

    __tablename__ = "poll_cursors"

    resource: Mapped[str] = mapped_column(String(64), primary_key=True)  # e.g. heartland:inventory
    position: Mapped[datetime] = mapped_column(UTCDateTime)
    polled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changes: Mapped[int] = mapped_column(Integer, default=0)  # changes the last poll saw


class BackfillProgress(Base):
    """How far the initial load of one resource has got, so an interrupted run resumes there.

    Records are read oldest id first; ``last_id`` is the last Heartland id of the last page whose
    writes and bindings all committed. ``finished_at`` is set when the scan reached the end.
    """

    __tablename__ = "backfill_progress"

    resource: Mapped[str] = mapped_column(String(32), primary_key=True)  # products | inventory | customers
    since: Mapped[str] = mapped_column(String(40), default="")  # the --since moment, "" for everything
    last_id: Mapped[int] = mapped_column(IdType, default=0)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)  # records handled
    total: Mapped[int] = mapped_column(Integer, default=0)  # records the run set out to handle
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # outcome → records
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class StoredCredential(Base):
    """Heartland or Magento credentials set with `tillbridge connections set`, one row per system.

    ``ciphertext`` is a Fernet token (TILLBRIDGE_ENCRYPTION_KEY) of the JSON fields; nothing of the
    credentials is stored in clear, not even the URL.
    """

    __tablename__ = "credentials"

    system: Mapped[str] = mapped_column(String(16), primary_key=True)  # heartland | magento
    ciphertext: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(128), default="")


class Alert(Base):
    """One alert: a rule's condition for one subject (``breaker_open`` for ``heartland``), firing or resolved.

    ``pending_channels`` are the channels still owed a notice of the current state: set when the
    alert fires, resolves or repeats, emptied as each channel accepts it (a failing channel is tried
    again at the next evaluation).
    """

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("fingerprint", name="uq_alert_fingerprint"),
                      Index("ix_alerts_state", "state"))

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(200))  # rule + subject, e.g. breaker_open/destination=heartland
    rule: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128), default="")  # e.g. destination=heartland, flow=orders
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    state: Mapped[str] = mapped_column(String(16), default="firing")  # firing | resolved
    summary: Mapped[str] = mapped_column(Text, default="")
    value: Mapped[float] = mapped_column(default=0.0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    pending_channels: Mapped[list[Any]] = mapped_column(JSON, default=list)


class AlertEvent(Base):
    """An alert's history: fired, resolved, notified (per channel), notice failed, silenced."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_at", "at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(24))  # fired | resolved | notified | notify_failed | silenced
    channel: Mapped[str] = mapped_column(String(64), default="")
    message: Mapped[str] = mapped_column(Text, default="")


class AlertSilence(Base):
    """No notices for the alerts a silence matches until it expires (they still fire and show on the page)."""

    __tablename__ = "alert_silences"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(64))  # a rule name, or * for every rule
    subject: Mapped[str] = mapped_column(String(128), default="")  # empty: every subject of the rule
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # ended early by a person


class MetricRollup(Base):
    """One flow's figures over one minute or one hour, rolled up by the scheduler (service/timeseries.py).

    Items are counted in the bucket they finished in; latency is received → finished. ``depth`` and
    ``oldest_seconds`` are the queue (items received or processing) as sampled at the bucket's end,
    null when the scheduler was not running then.
    """

    __tablename__ = "metric_rollups"
    __table_args__ = (UniqueConstraint("resolution", "bucket", "flow", name="uq_rollup_bucket_flow"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    resolution: Mapped[str] = mapped_column(String(8))  # minute | hour
    bucket: Mapped[datetime] = mapped_column(UTCDateTime)  # the bucket's start
    flow: Mapped[str] = mapped_column(String(32))
    done: Mapped[int] = mapped_column(Integer, default=0)
    ignored: Mapped[int] = mapped_column(Integer, default=0)
    review: Mapped[int] = mapped_column(Integer, default=0)
    dead: Mapped[int] = mapped_column(Integer, default=0)
    p50_ms: Mapped[float | None] = mapped_column(nullable=True)
    p95_ms: Mapped[float | None] = mapped_column(nullable=True)
    depth: Mapped[int | None] = mapped_column(Integer, nullable=True)
    oldest_seconds: Mapped[float | None] = mapped_column(nullable=True)


class SettingOverride(Base):
    """A setting changed on the settings page (service/store/setting_overrides.py): it wins over the
    environment's in every process until it is reset."""

    __tablename__ = "setting_overrides"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SettingChange(Base):
    """The settings page's audit trail: who changed which setting, from what, to what, when."""

    __tablename__ = "setting_changes"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str] = mapped_column(Text, default="")
    new_value: Mapped[str] = mapped_column(Text, default="")  # empty with reset: back to the environment's
    changed_by: Mapped[str] = mapped_column(String(64), default="")
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


from service.store import api_tables as _api_tables  # noqa: E402,F401 - the API's tables on Base
from service.store import forecast_tables as _forecast_tables  # noqa: E402,F401 - stock forecasts on Base
