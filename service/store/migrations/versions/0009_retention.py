"""retention: indexes the purge of finished items and old inbox events reads by

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 02:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_items_state_finished", "sync_items", ["state", "finished_at"])
    op.create_index("ix_inbox_received_at", "inbox_events", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_inbox_received_at", table_name="inbox_events")
    op.drop_index("ix_items_state_finished", table_name="sync_items")
