"""mapping template versions and integrators' mapping decisions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 08:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import service.store.tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = service.store.tables.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mapping_versions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("template", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("activated_at", WHEN, nullable=True),
        sa.Column("activated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("template", "version", name="uq_mapping_template_version"),
    )
    op.create_index("ix_mapping_versions_active", "mapping_versions", ["template", "active"], unique=False)
    op.create_table(
        "mapping_decisions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("source_field", sa.String(length=300), nullable=False),
        sa.Column("target_field", sa.String(length=300), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("mapping_decisions")
    op.drop_index("ix_mapping_versions_active", table_name="mapping_versions")
    op.drop_table("mapping_versions")
