"""The stock forecasts the nightly job stores (service/operations/forecasts.py): one row per run, and per run one
row per (SKU, Heartland location) with its demand, days of cover, sell-out risk and reorder quantity."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.store.tables import Base, IdType, UTCDateTime, utcnow


class ForecastRun(Base):
    __tablename__ = "forecast_runs"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    trigger: Mapped[str] = mapped_column(String(32))  # schedule | cli | api
    state: Mapped[str] = mapped_column(String(16), default="running", index=True)  # running | done | failed
    error: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    history_from: Mapped[str] = mapped_column(String(10), default="")  # the sales days read, inclusive
    history_to: Mapped[str] = mapped_column(String(10), default="")
    series: Mapped[int] = mapped_column(Integer, default=0)
    at_risk: Mapped[int] = mapped_column(Integer, default=0)
    fetch_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    fit_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class StockForecast(Base):
    __tablename__ = "stock_forecasts"
    __table_args__ = (Index("ix_stock_forecasts_run_sku", "run_id", "sku"),
                      Index("ix_stock_forecasts_run_risk", "run_id", "at_risk"))

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("forecast_runs.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(128))
    item_id: Mapped[int] = mapped_column(IdType)
    location_id: Mapped[int] = mapped_column(IdType)
    location: Mapped[str] = mapped_column(String(128), default="")
    pattern: Mapped[str] = mapped_column(String(16))  # smooth | erratic | intermittent | lumpy | sparse
    method: Mapped[str] = mapped_column(String(32))
    available: Mapped[float] = mapped_column(Float)  # Heartland qty_available (on hand − committed) at the run
    daily_demand: Mapped[float] = mapped_column(Float)
    days_of_cover: Mapped[float | None] = mapped_column(Float, nullable=True)  # None: no demand expected
    lead_days: Mapped[int] = mapped_column(Integer)
    demand_over_lead: Mapped[float] = mapped_column(Float)
    safety_stock: Mapped[float] = mapped_column(Float)
    reorder_qty: Mapped[int] = mapped_column(Integer)
    at_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    stockout_days: Mapped[int] = mapped_column(Integer, default=0)
    forecast: Mapped[list[Any]] = mapped_column(JSON, default=list)  # units per day over the horizon
    recent: Mapped[list[Any]] = mapped_column(JSON, default=list)  # units sold per day, the last 28 days
