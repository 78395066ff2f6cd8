"""stock forecasts: the nightly forecast runs and, per run, each SKU and location's demand, days of
cover, sell-out risk and reorder quantity (service/operations/forecasts.py)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import service.store.tables

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

WHEN = service.store.tables.UTCDateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "forecast_runs",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("finished_at", WHEN, nullable=True),
        sa.Column("history_from", sa.String(length=10), nullable=False),
        sa.Column("history_to", sa.String(length=10), nullable=False),
        sa.Column("series", sa.Integer(), nullable=False),
        sa.Column("at_risk", sa.Integer(), nullable=False),
        sa.Column("fetch_seconds", sa.Float(), nullable=False),
        sa.Column("fit_seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_forecast_runs_state"), "forecast_runs", ["state"])
    op.create_table(
        "stock_forecasts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("sku", sa.String(length=128), nullable=False),
        sa.Column("item_id", ID, nullable=False),
        sa.Column("location_id", ID, nullable=False),
        sa.Column("location", sa.String(length=128), nullable=False),
        sa.Column("pattern", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("available", sa.Float(), nullable=False),
        sa.Column("daily_demand", sa.Float(), nullable=False),
        sa.Column("days_of_cover", sa.Float(), nullable=True),
        sa.Column("lead_days", sa.Integer(), nullable=False),
        sa.Column("demand_over_lead", sa.Float(), nullable=False),
        sa.Column("safety_stock", sa.Float(), nullable=False),
        sa.Column("reorder_qty", sa.Integer(), nullable=False),
        sa.Column("at_risk", sa.Boolean(), nullable=False),
        sa.Column("stockout_days", sa.Integer(), nullable=False),
        sa.Column("forecast", sa.JSON(), nullable=False),
        sa.Column("recent", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["forecast_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_stock_forecasts_run_sku", "stock_forecasts", ["run_id", "sku"])
    op.create_index("ix_stock_forecasts_run_risk", "stock_forecasts", ["run_id", "at_risk"])


def downgrade() -> None:
    op.drop_index("ix_stock_forecasts_run_risk", table_name="stock_forecasts")
    op.drop_index("ix_stock_forecasts_run_sku", table_name="stock_forecasts")
    op.drop_table("stock_forecasts")
    op.drop_index(op.f("ix_forecast_runs_state"), table_name="forecast_runs")
    op.drop_table("forecast_runs")
