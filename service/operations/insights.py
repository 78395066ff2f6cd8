"""What the insights page charts, from the ledger (filled by reconciliation runs) and the sync items:
sales by channel and location over time, stock-outs avoided, top customers and the repeat rate."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from service.store.api_tables import LedgerEntry
from service.store.tables import SyncItem


def days(date_from: str, date_to: str) -> list[str]:
    start, end = date.fromisoformat(date_from), date.fromisoformat(date_to)
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def _entries(store: Any, date_from: str, date_to: str) -> list[LedgerEntry]:
    with store.session() as s:
        rows = list(s.scalars(select(LedgerEntry).where(
            LedgerEntry.source == "heartland", LedgerEntry.kind.in_(("sale", "refund")),
            LedgerEntry.business_date >= date_from, LedgerEntry.business_date <= date_to)))
        s.expunge_all()
    return rows


def sales_over_time(store: Any, date_from: str, date_to: str, by: str) -> dict[str, list[int]]:
    """Net sales (minor units) per day for each channel (``by="channel"``) or location."""
    series: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in _entries(store, date_from, date_to):
        name = (e.channel if by == "channel" else e.location) or "unknown"
        series[name][e.business_date] += e.amount
    axis = days(date_from, date_to)
    return {name: [per_day.get(d, 0) for d in axis] for name, per_day in sorted(series.items())}


def customers(store: Any, date_from: str, date_to: str, top: int = 10) -> dict[str, Any]:
    orders: dict[str, int] = defaultdict(int)
    sales: dict[str, int] = defaultdict(int)
    channels: dict[str, set[str]] = defaultdict(set)
    for e in _entries(store, date_from, date_to):
        if not e.customer:
            continue
        sales[e.customer] += e.amount
        if e.kind == "sale":
            orders[e.customer] += 1
            channels[e.customer].add(e.channel)
    buyers = [c for c, n in orders.items() if n >= 1]
    return {
        "buyers": len(buyers),
        "repeat_rate": (sum(1 for c in buyers if orders[c] >= 2) / len(buyers)) if buyers else 0.0,
        "cross_channel_rate": (sum(1 for c in buyers if len(channels[c]) >= 2) / len(buyers)) if buyers else 0.0,
        "top": [{"customer": c, "sales": sales[c], "orders": orders[c], "channels": sorted(channels[c])}
                for c in sorted(sales, key=lambda k: -sales[k])[:top]],
    }


def stock_outs_avoided(store: Any, date_from: str, date_to: str) -> dict[str, list[int]]:
    """Per day: Magento quantities set to 0 in time (an oversell avoided) and all stock writes."""
    zero: dict[str, int] = defaultdict(int)
    writes: dict[str, int] = defaultdict(int)
    with store.session() as s:
        rows = s.execute(select(SyncItem.finished_at, SyncItem.result).where(
            SyncItem.flow == "inventory", SyncItem.state == "done", SyncItem.finished_at.is_not(None))).all()
    for finished, result in rows:
        day = finished.date().isoformat()
        if not date_from <= day <= date_to:
            continue
        writes[day] += 1
        quantities = [result.get("qty")] if "qty" in (result or {}) else list(((result or {}).get("sources") or {})
                                                                               .values())
        if quantities and all(float(q or 0) <= 0 for q in quantities):
            zero[day] += 1
    axis = days(date_from, date_to)
    return {"sold out in time": [zero.get(d, 0) for d in axis], "stock writes": [writes.get(d, 0) for d in axis]}


def chart(series: dict[str, list[int]], axis: list[str], *, width: int = 720, height: int = 220,
          scale: float = 1.0) -> dict[str, Any]:
    """An SVG line chart's geometry (the template draws it): one polyline per series, a y maximum."""
    peak = max([max(v) for v in series.values() if v] + [1]) * scale
    step = width / max(1, len(axis) - 1)
    lines = []
    for n, (name, values) in enumerate(series.items()):
        points = " ".join(f"{i * step:.1f},{height - (v * scale / peak) * (height - 10):.1f}"
                          for i, v in enumerate(values))
        lines.append({"name": name, "points": points, "colour": PALETTE[n % len(PALETTE)], "total": sum(values)})
    return {"width": width, "height": height, "lines": lines, "peak": peak, "first": axis[0] if axis else "",
            "last": axis[-1] if axis else ""}


PALETTE = ("#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#4b5563")
