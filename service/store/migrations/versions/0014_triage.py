"""triage labels: proposals people accepted or rejected, and what they did (service/operations/triage.py)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import service.store.tables

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

WHEN = service.store.tables.UTCDateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "triage_labels",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("flow", sa.String(length=32), nullable=False),
        sa.Column("failure_class", sa.String(length=32), nullable=False),
        sa.Column("signature", sa.String(length=16), nullable=False),
        sa.Column("features", sa.Text(), nullable=False),
        sa.Column("cause", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("proposed_action", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_triage_labels_source", "triage_labels", ["kind", "source_id"])
    op.create_index(op.f("ix_triage_labels_signature"), "triage_labels", ["signature"])
    op.create_index(op.f("ix_triage_labels_created_at"), "triage_labels", ["created_at"])


def downgrade() -> None:
    op.drop_table("triage_labels")
