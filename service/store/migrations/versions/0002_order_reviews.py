"""order facts for velocity features and order reviews for the risk team

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 08:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import service.store.tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = service.store.tables.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "order_facts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("order_key", sa.String(length=200), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("increment_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("address_key", sa.String(length=64), nullable=False),
        sa.Column("card", sa.String(length=64), nullable=False),
        sa.Column("total", sa.Double(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_key"),
    )
    with op.batch_alter_table("order_facts", schema=None) as batch_op:
        batch_op.create_index("ix_order_facts_email_at", ["email", "created_at"], unique=False)
        batch_op.create_index("ix_order_facts_address_at", ["address_key", "created_at"], unique=False)

    op.create_table(
        "order_reviews",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("item_id", ID, nullable=False),
        sa.Column("order_key", sa.String(length=200), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("increment_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("grand_total", sa.Double(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("threshold", sa.Double(), nullable=False),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=False),
        sa.Column("decided_at", WHEN, nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["sync_items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_key"),
    )
    with op.batch_alter_table("order_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_reviews_item_id"), ["item_id"], unique=False)
        batch_op.create_index("ix_order_reviews_state_score", ["state", "score"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("order_reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_order_reviews_state_score")
        batch_op.drop_index(batch_op.f("ix_order_reviews_item_id"))
    op.drop_table("order_reviews")
    with op.batch_alter_table("order_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_order_facts_address_at")
        batch_op.drop_index("ix_order_facts_email_at")
    op.drop_table("order_facts")
