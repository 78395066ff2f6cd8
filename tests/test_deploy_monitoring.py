"""deploy/: every metric the Grafana dashboard and the Prometheus rules read is one /metrics serves."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from service.operations import alerts, timeseries
from service.settings import repo_path
from service.store import cursors
from service.store.tables import DeadLetter, SyncItem
from tests.api.prometheus_text import parse_samples

NAME = re.compile(r"\btillbridge_[a-z0-9_]+")


def deployed_expressions() -> list[str]:
    dashboard = json.loads(repo_path("deploy/grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = yaml.safe_load(repo_path("deploy/prometheus-alerts.yml").read_text())
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    return exprs


def test_the_dashboard_and_rules_read_only_served_metrics(app: Any, runtime: Any) -> None:
    now = datetime.now(UTC)
    with runtime.store.session() as s:
        item = SyncItem(flow="orders", entity_key="o:1", state="dead", payload={},
                        created_at=now - timedelta(minutes=1, seconds=1), finished_at=now - timedelta(minutes=1))
        s.add(item)
        s.flush()
        s.add(DeadLetter(item_id=item.id, flow="orders", failure_class="data", error="bad", payload={}))
        cursors.advance(s, "heartland:items", now - timedelta(seconds=30))
    timeseries.run_due(runtime, now=now)
    alerts.evaluate(runtime)

    text = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_data(as_text=True)
    served = {name for name, _ in parse_samples(text)}
    wanted = {n for e in deployed_expressions() for n in NAME.findall(e)}
    assert wanted, "the deploy files name no metric"
    assert wanted <= served, f"named in deploy/ but not served by /metrics: {sorted(wanted - served)}"
    samples = parse_samples(text)
    assert samples[("tillbridge_flow_dead_last_minute", (("flow", "orders"),))] == 1
    assert samples[("tillbridge_alerts_firing", (("rule", "dead_letters"), ("severity", "warning")))] == 1
