"""Payment reconciliation: matching categories, journals that balance, and a run over the sandboxes."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from service.api import reconciliation_jobs
from service.reconciliation import exports
from service.reconciliation.ledger import Entry, save
from service.reconciliation.matching import match
from service.store.users import create_token, create_user
from tests.stack import HEARTLAND_TOKEN, Stack, build_stack

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def entry(source: str, number: str, amount: int, *, kind: str = "sale", ref: str | None = None, day: str = "2026-12-01",
          **extra: Any) -> Entry:
    return Entry(source=source, kind=kind, source_id=f"{kind}:{number}", order_ref=ref if ref is not None else
                 f"magento:default:{number}", number=number, channel=extra.pop("channel", "web"),
                 location=extra.pop("location", "web"), tender=extra.pop("tender", "checkmo"), amount=amount,
                 currency="USD", business_date=day, occurred_at=NOW, **extra)


def categories(results: list[Any]) -> dict[str, str]:
    return {(r.magento or r.heartland).number: r.category for r in results}


def test_each_entry_ends_in_one_category() -> None:
    magento = [entry("magento", "1", 5000), entry("magento", "2", 5000, shipping=500),
               entry("magento", "3", 4000), entry("magento", "4", 7000, day="2026-12-01"),
               entry("magento", "5", 1200, transaction_id="txn-5"),
               entry("magento", "6", 999, email="dan@example.com"),
               entry("magento", "7", 2000), entry("magento", "R1", -2500, kind="refund")]
    heartland = [entry("heartland", "1", 5000), entry("heartland", "2", 4500),
                 entry("heartland", "4", 7000, day="2026-12-02"),
                 entry("heartland", "H5", 1200, ref=""), entry("heartland", "H5", 1200, kind="payment", ref="",
                                                              transaction_id="txn-5"),
                 entry("heartland", "H6", 999, ref="", email="dan@example.com"),
                 entry("heartland", "7", 2000), entry("heartland", "7b", 2000, ref="magento:default:7"),
                 entry("heartland", "9", 3000)]
    results = match(magento, heartland)
    found = categories(results)
    assert found["1"] == "matched" and found["6"] == "matched"
    assert found["2"] == "amount_mismatch" and found["4"] == "timing_difference"
    assert found["3"] == "missing_in_heartland" and found["9"] == "missing_in_magento"
    assert found["R1"] == "unmatched_refund" and found["7"] == "matched"
    duplicate = [r for r in results if r.category == "duplicate"]
    assert [(r.magento.number, r.heartland.number) for r in duplicate] == [("7", "7b")]
    assert len(results) == 10  # each Magento entry once, plus the duplicate and the Heartland-only order
    mismatch = next(r for r in results if r.category == "amount_mismatch")
    assert mismatch.delta == -500 and "shipping" in mismatch.reason
    by_txn = next(r for r in results if r.magento is not None and r.magento.number == "5")
    assert (by_txn.category, by_txn.matched_by) == ("matched", "transaction")
    fuzzy = next(r for r in results if r.magento is not None and r.magento.number == "6")
    assert fuzzy.matched_by == "fuzzy"


def test_journals_balance_per_day_channel_and_location(runtime: Any) -> None:
    save(runtime.store, [
        entry("heartland", "S1", 10800, tax=800, shipping=500, discount=300, tender="Credit Card", channel="store",
              location="Downtown Store", ref=""),
        entry("heartland", "S2", 5000, tender="Gift Card", channel="store", location="Downtown Store", ref=""),
        entry("heartland", "R1", -2160, kind="refund", tax=-160, tender="Cash", channel="store",
              location="Downtown Store", ref=""),
        entry("heartland", "G1", 2500, kind="giftcard_sold", tender="Gift Card", channel="store", location="", ref=""),
        entry("heartland", "W1", 5319, tax=319, shipping=500, tender="PayPal"),
        entry("heartland", "W2", 4100, tender="PayPal", day="2026-12-02"),
    ])
    journals = exports.journals(runtime.store, "2026-12-01", "2026-12-02")
    assert len(journals) == 4  # Downtown, web, gift cards (no location) on the 1st; web on the 2nd
    for lines in journals.values():
        assert sum(lines.values()) == 0 and len(lines) >= 2

    rows = list(csv.DictReader(io.StringIO(exports.xero_csv(runtime.store, "2026-12-01", "2026-12-02"))))
    by_journal: dict[str, float] = {}
    for row in rows:
        by_journal[row["*Narration"]] = round(by_journal.get(row["*Narration"], 0.0) + float(row["*Amount"]), 2)
    assert len(by_journal) == 4 and set(by_journal.values()) == {0.0}
    liability = [r for r in rows if r["*AccountCode"] == exports.ACCOUNTS["giftcards"][0]]
    assert sum(float(r["*Amount"]) for r in liability) == 50.0 - 25.0  # redeemed 50 (debit), sold 25 (credit)

    iif = exports.quickbooks_iif(runtime.store, "2026-12-01", "2026-12-02").splitlines()
    assert iif[0].startswith("!TRNS") and iif.count("ENDTRNS") == 4
    total = 0.0
    for line in iif[3:]:
        if line == "ENDTRNS":
            assert round(total, 2) == 0.0
            total = 0.0
        else:
            total += float(line.split("\t")[5])


@pytest.fixture
def stack(settings: dict[str, Any], tmp_path: Path) -> Iterator[Stack]:
    s = build_stack({**settings, "POLL_INTERVAL_SECONDS": 0, "DRIFT_INTERVAL_SECONDS": 0,
                     "RECONCILIATION_INTERVAL_SECONDS": 0}, tmp_path)
    try:
        yield s
    finally:
        s.stop()


def _heartland(stack: Stack, method: str, path: str, body: dict[str, Any]) -> requests.Response:
    response = requests.request(method, f"{stack.heartland.url}/api/{path}", json=body, timeout=10,
                                headers={"Authorization": f"Bearer {HEARTLAND_TOKEN}"})
    assert response.status_code in (200, 201), response.text
    return response


def finished_run(stack: Stack, url: str, headers: dict[str, str]) -> dict[str, Any]:
    """The run at ``url`` once a worker has finished it."""
    seen: dict[str, Any] = {}

    def finished() -> bool:
        seen.update(requests.get(url, headers=headers, timeout=10).json())
        return seen.get("state") in ("done", "failed")

    stack.wait_for(finished, timeout=60, what=f"the reconciliation run at {url} to finish")
    return seen


def test_a_day_over_the_sandboxes_finds_only_the_injected_exceptions(stack: Stack) -> None:
    create_user(stack.runtime.store, "acc", "a-long-password-123", "accounting")
    _, token = create_token(stack.runtime.store, "acc", "books")
    headers = {"Authorization": f"Bearer {token}"}
    stack.start_worker()
    placed = [stack.checkout([{"sku": sku, "qty": 1}]) for sku in ("TEE-1000", "HOD-1001", "TEE-1000")]
    stack.wait_for(lambda: stack.settled(3), timeout=90, what="three orders to sync")
    assert stack.states().get("done") == 3, stack.states()
    # Heartland refuses the next order as invalid: a dead letter (or a review, if the risk check held
    # it first), it never reaches Heartland.
    stack.faults(stack.heartland, fail_next={"method": "POST", "path": "/api/sales/orders", "count": 1,
                                             "status": 422})
    unsynced = stack.checkout([{"sku": "TEE-1000", "qty": 2}])
    stack.wait_for(lambda: stack.states().get("dead", 0) + stack.states().get("review", 0) == 1, timeout=60,
                   what="the fourth order to end refused or held")
    stack.faults(stack.heartland)
    assert stack.states().get("done") == 3, stack.states()

    # A double charge in Heartland, and a Heartland web order whose Magento order does not exist.
    charged = next(o for o in stack.heartland_orders()
                   if (o.get("custom") or {}).get("tillbridge_ref", "").endswith(placed[1]["increment_id"]))
    _heartland(stack, "POST", f"sales/orders/{charged['id']}/payments",
               {"type": "ExternalPayment", "amount": 5.0, "deposit": True, "payment_type_id": 100001})
    created = _heartland(stack, "POST", "sales/orders", {
        "customer_id": charged["customer_id"], "station_id": charged["station_id"],
        "source_location_id": charged["source_location_id"], "custom": {"tillbridge_ref": "magento:default:999999"},
        "lines": [{"item_id": 100001, "qty": 1}]})
    ghost_id = int(created.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    _heartland(stack, "POST", f"sales/orders/{ghost_id}/payments",
               {"type": "ExternalPayment", "amount": 25.99, "deposit": True, "payment_type_id": 100001})
    _heartland(stack, "PUT", f"sales/orders/{ghost_id}", {"status": "open"})

    today = datetime.now(UTC).date().isoformat()
    api = f"{stack.web.url}/v1/reports"
    asked = requests.post(f"{api}/reconciliation/runs", json={"date_from": today, "date_to": today},
                          headers=headers, timeout=10)
    assert asked.status_code == 202 and asked.json()["state"] == "queued", asked.text
    assert asked.headers["Location"] == f"/v1/reports/reconciliation/runs/{asked.json()['id']}"
    ran = finished_run(stack, f"{stack.web.url}{asked.headers['Location']}", headers)
    assert ran["state"] == "done" and ran["error"] == "" and ran["finished_at"], ran
    assert ran["counts"] == {"matched": 2, "amount_mismatch": 1, "missing_in_heartland": 1,
                             "missing_in_magento": 1}, ran
    exceptions = requests.get(f"{api}/reconciliation/results", headers=headers, timeout=10).json()["data"]
    by_category = {e["category"]: e for e in exceptions}
    assert by_category["amount_mismatch"]["delta"] == {"amount": 500, "currency": "USD"}
    assert by_category["amount_mismatch"]["magento"]["number"] == placed[1]["increment_id"]
    assert by_category["missing_in_heartland"]["magento"]["number"] == unsynced["increment_id"]
    assert by_category["missing_in_magento"]["heartland"]["order_ref"] == "magento:default:999999"

    resolved = requests.post(f"{api}/reconciliation/results/{by_category['amount_mismatch']['id']}/resolve",
                             json={"note": "refunded the 5.00 in Heartland"}, headers=headers, timeout=10)
    assert resolved.status_code == 200 and resolved.json()["state"] == "resolved", resolved.text
    again = requests.post(f"{api}/reconciliation/runs", json={"date_from": today, "date_to": today},
                          headers=headers, timeout=10)
    assert again.status_code == 202
    assert finished_run(stack, f"{stack.web.url}{again.headers['Location']}", headers)["state"] == "done"
    still = requests.get(f"{api}/reconciliation/results/{by_category['amount_mismatch']['id']}", headers=headers,
                         timeout=10).json()
    assert still["state"] == "resolved" and still["note"] == "refunded the 5.00 in Heartland"

    summary = requests.get(f"{api}/transactions", params={"date_from": today, "date_to": today}, headers=headers,
                           timeout=10).json()["data"]
    web = [row for row in summary if row["channel"] == "web"]
    assert sum(row["orders"] for row in web) == 4 and web[0]["variance"] != 0
    xero = requests.get(f"{api}/exports/xero", params={"date_from": today, "date_to": today}, headers=headers,
                        timeout=10)
    assert xero.status_code == 200 and xero.headers["Content-Type"].startswith("text/csv")
    assert round(sum(float(r["*Amount"]) for r in csv.DictReader(io.StringIO(xero.text))), 2) == 0.0

    # Ids in other digits ("²" passes str.isdigit) or too long for an id are not found, not a crash.
    for odd in ("rr_%C2%B2", "rr_%D9%A1", "rr_" + "9" * 40):
        assert requests.get(f"{api}/reconciliation/runs/{odd}", headers=headers, timeout=10).status_code == 404
    for odd in ("rx_%C2%B2", "rx_" + "9" * 40):
        assert requests.get(f"{api}/reconciliation/results/{odd}", headers=headers, timeout=10).status_code == 404


def test_a_run_that_cannot_read_a_system_fails_with_the_reason_and_runs_once(settings: dict[str, Any]) -> None:
    from service.app.factory import create_app
    from service.reconciliation import run as reconciliation

    app = create_app({**settings, "AUTO_MIGRATE": False, "TILLBRIDGE_HEARTLAND_URL": "http://127.0.0.1:9/api",
                      "TILLBRIDGE_MAGENTO_URL": "http://127.0.0.1:9/rest"})
    runtime = app.extensions["tillbridge"]
    try:
        today = datetime.now(UTC).date().isoformat()
        run_id = reconciliation.queue(runtime, today, today, "api:acc", job=reconciliation_jobs.reconcile_job)["run_id"]
        assert runtime.queue.count == 1 and reconciliation.describe(runtime, run_id)["state"] == "queued"
        announced: list[Any] = []
        failed = reconciliation.execute(runtime, run_id, announce=lambda *args: announced.append(args))
        assert failed["state"] == "failed" and failed["finished_at"] is not None, failed
        assert failed["error"].startswith("a system could not be read") and failed["error"].endswith("run it again")
        # The same job delivered again leaves the run as it is.
        assert reconciliation.execute(runtime, run_id, announce=lambda *args: announced.append(args)) == failed
        assert announced == []
        with pytest.raises(ValueError, match="before date_from"):
            reconciliation.queue(runtime, today, "2000-01-01", "api:acc", job=reconciliation_jobs.reconcile_job)
    finally:
        runtime.store.dispose()


def test_runs_no_worker_finished_fail_as_stalled(runtime: Any) -> None:
    from service.reconciliation import run as reconciliation
    from service.store.api_tables import ReconciliationRun

    today = datetime.now(UTC).date().isoformat()
    stale = reconciliation.queue(runtime, today, today, "page:acc", job=reconciliation_jobs.reconcile_job)["run_id"]
    fresh = reconciliation.queue(runtime, today, today, "page:acc", job=reconciliation_jobs.reconcile_job)["run_id"]
    with runtime.store.session() as s:
        s.get(ReconciliationRun, stale).started_at = datetime.now(UTC) - timedelta(hours=2)
    assert reconciliation.fail_stalled(runtime) == 1
    assert reconciliation.describe(runtime, stale)["state"] == "failed"
    assert "stalled" in reconciliation.describe(runtime, stale)["error"]
    assert reconciliation.describe(runtime, fresh)["state"] == "queued"
