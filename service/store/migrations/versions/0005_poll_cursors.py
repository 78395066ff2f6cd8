"""poll cursors: how far each polled source resource has been read

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 09:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import service.store.tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

WHEN = service.store.tables.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "poll_cursors",
        sa.Column("resource", sa.String(length=64), nullable=False),
        sa.Column("position", WHEN, nullable=False),
        sa.Column("polled_at", WHEN, nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("resource"),
    )


def downgrade() -> None:
    op.drop_table("poll_cursors")
