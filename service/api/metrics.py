"""``GET /metrics``: what a monitoring system scrapes, in Prometheus' text format (version 0.0.4).

Items by flow and state, open dead letters, the oldest pending item, drifted records by kind and
the last drift check, each polled resource's cursor lag, each destination's circuit breaker, each
flow's last full minute (finished, dead, latency p50/p95, from service/operations/timeseries.py) and the alerts
firing. All are read when scraped (from the store and Redis), so any web process answers the same;
prometheus_client writes the text.

Access: with METRICS_TOKEN set, a request needs ``Authorization: Bearer <METRICS_TOKEN>``; with it
empty, only requests from this machine (127.0.0.1, ::1) are answered, so a scraper on the host
works without setup and nothing is exposed by default. Behind a reverse proxy on the same machine
every request looks local: set a token there.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, jsonify, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func, select

from service.flows import drift
from service.flows.context import Context, current
from service.store import cursors

bp = Blueprint("metrics", __name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LOCAL_ADDRESSES = ("127.0.0.1", "::1", "::ffff:127.0.0.1")


@dataclass
class Family:
    name: str
    kind: str  # gauge | counter
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> Family:
        self.samples.append((labels, float(value)))
        return self


class _Snapshot:
    """A prometheus_client collector over families read once, for one scrape."""

    def __init__(self, families: Iterable[Family]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        for family in self.families:
            names = sorted({k for labels, _ in family.samples for k in labels})
            metric: GaugeMetricFamily | CounterMetricFamily
            if family.kind == "counter":
                metric = CounterMetricFamily(family.name.removesuffix("_total"), family.help, labels=names)
            else:
                metric = GaugeMetricFamily(family.name, family.help, labels=names)
            for labels, value in family.samples:
                metric.add_metric([str(labels.get(n, "")) for n in names], value)
            yield metric


def render(families: Iterable[Family]) -> str:
    """The families in Prometheus' text format, written by prometheus_client."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(families))
    return generate_latest(registry).decode()


def collect(runtime: Context, now: datetime | None = None) -> list[Family]:
    from service.operations.overview import overview

    now = now or datetime.now(UTC)
    view = overview(runtime)
    items = Family("tillbridge_items", "gauge", "Sync items by flow and state.")
    for flow, by_state in view.counts.items():
        for state, n in by_state.items():
            items.add(n, flow=flow, state=state)
    dead = Family("tillbridge_dead_letters", "gauge", "Dead letters not yet retried or resolved.").add(
        view.open_dead_letters)
    oldest = view.oldest_pending_seconds(now)
    pending = Family("tillbridge_oldest_pending_seconds", "gauge",
                     "Age of the oldest item still received or processing (0 when none).").add(oldest or 0.0)

    last = drift.last_run(runtime)
    drifted = Family("tillbridge_drift_records", "gauge", "Records found drifted by the last drift check, by kind.")
    checked = Family("tillbridge_drift_checked", "gauge", "Records compared by the last drift check, by kind.")
    for kind in drift.KINDS:
        drifted.add(_count(last, "drifted", kind), kind=kind)
        checked.add(_count(last, "checked", kind), kind=kind)
    last_at = Family("tillbridge_drift_last_check_timestamp_seconds", "gauge",
                     "When the last drift check began (Unix time; 0 before the first).").add(
        float(last["at"]) if last else 0.0)

    lag = Family("tillbridge_poll_cursor_lag_seconds", "gauge",
                 "How far behind now each polled resource's cursor is.")
    polled = Family("tillbridge_poll_last_timestamp_seconds", "gauge", "When each resource was last polled (Unix time).")
    for cursor in cursors.all_cursors(runtime.store):
        lag.add(max(0.0, (now - _aware(cursor.position)).total_seconds()), resource=cursor.resource)
        polled.add(_aware(cursor.polled_at).timestamp(), resource=cursor.resource)

    breaker_open = Family("tillbridge_breaker_open", "gauge", "1 while a destination's circuit breaker is open.")
    failures = Family("tillbridge_breaker_failures", "gauge", "Consecutive failures counted by a destination's breaker.")
    opened = Family("tillbridge_breaker_opened_total", "counter", "Times a destination's breaker has opened.")
    for breaker in view.breakers:
        name = str(breaker["destination"])
        breaker_open.add(1 if breaker["state"] == "open" else 0, destination=name)
        failures.add(float(breaker["failures"]), destination=name)
        opened.add(float(breaker["opened"]), destination=name)
    return [items, dead, pending, drifted, checked, last_at, lag, polled, breaker_open, failures, opened,
            *flow_trends(runtime, now), *alert_figures(runtime)]


def flow_trends(runtime: Context, now: datetime) -> list[Family]:
    """Each flow's last finished minute from the time series (service/operations/timeseries.py), for dashboards."""
    from service.operations import timeseries
    from service.store.tables import MetricRollup

    minute = timeseries.floor(now, "minute") - timedelta(minutes=1)
    finished = Family("tillbridge_flow_finished_last_minute", "gauge", "Items a flow finished in the last full minute.")
    dead = Family("tillbridge_flow_dead_last_minute", "gauge", "Items a flow sent to dead letters in the last full minute.")
    p50 = Family("tillbridge_flow_latency_p50_seconds", "gauge", "Median received-to-finished time, last full minute.")
    p95 = Family("tillbridge_flow_latency_p95_seconds", "gauge", "95th percentile received-to-finished time, last full minute.")
    with runtime.store.session() as s:
        rows = list(s.scalars(select(MetricRollup).where(MetricRollup.resolution == "minute",
                                                          MetricRollup.bucket == minute,
                                                          MetricRollup.flow != timeseries.ALL_FLOWS)))
    for row in rows:
        finished.add(row.done + row.ignored + row.review + row.dead, flow=row.flow)
        dead.add(row.dead, flow=row.flow)
        if row.p50_ms is not None:
            p50.add(row.p50_ms / 1000, flow=row.flow)
        if row.p95_ms is not None:
            p95.add(row.p95_ms / 1000, flow=row.flow)
    return [finished, dead, p50, p95]


def alert_figures(runtime: Context) -> list[Family]:
    from service.store.tables import Alert

    firing = Family("tillbridge_alerts_firing", "gauge", "Alerts of rules/alerts.yaml firing now, by rule and severity.")
    with runtime.store.session() as s:
        for rule, severity, n in s.execute(select(Alert.rule, Alert.severity, func.count())
                                           .where(Alert.state == "firing").group_by(Alert.rule, Alert.severity)):
            firing.add(int(n), rule=rule, severity=severity)
    return [firing]


def _count(last: Mapping[str, object] | None, field_name: str, kind: str) -> float:
    values = (last or {}).get(field_name) or {}
    return float(values.get(kind, 0)) if isinstance(values, dict) else 0.0


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _refused(status: int, error: str, message: str) -> Response:
    response = jsonify({"error": error, "message": message})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


@bp.get("/metrics")
def metrics() -> Response:
    runtime = current()
    token = runtime.settings.METRICS_TOKEN
    if token:
        sent = request.headers.get("Authorization", "")
        scheme, _, value = sent.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
            return _refused(401, "bad_token", "send Authorization: Bearer <METRICS_TOKEN>")
    elif request.remote_addr not in LOCAL_ADDRESSES:
        return _refused(403, "metrics_local_only", "/metrics answers only this machine while METRICS_TOKEN is "
                        "empty; set METRICS_TOKEN and scrape with it as a bearer token")
    return Response(render(collect(runtime)), mimetype=None, content_type=CONTENT_TYPE)

