"""backfill progress: how far the initial load of each resource has got

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import service.store.tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

WHEN = service.store.tables.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "backfill_progress",
        sa.Column("resource", sa.String(length=32), nullable=False),
        sa.Column("since", sa.String(length=40), nullable=False),
        sa.Column("last_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.Column("finished_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("resource"),
    )


def downgrade() -> None:
    op.drop_table("backfill_progress")
