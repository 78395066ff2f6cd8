"""credentials: Heartland and Magento credentials stored encrypted (Fernet)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 01:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import service.store.tables

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

WHEN = service.store.tables.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "credentials",
        sa.Column("system", sa.String(length=16), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("system"),
    )


def downgrade() -> None:
    op.drop_table("credentials")
