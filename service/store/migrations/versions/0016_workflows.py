"""workflows: versions, the published head, the version each item runs with, and the effects sent

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import service.store.tables

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

WHEN = service.store.tables.UTCDateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "workflow_versions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("workflow", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("saved_by", sa.String(length=64), nullable=False),
        sa.Column("saved_at", WHEN, nullable=False),
        sa.Column("published_by", sa.String(length=64), nullable=False),
        sa.Column("published_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workflow", "number", name="uq_workflow_versions_number"),
    )
    op.create_table(
        "workflow_heads",
        sa.Column("workflow", sa.String(length=64), nullable=False),
        sa.Column("published", sa.Integer(), nullable=False),
        sa.Column("changed_by", sa.String(length=64), nullable=False),
        sa.Column("changed_at", WHEN, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("workflow"),
    )
    op.create_table(
        "workflow_effects",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("workflow", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("binding", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("sent_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_workflow_effects_item", "workflow_effects", ["item_id"])


def downgrade() -> None:
    op.drop_index("ix_workflow_effects_item", table_name="workflow_effects")
    op.drop_table("workflow_effects")
    op.drop_table("workflow_heads")
    op.drop_table("workflow_versions")
