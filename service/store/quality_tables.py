"""The data-quality guard's tables (service/store/quality.py): each SKU's history per field, learned
from the writes that went through, and the findings of the ``quality`` step: held records waiting
for a person (whose decisions are the labels that tune the thresholds), and the warnings and fixes
the data_quality alert counts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.store.tables import Base, IdType, UTCDateTime, utcnow


class QualityHistory(Base):
    """One field of one synced record (a Heartland item's price, its stock…) as last written."""

    __tablename__ = "quality_history"
    __table_args__ = (UniqueConstraint("entity_key", "field", name="uq_quality_history_key_field"),
                      Index("ix_quality_history_field_category", "field", "category"),
                      Index("ix_quality_history_sku", "sku"))

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    entity_key: Mapped[str] = mapped_column(String(200))  # the flow's key for the record
    field: Mapped[str] = mapped_column(String(32))
    sku: Mapped[str] = mapped_column(String(128), default="")
    category: Mapped[str] = mapped_column(String(128), default="")
    value: Mapped[float] = mapped_column(Float)
    changes: Mapped[list[Any]] = mapped_column(JSON, default=list)  # the last changes, in log units
    low: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    writes: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QualityFinding(Base):
    """What the quality step found in one record: a hold (open until a person releases or rejects
    it), or a warning or fix written on (``noted``)."""

    __tablename__ = "quality_findings"
    __table_args__ = (Index("ix_quality_findings_item", "item_id"),
                      Index("ix_quality_findings_state_created", "state", "created_at"),
                      Index("ix_quality_findings_group", "group_key"),
                      Index("ix_quality_findings_key_field", "entity_key", "field"))

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    # Kept after the item is purged (SET NULL): decided holds are the labels that tune thresholds.
    item_id: Mapped[int | None] = mapped_column(ForeignKey("sync_items.id", ondelete="SET NULL"), nullable=True)
    flow: Mapped[str] = mapped_column(String(32))
    entity_key: Mapped[str] = mapped_column(String(200))
    sku: Mapped[str] = mapped_column(String(128), default="")
    label: Mapped[str] = mapped_column(String(200), default="")
    field: Mapped[str] = mapped_column(String(32))
    check: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(8))  # hold | warn | fix
    reason: Mapped[str] = mapped_column(Text, default="")
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)
    fixed: Mapped[Any] = mapped_column(JSON, nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    usual: Mapped[Any] = mapped_column(JSON, nullable=True)  # [low, high] the value could have taken
    group_key: Mapped[str] = mapped_column(String(100), default="")  # a bulk change held as one
    state: Mapped[str] = mapped_column(String(16))  # open | released | rejected | noted
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
