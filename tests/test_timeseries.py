"""The charts' time series, rolled up from the real store: counts per bucket, exact percentiles,
the queue sampled at the minute's end, gaps filled, and idempotent re-rolls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from service.operations import timeseries
from service.store.tables import MetricRollup, SyncItem

NOW = datetime(2026, 12, 7, 10, 30, 20, tzinfo=UTC)


def finished(runtime: Any, flow: str, state: str, at: datetime, latency_ms: float) -> None:
    with runtime.store.session() as s:
        s.add(SyncItem(flow=flow, entity_key=f"{flow}:{at.timestamp()}:{latency_ms}", state=state, payload={},
                       created_at=at - timedelta(milliseconds=latency_ms), finished_at=at, updated_at=at))


def test_minutes_and_hours_are_rolled_up_per_flow(runtime: Any) -> None:
    minute = NOW.replace(second=0) - timedelta(minutes=1)  # 10:29, the last finished minute
    for i, ms in enumerate([100, 200, 300, 400, 5000]):
        finished(runtime, "orders", "dead" if i == 4 else "done", minute + timedelta(seconds=5 + i), ms)
    finished(runtime, "inventory", "ignored", minute + timedelta(seconds=30), 50)
    with runtime.store.session() as s:
        s.add(SyncItem(flow="orders", entity_key="waiting", state="received", payload={},
                       created_at=NOW - timedelta(seconds=90)))

    rolled = timeseries.run_due(runtime, now=NOW)
    assert rolled >= 1
    assert timeseries.run_due(runtime, now=NOW) == 0, "a minute is rolled up once"

    orders = timeseries.series(runtime, window="1h", flow="orders", now=NOW)
    at = orders.t.index(int(minute.timestamp()))
    assert orders.throughput[at] == 5 and orders.dead[at] == 1 and orders.error_rate[at] == 0.2
    assert orders.p50_ms[at] == 300 and orders.p95_ms[at] == 5000
    assert orders.depth[at] == 1 and orders.oldest_seconds[at] == 90
    every = timeseries.series(runtime, window="1h", now=NOW)
    assert every.throughput[at] == 6 and every.depth[at] == 1
    assert len(every.t) == 61 and every.throughput[0] == 0 and every.p50_ms[0] is None, "gaps are zero / null"

    hours = timeseries.series(runtime, window="7d", flow="orders", now=NOW + timedelta(hours=1))
    hour = hours.t.index(int(minute.replace(minute=0).timestamp()))
    assert hours.throughput[hour] == 5 and hours.p95_ms[hour] == 5000 and hours.depth[hour] == 1


def test_a_missed_stretch_is_caught_up_without_queue_samples(runtime: Any) -> None:
    runtime.redis.set(timeseries.MINUTE_KEY, str((NOW - timedelta(minutes=30)).replace(second=0).timestamp()))
    finished(runtime, "orders", "done", NOW - timedelta(minutes=10), 120)

    assert timeseries.run_due(runtime, now=NOW) == 29
    with runtime.store.session() as s:
        row = s.query(MetricRollup).filter_by(resolution="minute", flow="orders").one()
    assert row.done == 1 and row.depth is None


def test_the_charts_answer_json_to_a_signed_in_user(app: Any, runtime: Any) -> None:
    from service.store.users import create_user
    from tests.web.support import PASSWORD, sign_in

    create_user(runtime.store, "ops", PASSWORD, "operator")
    client = app.test_client()
    assert client.get("/charts/data?window=1h").status_code in (302, 401)
    sign_in(client, "ops")
    body = client.get("/charts/data?window=6h&flow=orders", headers={"Accept": "application/json"}).get_json()
    assert body["flow"] == "orders" and body["resolution"] == "minute" and len(body["t"]) == 361
    bad = client.get("/charts/data?window=2y", headers={"Accept": "application/json"})
    assert bad.status_code == 400 and "window must be one of" in bad.get_json()["message"]
