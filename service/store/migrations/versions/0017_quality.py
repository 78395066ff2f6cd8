"""quality: each SKU's history per field, and the data-quality findings (holds, warnings, fixes)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import service.store.tables

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

WHEN = service.store.tables.UTCDateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "quality_history",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("entity_key", sa.String(length=200), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("sku", sa.String(length=128), nullable=False),
        sa.Column("category", sa.String(length=128), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
        sa.Column("writes", sa.Integer(), nullable=False),
        sa.Column("first_seen", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entity_key", "field", name="uq_quality_history_key_field"),
    )
    op.create_index("ix_quality_history_field_category", "quality_history", ["field", "category"])
    op.create_index("ix_quality_history_sku", "quality_history", ["sku"])
    op.create_table(
        "quality_findings",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("item_id", ID, nullable=True),
        sa.Column("flow", sa.String(length=32), nullable=False),
        sa.Column("entity_key", sa.String(length=200), nullable=False),
        sa.Column("sku", sa.String(length=128), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("check", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("fixed", sa.JSON(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("usual", sa.JSON(), nullable=True),
        sa.Column("group_key", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=False),
        sa.Column("decided_at", WHEN, nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["sync_items.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_quality_findings_item", "quality_findings", ["item_id"])
    op.create_index("ix_quality_findings_state_created", "quality_findings", ["state", "created_at"])
    op.create_index("ix_quality_findings_group", "quality_findings", ["group_key"])
    op.create_index("ix_quality_findings_key_field", "quality_findings", ["entity_key", "field"])


def downgrade() -> None:
    for name in ("ix_quality_findings_key_field", "ix_quality_findings_group", "ix_quality_findings_state_created",
                 "ix_quality_findings_item"):
        op.drop_index(name, table_name="quality_findings")
    op.drop_table("quality_findings")
    op.drop_index("ix_quality_history_sku", table_name="quality_history")
    op.drop_index("ix_quality_history_field_category", table_name="quality_history")
    op.drop_table("quality_history")
