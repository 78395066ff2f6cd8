"""The dashboard shows the last drift check: how many records drifted, per kind, of how many checked."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from flask.testing import FlaskClient

from service.app.runtime import Runtime
from service.flows import drift


def test_dashboard_shows_the_last_drift_check(signed_in: Callable[[str], FlaskClient], runtime: Runtime) -> None:
    client = signed_in("operator")
    before = client.get("/").get_data(as_text=True)
    assert re.search(r'data-test="drift">.*?tile-value">not checked yet<', before, re.S)

    report = drift.DriftReport(at=time.time())
    report.checked.update(stock=500, order_status=12)
    for key in ("inventory:heartland:1", "inventory:heartland:2"):
        report.add(drift.Drifted("stock", key, "stock of X: Heartland 1, Magento 2"))
    report.add(drift.Drifted("order_status", "orders:magento:default:5", "order #5 is canceled in Magento"))
    drift.record_run(runtime, report)

    page = client.get("/").get_data(as_text=True)
    tile = re.search(r'data-test="drift">.*?tile-value">(\d+)<.*?tile-note">(.*?)</span>', page, re.S)
    assert tile, page
    assert tile[1] == "3"
    assert tile[2] == "stock 2 of 500 · order status 1 of 12"
    answer = client.get("/", headers={"Accept": "application/json"}).get_json()
    assert answer["drift"]["drifted"] == {"stock": 2, "order_status": 1}
