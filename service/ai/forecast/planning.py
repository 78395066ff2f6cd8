"""From a demand forecast and the stock on hand to what a buyer acts on: days of cover, whether
the SKU sells out before a delivery ordered today could arrive, and how much to order.

    daily demand      the forecast's average units per day over the horizon
    days of cover     on hand / daily demand (None when nothing is expected to sell)
    at risk           days of cover < lead time: it sells out before the next delivery
    safety stock      z(service level) × σ(daily demand) × √(lead time)
    reorder quantity  daily demand × (lead time + review period) + safety stock − on hand,
                      rounded up, never below zero

Lead times come from rules/forecast.yaml (``LeadTimes.from_rules``): a default, then per
Heartland location, then per vendor (the most specific wins).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

from service.ai.forecast.forecaster import SeriesForecast


class PolicyError(ValueError):
    """rules/forecast.yaml says something impossible; the message names the key and what to fix."""


@dataclass(frozen=True)
class LeadTimes:
    lead_days: int = 7
    review_days: int = 7
    service_level: float = 0.95
    history_days: int = 182
    horizon_days: int = 28
    locations: dict[str, int] = field(default_factory=dict)  # Heartland location public id or name → days
    vendors: dict[str, int] = field(default_factory=dict)  # Heartland vendor id or name → days

    def lead_for(self, location_names: Iterable[str] = (), vendor: str = "") -> int:
        """The lead time for a vendor, else for the location (by any of its names), else the default."""
        if vendor and vendor in self.vendors:
            return self.vendors[vendor]
        for name in location_names:
            if name and name in self.locations:
                return self.locations[name]
        return self.lead_days

    @classmethod
    def from_rules(cls, data: Any, source: str = "rules/forecast.yaml") -> LeadTimes:
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise PolicyError(f"{source} must be a mapping of settings, not {type(data).__name__}")
        known = {"lead_days", "review_days", "service_level", "history_days", "horizon_days", "locations", "vendors"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise PolicyError(f"{source}: unknown key {unknown[0]!r}; use {', '.join(sorted(known))}")

        def days(key: str, value: Any, low: int = 0) -> int:
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise PolicyError(f"{source}: {key} must be a whole number of days ≥ {low}, got {value!r}")
            return value

        def per(key: str) -> dict[str, int]:
            table = data.get(key) or {}
            if not isinstance(table, dict):
                raise PolicyError(f"{source}: {key} must map a name to its lead time in days")
            out = {}
            for name, value in table.items():
                lead = value.get("lead_days") if isinstance(value, dict) else value
                out[str(name)] = days(f"{key}.{name}.lead_days", lead)
            return out

        level = data.get("service_level", 0.95)
        if isinstance(level, bool) or not isinstance(level, int | float) or not 0.5 <= level < 1:
            raise PolicyError(f"{source}: service_level must be between 0.5 and 0.999 (e.g. 0.95), got {level!r}")
        return cls(lead_days=days("lead_days", data.get("lead_days", 7)),
                   review_days=days("review_days", data.get("review_days", 7)), service_level=float(level),
                   history_days=days("history_days", data.get("history_days", 182), 28),
                   horizon_days=days("horizon_days", data.get("horizon_days", 28), 1),
                   locations=per("locations"), vendors=per("vendors"))


@dataclass(frozen=True)
class StockPlan:
    on_hand: float
    daily_demand: float
    lead_days: int
    demand_over_lead: float
    days_of_cover: float | None  # None: nothing is expected to sell
    at_risk: bool
    safety_stock: float
    reorder_qty: int


def plan(forecast: SeriesForecast, on_hand: float, lead_days: int, review_days: int = 7,
         service_level: float = 0.95) -> StockPlan:
    daily = max(0.0, forecast.daily_demand)
    stock = max(0.0, float(on_hand))
    cover = None if daily <= 0 else stock / daily
    z = NormalDist().inv_cdf(service_level)
    safety = z * forecast.sigma * math.sqrt(lead_days)
    need = daily * (lead_days + review_days) + safety - stock
    return StockPlan(on_hand=float(on_hand), daily_demand=daily, lead_days=lead_days,
                     demand_over_lead=daily * lead_days, days_of_cover=cover,
                     at_risk=cover is not None and cover < lead_days, safety_stock=safety,
                     reorder_qty=max(0, math.ceil(need - 1e-9)) if daily > 0 else 0)
