"""api: token scopes, idempotency keys, outbound webhooks, the ledger and reconciliation

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_token_scopes",
        sa.Column("token_id", ID, sa.ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("scopes", sa.JSON, nullable=False),
    )
    op.create_table(
        "api_idempotency",
        sa.Column("key_hash", sa.String(64), primary_key=True),
        sa.Column("principal", sa.String(80), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.String(400), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("created_at", AT, nullable=False),
        sa.Column("expires_at", AT, nullable=False),
    )
    op.create_index("ix_api_idempotency_expires_at", "api_idempotency", ["expires_at"])
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("events", sa.JSON, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("previous_secret", sa.Text, nullable=False),
        sa.Column("previous_until", AT, nullable=True),
        sa.Column("disabled_at", AT, nullable=True),
        sa.Column("disabled_reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", AT, nullable=False),
        sa.Column("deleted_at", AT, nullable=True),
    )
    op.create_table(
        "webhook_events",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("public_id", sa.String(40), nullable=False, unique=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("dedup_key", sa.String(200), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", AT, nullable=False),
        sa.UniqueConstraint("dedup_key", name="uq_webhook_event_dedup"),
    )
    op.create_index("ix_webhook_events_type", "webhook_events", ["type"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("event_id", ID, sa.ForeignKey("webhook_events.id", ondelete="CASCADE"), nullable=False),
        sa.Column("endpoint_id", ID, sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", AT, nullable=True),
        sa.Column("last_status", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("last_response", sa.Text, nullable=False),
        sa.Column("created_at", AT, nullable=False),
        sa.Column("updated_at", AT, nullable=False),
        sa.Column("delivered_at", AT, nullable=True),
        sa.UniqueConstraint("event_id", "endpoint_id", name="uq_delivery_event_endpoint"),
    )
    op.create_index("ix_webhook_deliveries_event_id", "webhook_deliveries", ["event_id"])
    op.create_index("ix_webhook_deliveries_endpoint_id", "webhook_deliveries", ["endpoint_id"])
    op.create_index("ix_delivery_state_due", "webhook_deliveries", ["state", "next_attempt_at"])
    op.create_table(
        "api_event_cursors",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("position", sa.String(200), nullable=False),
        sa.Column("updated_at", AT, nullable=False),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("source_id", sa.String(128), nullable=False),
        sa.Column("order_ref", sa.String(200), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("location", sa.String(64), nullable=False),
        sa.Column("tender", sa.String(64), nullable=False),
        sa.Column("amount", sa.Integer, nullable=False),
        sa.Column("tax", sa.Integer, nullable=False),
        sa.Column("shipping", sa.Integer, nullable=False),
        sa.Column("discount", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("business_date", sa.String(10), nullable=False),
        sa.Column("transaction_id", sa.String(128), nullable=False),
        sa.Column("last4", sa.String(4), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("customer", sa.String(64), nullable=False),
        sa.Column("occurred_at", AT, nullable=False),
        sa.Column("recorded_at", AT, nullable=False),
        sa.UniqueConstraint("source", "kind", "source_id", name="uq_ledger_source"),
    )
    op.create_index("ix_ledger_date", "ledger_entries", ["business_date"])
    op.create_index("ix_ledger_entries_order_ref", "ledger_entries", ["order_ref"])
    op.create_table(
        "reconciliation_runs",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("date_from", sa.String(10), nullable=False),
        sa.Column("date_to", sa.String(10), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("started_at", AT, nullable=False),
        sa.Column("finished_at", AT, nullable=True),
        sa.Column("counts", sa.JSON, nullable=False),
    )
    op.create_table(
        "reconciliation_results",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("run_id", ID, sa.ForeignKey("reconciliation_runs.id"), nullable=False),
        sa.Column("match_key", sa.String(200), nullable=False),
        sa.Column("business_date", sa.String(10), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("matched_by", sa.String(16), nullable=False),
        sa.Column("magento_entry_id", ID, sa.ForeignKey("ledger_entries.id"), nullable=True),
        sa.Column("heartland_entry_id", ID, sa.ForeignKey("ledger_entries.id"), nullable=True),
        sa.Column("delta", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("resolved_by", sa.String(80), nullable=False),
        sa.Column("resolved_at", AT, nullable=True),
        sa.Column("updated_at", AT, nullable=False),
        sa.UniqueConstraint("match_key", name="uq_recon_match_key"),
    )
    op.create_index("ix_reconciliation_results_run_id", "reconciliation_results", ["run_id"])
    op.create_index("ix_reconciliation_results_business_date", "reconciliation_results", ["business_date"])
    op.create_index("ix_recon_state_category", "reconciliation_results", ["state", "category"])


def downgrade() -> None:
    for table in ("reconciliation_results", "reconciliation_runs", "ledger_entries", "api_event_cursors",
                  "webhook_deliveries", "webhook_events", "webhook_endpoints", "api_idempotency",
                  "api_token_scopes"):
        op.drop_table(table)
