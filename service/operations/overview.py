"""How much is where, per flow: the dashboard's figures and /metrics' (service/web/dashboard.py,
service/api/metrics.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from service.flows import drift
from service.flows.context import Context
from service.store import customer_reviews, reviews
from service.store.items import STATES
from service.store.tables import Alert, DeadLetter, SyncItem

DESTINATIONS = ("heartland", "magento")
PENDING_STATES = ("received", "processing")


@dataclass
class Overview:
    counts: dict[str, dict[str, int]]  # flow → state → count
    totals: dict[str, int]  # state → count over every flow
    oldest_pending: datetime | None
    open_dead_letters: int
    breakers: list[dict[str, Any]] = field(default_factory=list)
    open_order_reviews: int = 0  # queued or escalated, waiting for the risk team
    pending_customer_pairs: int = 0  # possible duplicates waiting for an integrator
    alerts_firing: int = 0  # rules/alerts.yaml alerts firing now (service/operations/alerts.py)
    in_review: int = 0  # items waiting for a person (unknown SKU, held order, …): the items table's review column
    drift: dict[str, Any] | None = None  # the last drift check (service/flows/drift.py): when, checked, drifted by kind

    @property
    def drifted(self) -> int | None:
        return sum(int(n) for n in self.drift["drifted"].values()) if self.drift else None

    def oldest_pending_seconds(self, now: datetime | None = None) -> float | None:
        if self.oldest_pending is None:
            return None
        return ((now or datetime.now(UTC)) - self.oldest_pending).total_seconds()


def overview(runtime: Context) -> Overview:
    with runtime.store.session() as s:
        rows = s.execute(select(SyncItem.flow, SyncItem.state, func.count())
                         .group_by(SyncItem.flow, SyncItem.state))
        counts: dict[str, dict[str, int]] = {}
        totals = dict.fromkeys(STATES, 0)
        for flow, state, n in rows:
            counts.setdefault(flow, dict.fromkeys(STATES, 0))[state] = int(n)
            totals[state] = totals.get(state, 0) + int(n)
        oldest = s.scalar(select(func.min(SyncItem.created_at)).where(SyncItem.state.in_(PENDING_STATES)))
        dead = s.scalar(select(func.count()).select_from(DeadLetter).where(DeadLetter.resolved_at.is_(None)))
        firing = s.scalar(select(func.count()).select_from(Alert).where(Alert.state == "firing"))
    if isinstance(oldest, datetime) and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)  # func.min bypasses the column type on SQLite
    elif isinstance(oldest, str):
        oldest = datetime.fromisoformat(oldest).replace(tzinfo=UTC)
    breakers = [runtime.breaker(d).state() for d in DESTINATIONS]
    order_reviews = reviews.counts_by_state(runtime.store)
    return Overview(counts=dict(sorted(counts.items())), totals=totals, oldest_pending=oldest,
                    open_dead_letters=int(dead or 0), breakers=breakers,
                    open_order_reviews=order_reviews.get("queued", 0) + order_reviews.get("escalated", 0),
                    pending_customer_pairs=customer_reviews.counts(runtime.store).get("pending", 0),
                    in_review=totals.get("review", 0), alerts_firing=int(firing or 0),
                    drift=drift.last_run(runtime))
