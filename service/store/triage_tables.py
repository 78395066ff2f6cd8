"""The labels failure triage learns from (service/operations/triage.py, service/ai/triage/).

Kept beside service/store/tables.py (same Base, same migrations). One row per decision a person
made about a failure: a proposal accepted (its action applied), a proposal rejected (and what would
have been right, when they said), or what they did themselves on a dead letter or review item.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.store.tables import Base, IdType, UTCDateTime, utcnow


class TriageLabel(Base):
    __tablename__ = "triage_labels"
    __table_args__ = (Index("ix_triage_labels_source", "kind", "source_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # dead_letter | review
    source_id: Mapped[int] = mapped_column(Integer)  # the dead letter's id, or the review item's id
    flow: Mapped[str] = mapped_column(String(32))
    failure_class: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(String(16), index=True)
    features: Mapped[str] = mapped_column(Text)  # the normalised feature text: no values, no secrets
    cause: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))  # what the label is about
    verdict: Mapped[str] = mapped_column(String(16))  # accepted | rejected | done
    proposed_action: Mapped[str] = mapped_column(String(64), default="")  # what triage proposed then
    actor: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
