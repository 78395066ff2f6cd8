"""customer reviews: pairs of customer records that may be one person, for a person to decide

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import service.store.tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = service.store.tables.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "customer_reviews",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("left_system", sa.String(length=32), nullable=False),
        sa.Column("left_key", sa.String(length=200), nullable=False),
        sa.Column("left_id", sa.String(length=128), nullable=False),
        sa.Column("left", sa.JSON(), nullable=False),
        sa.Column("right_system", sa.String(length=32), nullable=False),
        sa.Column("right_id", sa.String(length=128), nullable=False),
        sa.Column("right", sa.JSON(), nullable=False),
        sa.Column("linked_id", sa.String(length=128), nullable=False),
        sa.Column("linked_created", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(length=200), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("drivers", sa.JSON(), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=False),
        sa.Column("decided_at", WHEN, nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("left_key", "right_id", name="uq_customer_review_pair"),
    )
    with op.batch_alter_table("customer_reviews", schema=None) as batch_op:
        batch_op.create_index("ix_customer_reviews_state_created", ["state", "created_at"], unique=False)
        # A merged pair is the link of its Magento customer: looked up by key on every unbound order.
        batch_op.create_index("ix_customer_reviews_left_key", ["left_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("customer_reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_reviews_left_key")
        batch_op.drop_index("ix_customer_reviews_state_created")
    op.drop_table("customer_reviews")
