"""Stock forecasts over the Heartland sandbox: its seeded sales history is read through the analyzer
by the scheduler's nightly job, and the SKUs it makes sell out show on the insights page and in
/v1/inventory, with days of cover, lead time and a reorder quantity."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from service.operations import forecasts
from service.sandbox.heartland.app import create_app as create_heartland
from service.sandbox.server import RunningSandbox, start_in_thread
from service.store.users import create_token, create_user
from tests.web.support import PASSWORD, sign_in

TOKEN = "heartland-forecast-token"
WEEKS = 12


@pytest.fixture
def heartland() -> Iterator[RunningSandbox]:
    server = start_in_thread(create_heartland(seed="demo", token=TOKEN, history_weeks=WEEKS))
    yield server
    server.stop()


@pytest.fixture
def shop(settings: dict[str, Any], heartland: RunningSandbox) -> Iterator[Any]:
    from service.app.factory import create_app

    app = create_app({**settings, "AUTO_MIGRATE": False, "STORE_TIMEZONE": "UTC",
                      "TILLBRIDGE_HEARTLAND_URL": f"{heartland.url}/api", "TILLBRIDGE_HEARTLAND_TOKEN": TOKEN,
                      "TILLBRIDGE_MAGENTO_URL": "http://127.0.0.1:9/rest", "TILLBRIDGE_MAGENTO_TOKEN": "unused"})
    yield app
    app.extensions["tillbridge"].store.dispose()


def heartland_get(server: RunningSandbox, path: str, **params: Any) -> Any:
    response = requests.get(f"{server.url}/api/{path}", params=params, timeout=60,
                            headers={"Authorization": f"Bearer {TOKEN}"})
    response.raise_for_status()
    return response.json()


def sold_out_soonest(server: RunningSandbox) -> tuple[str, int, float, float]:
    """Read straight from the sandbox: the (SKU, location) whose last four weeks of sales empty its
    shelf fastest, with its stock and recent daily sales (what a buyer would check by hand)."""
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    first = yesterday - timedelta(days=27)
    sold: dict[tuple[str, int], float] = defaultdict(float)
    page = 1
    while True:
        got = heartland_get(server, "reporting/analyzer", **{
            "metrics[]": "source_sales.net_qty_sold", "group[]": ["item.public_id", "location.id"],
            "start_date": first.isoformat(), "end_date": yesterday.isoformat(), "per_page": 5000, "page": page})
        for row in got["results"]:
            sold[(row["item.public_id"], row["location.id"])] += row["source_sales.net_qty_sold"]
        if page >= got["pages"]:
            break
        page += 1
    items = {i["id"]: i["public_id"] for i in heartland_get(server, "items", per_page=5000)["results"]}
    stock = {(items[r["item_id"]], r["location_id"]): r["qty_available"] for r in
             heartland_get(server, "inventory/values", **{"group[]": ["item_id", "location_id"], "per_page": "all"})["results"]}
    candidates = [(stock[key] / (qty / 28), key) for key, qty in sold.items()
                  if qty >= 28 and stock.get(key, 0) > 0]  # sells every day, still has some on the shelf
    _, (sku, location_id) = min(candidates)
    return sku, location_id, stock[(sku, location_id)], sold[(sku, location_id)] / 28


def test_nightly_forecast_flags_the_sku_the_history_empties(shop: Any, heartland: RunningSandbox) -> None:
    runtime = shop.extensions["tillbridge"]
    sku, location_id, available, recent_daily = sold_out_soonest(heartland)
    assert available / recent_daily < 5  # the seeded history makes it sell out within a week's lead time

    create_user(runtime.store, "buyer", PASSWORD, "operator")
    client = shop.test_client()
    sign_in(client, "buyer")
    before = client.get("/insights").get_data(as_text=True)
    assert "No stock forecast yet" in before and "tillbridge forecasts run" in before

    forecasts.run_due(runtime)  # what the scheduler's sweep calls; once per interval
    forecasts.run_due(runtime)
    runs = runtime.store.session
    latest = forecasts.latest_run(runtime.store)
    assert latest is not None and latest.state == "done" and latest.trigger == "schedule"
    with runs() as s:
        from sqlalchemy import func, select

        from service.store.forecast_tables import ForecastRun
        assert s.scalar(select(func.count()).select_from(ForecastRun)) == 1  # the second call was not due
    assert latest.history_to == (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    assert latest.series > 1000 and 0 < latest.at_risk < latest.series / 3

    # /v1/inventory: the forecast per location, consistent with the stock it reports
    _, token = create_token(runtime.store, "buyer", "tests")
    answer = client.get(f"/v1/inventory/{sku}", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.json
    here = next(loc for loc in answer.json["locations"] if loc["location_id"] == location_id)
    f = here["forecast"]
    assert f["at_risk"] is True and f["as_of"] == latest.history_to
    assert f["days_of_cover"] == pytest.approx(here["available"] / f["daily_demand"], rel=0.01)
    assert f["days_of_cover"] < f["lead_days"]
    assert 0.5 * recent_daily < f["daily_demand"] < 2 * recent_daily
    assert f["reorder_qty"] >= f["daily_demand"] * f["lead_days"] - here["available"]
    listed = client.get("/v1/inventory?limit=5", headers={"Authorization": f"Bearer {token}"}).json
    assert all("forecast" in loc for item in listed["data"] for loc in item["locations"])

    # the insights page lists it among the SKUs that sell out before their delivery
    page = client.get("/insights")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'data-test="at-risk-{sku}"' in html
    assert "sell out before their lead time" in html and "<polyline" in html


def test_forecasts_run_from_the_command_line(shop: Any, settings: dict[str, Any], heartland: RunningSandbox) -> None:
    from service.cli.main import main

    env = {"DATABASE_URL": settings["DATABASE_URL"], "REDIS_URL": settings["REDIS_URL"], "AUTO_MIGRATE": "0",
           "TILLBRIDGE_HEARTLAND_URL": f"{heartland.url}/api", "TILLBRIDGE_HEARTLAND_TOKEN": TOKEN,
           "STORE_TIMEZONE": "UTC"}
    result = CliRunner().invoke(main, ["forecasts", "run", "--json"], env=env)
    assert result.exit_code == 0, result.output
    import json

    answer = json.loads(result.output[result.output.index("{"):])
    assert answer["series"] > 1000 and len(answer["at_risk_skus"]) == answer["at_risk"]
    assert all(r["days_of_cover"] < r["lead_days"] for r in answer["at_risk_skus"])
    wrong = CliRunner().invoke(main, ["forecasts", "run", "--as-of", "31/08/2026"], env=env)
    assert wrong.exit_code != 0 and "YYYY-MM-DD" in wrong.output
