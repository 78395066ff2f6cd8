"""Months of daily sales per item and location, long enough to learn demand from (issue 18).

A real account has years of tickets behind it; the demo seed's 120 tickets are far too few to
forecast from. With ``history_weeks`` set, seeding adds that many weeks of daily sales per
(item, location), ending the day before the seed's "now" (service/sandbox/heartland/seeding.py),
with what makes retail demand hard to forecast:

* weekly seasonality: stores sell most on Saturdays, the web shop more evenly, with a Monday lift;
* yearly seasonality per category: jackets and hoodies peak in winter, tees, caps and bottles in
  summer, mugs before Christmas;
* promotions: a few windows per category where prices drop 20–35 % and demand jumps;
* intermittent items: about a third of the catalogue sells on a few days a month;
* stock-outs: each (item, location) is replenished up to a level every week with a lead time,
  some deliveries come a week late, and sales stop while the shelf is empty (demand is censored,
  as it is in real sales data).

Each (item, location)'s typical demand is set from the stock the seed gives it, so the days of
cover at "now" are spread the way a shop's are: most items have weeks of stock, a few
(``HOT_SHARE``) will sell out before the next delivery, and the ones with nothing on hand are
out now. Same seed, same history.

The history is kept as daily totals (not as tickets: 26 weeks of 500 items in three locations is
about 150,000 line items) and read the way integrations read sales history from Heartland: the
reporting analyzer, ``GET /api/reporting/analyzer`` (service/sandbox/heartland/reports.py), which
sums these totals with the account's own tickets and invoices.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

CATEGORY_SEASON = {  # amplitude of the yearly cycle, day of year it peaks
    "Jacket": (0.65, 15), "Hoodie": (0.5, 20), "T-Shirt": (0.4, 196), "Cap": (0.35, 190),
    "Water Bottle": (0.45, 200), "Mug": (0.3, 350), "Tote Bag": (0.2, 240), "Socks": (0.25, 340),
}
STORE_WEEK = np.array([0.80, 0.80, 0.90, 1.00, 1.20, 1.60, 1.15])  # Monday first
WEB_WEEK = np.array([1.20, 1.05, 1.00, 0.95, 0.90, 0.85, 1.05])
LOCATION_LEVEL = {"DT": 1.0, "NS": 0.7, "WH": 0.85}
LEAD_DAYS = {"DT": 7, "NS": 7, "WH": 5}  # what the sandbox's simulated supplier takes (rules/forecast.yaml: Tillbridge's view)
INTERMITTENT_SHARE = 0.35
HOT_SHARE = 0.08  # (item, location)s whose stock now covers less than the lead time
LATE_DELIVERY = 0.12  # share of deliveries that come a week late
PROMOTIONS_PER_CATEGORY = 3


@dataclass
class SalesHistory:
    """Daily totals: row ``k`` is (``item_ids[k]``, ``location_ids[k]``), column ``d`` is ``start + d``."""

    start: date
    item_ids: np.ndarray  # (series,) int64
    location_ids: np.ndarray  # (series,) int64
    qty: np.ndarray  # (series, days) int32: units sold
    net_sales: np.ndarray  # (series, days) float64: money taken, after promotion discounts
    discount: np.ndarray  # (categories, days) float64: the promotion's price cut per category and day
    categories: list[str]

    @property
    def days(self) -> int:
        return int(self.qty.shape[1])

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range(self.days)]


def generate_history(seed: str, weeks: int, end: date, items: list[dict[str, Any]],
                     locations: list[dict[str, Any]], stock: dict[tuple[int, int], float]) -> SalesHistory:
    """``weeks`` of daily sales ending the day before ``end`` for every item at every location.

    ``items`` are item records (``id``, ``price``, ``custom.category``), ``locations`` location
    records (``id``, ``public_id``), ``stock`` the on-hand quantity at ``end`` per (item id,
    location id), which sets each series' level (see the module's docstring).
    """
    if weeks < 1:
        raise ValueError(f"history_weeks must be at least 1, got {weeks}")
    rng = np.random.default_rng(zlib.crc32(f"heartland-history:{seed}".encode()))
    days = weeks * 7
    start = end - timedelta(days=days)
    categories = sorted({str((item.get("custom") or {}).get("category") or "Other") for item in items})
    category_of = {c: n for n, c in enumerate(categories)}
    day_index = np.arange(days)
    dates = [start + timedelta(days=int(n)) for n in day_index]
    weekday = np.array([d.weekday() for d in dates])
    day_of_year = np.array([d.timetuple().tm_yday for d in dates])

    discount, uplift = _promotions(rng, len(categories), days)
    pairs = [(item, loc) for item in items for loc in locations]
    n = len(pairs)
    item_ids = np.array([item["id"] for item, _ in pairs], dtype=np.int64)
    location_ids = np.array([loc["id"] for _, loc in pairs], dtype=np.int64)
    cat = np.array([category_of[str((item.get("custom") or {}).get("category") or "Other")] for item, _ in pairs])
    code = [str(loc.get("public_id") or "") for _, loc in pairs]
    price = np.array([float(item.get("price") or 0) for item, _ in pairs])
    on_hand = np.array([float(stock.get((int(item["id"]), int(loc["id"])), 0)) for item, loc in pairs])
    lead = np.array([LEAD_DAYS.get(c, 7) for c in code])

    # Shape of demand over time, mean 1 over a year: week × season × promotion × a slow trend.
    week = np.where(np.array([c == "WH" for c in code])[:, None], WEB_WEEK[weekday][None, :],
                    STORE_WEEK[weekday][None, :]) / STORE_WEEK.mean()
    amplitude = np.array([CATEGORY_SEASON.get(categories[c], (0.2, 180))[0] for c in cat])
    peak = np.array([CATEGORY_SEASON.get(categories[c], (0.2, 180))[1] for c in cat])
    season = 1 + amplitude[:, None] * np.cos(2 * np.pi * (day_of_year[None, :] - peak[:, None]) / 365.25)
    trend = 1 + rng.uniform(-0.25, 0.25, n)[:, None] * (day_index[None, :] - days) / max(days, 1)
    shape = week * season * uplift[cat] * trend

    # Level: units per day now (at ``end``), chosen from the stock so days of cover spread realistically.
    intermittent = rng.random(n) < INTERMITTENT_SHARE
    level_now = np.where(intermittent, rng.uniform(0.04, 0.35, n), rng.uniform(0.8, 4.0, n))
    level_now *= np.array([LOCATION_LEVEL.get(c, 0.8) for c in code])
    hot = (rng.random(n) < HOT_SHARE) & (on_hand > 0) & ~intermittent
    cover = np.where(hot, rng.uniform(0.3, 0.8, n) * lead, rng.lognormal(np.log(18), 0.5, n))
    from_stock = np.where(on_hand > 0, on_hand / cover, level_now)
    level = np.where(intermittent, level_now, np.clip(from_stock, 0.3, 12.0))
    season_now = shape[:, -7:].mean(axis=1) / week[:, -7:].mean(axis=1)
    mean = level[:, None] * shape / np.maximum(season_now, 0.2)[:, None]

    # Demand: gamma-Poisson (overdispersed counts); intermittent series get a higher dispersion.
    dispersion = np.where(intermittent, 0.6, 4.0)[:, None]
    demand = rng.poisson(rng.gamma(dispersion, mean / dispersion)).astype(np.int32)
    qty = _sell_from_stock(rng, demand, mean, lead)
    net = qty * price[:, None] * (1 - discount[cat])
    return SalesHistory(start=start, item_ids=item_ids, location_ids=location_ids, qty=qty,
                        net_sales=np.round(net, 2), discount=discount, categories=categories)


def _promotions(rng: np.random.Generator, categories: int, days: int) -> tuple[np.ndarray, np.ndarray]:
    """(price cut, demand multiplier) per category and day: a few promotion windows per category."""
    discount = np.zeros((categories, days))
    uplift = np.ones((categories, days))
    for c in range(categories):
        for _ in range(PROMOTIONS_PER_CATEGORY):
            length = int(rng.integers(4, 11))
            first = int(rng.integers(0, max(1, days - length)))
            cut = float(rng.choice((0.2, 0.25, 0.3, 0.35)))
            discount[c, first:first + length] = cut
            uplift[c, first:first + length] = 1 + cut * float(rng.uniform(3.0, 5.0))
    return discount, uplift


def _sell_from_stock(rng: np.random.Generator, demand: np.ndarray, mean: np.ndarray, lead: np.ndarray) -> np.ndarray:
    """Sales are demand capped by the shelf: weekly orders up to a level, delivered after the lead
    time (some a week late); what cannot be sold from an empty shelf is lost."""
    n, days = demand.shape
    weekly = mean.mean(axis=1) * 7
    order_up_to = np.ceil(weekly * (lead / 7 + 1) * 1.25 + 1)
    on_hand = order_up_to.copy()
    pipeline = np.zeros((n, days + 30))
    sold = np.zeros_like(demand)
    rows = np.arange(n)
    for d in range(days):
        on_hand += pipeline[:, d]
        sold[:, d] = np.minimum(demand[:, d], on_hand).astype(np.int32)
        on_hand -= sold[:, d]
        if d % 7 == 6:
            position = on_hand + pipeline[:, d + 1:].sum(axis=1)
            wanted = np.maximum(order_up_to - position, 0)
            arrives = d + lead + np.where(rng.random(n) < LATE_DELIVERY, 7, 0)
            pipeline[rows, arrives] += wanted
    return sold
