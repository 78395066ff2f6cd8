"""Workflows (service/workflows/): their versions, which one is published, the version each item
runs with, and the effects workflow steps sent.

Kept beside service/store/tables.py (same Base, same migrations). A version is a whole document;
once published it is never changed again (a draft is the one row of a workflow that may change, and
each save raises its revision, so two people editing one draft are told, not silently overwritten).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.store.tables import Base, IdType, UTCDateTime, utcnow


class WorkflowVersion(Base):
    __tablename__ = "workflow_versions"
    __table_args__ = (UniqueConstraint("workflow", "number", name="uq_workflow_versions_number"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    workflow: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # draft | published (published once: immutable)
    revision: Mapped[int] = mapped_column(Integer, default=1)  # raised by every save of the draft
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    saved_by: Mapped[str] = mapped_column(String(64), default="")
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by: Mapped[str] = mapped_column(String(64), default="")
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WorkflowHead(Base):
    """Which version of a workflow new items run (0: the built-in flow's steps alone)."""

    __tablename__ = "workflow_heads"

    workflow: Mapped[str] = mapped_column(String(64), primary_key=True)
    published: Mapped[int] = mapped_column(Integer, default=0)
    changed_by: Mapped[str] = mapped_column(String(64), default="")
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")  # "published 3", "rolled back from 3 to 2"


class WorkflowEffect(Base):
    """One effect a workflow step sent (a notice, an HTTP call), by its idempotency key: written as
    pending before the call and marked sent after it, so a retry skips what was sent and re-sends a
    pending one under the same key (the receiver deduplicates on it)."""

    __tablename__ = "workflow_effects"
    __table_args__ = (Index("ix_workflow_effects_item", "item_id"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    workflow: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(64))
    binding: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    state: Mapped[str] = mapped_column(String(16))  # pending | sent
    target: Mapped[str] = mapped_column(String(200), default="")  # scheme://host of the call, never a secret path
    answer: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
