"""The Heartland sandbox's seeded sales history and the reporting analyzer that serves it."""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest

from service.sandbox.heartland.app import create_app

TOKEN = "heartland-history-token"
END = date(2026, 11, 30)
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def sandbox() -> Any:
    return create_app(seed="demo", token=TOKEN, history_weeks=26, history_end=END)


def history(app: Any) -> Any:
    return app.extensions["heartland_sandbox"].state.sales_history


def analyzer(app: Any, **params: Any) -> Any:
    answer = app.test_client().get("/api/reporting/analyzer", query_string=params, headers=AUTH)
    return answer


def test_the_history_is_deterministic_per_seed_and_quick_to_seed(sandbox: Any) -> None:
    started = time.perf_counter()
    again = create_app(seed="demo", token=TOKEN, history_weeks=26, history_end=END)
    seconds = time.perf_counter() - started
    assert seconds < 10  # the whole demo seed with its 26 weeks (≈1.2 s on an idle machine)
    assert np.array_equal(history(again).qty, history(sandbox).qty)
    other = create_app(seed="other", token=TOKEN, history_weeks=26, history_end=END)
    assert not np.array_equal(history(other).qty, history(sandbox).qty)
    h = history(sandbox)
    assert h.qty.shape == (500 * 3, 26 * 7) and h.dates()[-1] == END - timedelta(days=1)
    assert create_app(seed="demo", token=TOKEN).extensions["heartland_sandbox"].state.sales_history is None


def test_the_history_has_weekly_and_yearly_seasons_promotions_intermittency_and_stock_outs(sandbox: Any) -> None:
    h = history(sandbox)
    weekday = np.array([d.weekday() for d in h.dates()])
    stores = np.isin(h.location_ids, [loc["id"] for loc in sandbox.extensions["heartland_sandbox"].state.locations
                                      .records.values() if loc["public_id"] in ("DT", "NS")])
    per_day = h.qty[stores].sum(axis=0)
    assert per_day[weekday == 5].mean() > 1.3 * per_day[weekday == 0].mean()  # Saturdays beat Mondays in the stores
    # jackets sell more in the winter months of the window than in the summer ones
    state = sandbox.extensions["heartland_sandbox"].state
    jackets = np.array([state.items.records[i]["custom"]["category"] == "Jacket" for i in h.item_ids.tolist()])
    months = np.array([d.month for d in h.dates()])
    assert h.qty[jackets][:, months == 11].mean() > 1.3 * h.qty[jackets][:, months == 7].mean()
    assert (h.discount > 0).any(axis=1).all()  # every category had promotions
    promo = h.discount > 0
    categories = {c: n for n, c in enumerate(h.categories)}
    cat = np.array([categories[state.items.records[i]["custom"]["category"]] for i in h.item_ids.tolist()])
    lift = [h.qty[cat == c][:, promo[c]].mean() / h.qty[cat == c][:, ~promo[c]].mean() for c in range(len(h.categories))]
    assert np.median(lift) > 1.3  # promotions sell
    sale_days = (h.qty > 0).mean(axis=1)
    assert (sale_days < 0.2).mean() > 0.2  # many items sell on few days (intermittent)
    assert (sale_days > 0.8).mean() > 0.05  # and some sell nearly every day
    busy = h.qty[sale_days > 0.7]
    zero_runs = [np.diff(np.flatnonzero(np.r_[1, row, 1])).max() - 1 for row in busy]
    assert max(zero_runs) >= 4  # a usually busy item went a week without a sale: the shelf was empty


def test_the_analyzer_sums_history_and_tickets_per_day_item_and_location(sandbox: Any) -> None:
    h = history(sandbox)
    state = sandbox.extensions["heartland_sandbox"].state
    item_id, location_id = int(h.item_ids[7]), int(h.location_ids[7])
    sku = state.items.records[item_id]["public_id"]
    first = END - timedelta(days=14)
    rows = analyzer(sandbox, **{"metrics[]": ["source_sales.net_qty_sold", "source_sales.net_sales"],
                                "group[]": ["date.date", "item.public_id", "location.id"],
                                "item.filters": f'{{"public_id": "{sku}"}}', "start_date": first.isoformat(),
                                "end_date": END.isoformat(), "per_page": 100}).json["results"]
    got = {r["date.date"]: r["source_sales.net_qty_sold"] for r in rows if r["location.id"] == location_id}
    days = h.dates()
    want = {d.isoformat(): float(q) for d, q in zip(days, h.qty[7], strict=True) if d >= first and q}
    assert got == want
    assert all(r["item.public_id"] == sku for r in rows)
    # a ticket completed today (after the history) counts in the report for today
    today = date.today().isoformat()
    client = sandbox.test_client()
    station = state.stations.where("location_id", location_id)[0]
    made = client.post("/api/sales/tickets", headers=AUTH, json={
        "station_id": station["id"], "status": "complete",
        "item_lines": [{"item_id": item_id, "qty": 3, "unit_price": 10.0}]})
    assert made.status_code == 201, made.json
    today_rows = analyzer(sandbox, **{"metrics[]": ["source_sales.net_qty_sold", "source_sales.net_sales"],
                                      "group[]": "location.id", "item.filters": f'{{"id": {item_id}}}',
                                      "start_date": today, "end_date": today}).json["results"]
    assert {r["location.id"]: r["source_sales.net_qty_sold"] for r in today_rows}[location_id] >= 3


def test_the_analyzer_pages_and_refuses_what_it_cannot_answer(sandbox: Any) -> None:
    asked = {"metrics[]": "source_sales.net_qty_sold", "group[]": ["date.date", "item.id", "location.id"],
             "exclude_zeroes": "true", "per_page": 5000}
    first = analyzer(sandbox, **asked).json
    state = sandbox.extensions["heartland_sandbox"].state
    cells = int((history(sandbox).qty > 0).sum())  # every seeded day with a sale, plus the tickets' and invoices' own
    assert cells <= first["total"] <= cells + len(state.ticket_lines) + len(state.invoice_lines)
    assert first["pages"] == -(-first["total"] // 5000) and len(first["results"]) == 5000
    last = analyzer(sandbox, **asked, page=first["pages"]).json
    assert len(last["results"]) == first["total"] - 5000 * (first["pages"] - 1)
    by_year = analyzer(sandbox, **{"metrics[]": "source_sales.net_qty_sold", "group[]": "date.year"}).json
    assert sum(r["source_sales.net_qty_sold"] for r in by_year["results"]) == pytest.approx(
        sum(r["source_sales.net_qty_sold"] for r in analyzer(sandbox, **{"metrics[]": "source_sales.net_qty_sold"})
            .json["results"]))
    unknown = analyzer(sandbox, **{"metrics[]": "ending_inventory.qty_owned"})
    assert unknown.status_code == 422 and "source_sales.net_qty_sold" in unknown.json["message"]
    assert analyzer(sandbox).status_code == 422  # no metric
    bad_day = analyzer(sandbox, **{"metrics[]": "source_sales.net_sales", "start_date": "31/08/2026"})
    assert bad_day.status_code == 422 and "YYYY-MM-DD" in bad_day.json["message"]
    bad_filter = analyzer(sandbox, **{"metrics[]": "source_sales.net_sales", "item.filters": "{nope"})
    assert bad_filter.status_code == 400
    assert sandbox.test_client().get("/api/reporting/analyzer").status_code == 401
