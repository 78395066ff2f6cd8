"""The mapping page: templates edited against real sample records from the sandboxes, suggestions,
preview with per-field errors, versions saved, activated, rolled back and compared, and (in headless
Chromium) an edit that the next synced order uses."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.store import items
from service.store import mappings as versions_store
from service.store.users import create_user
from tests.stack import Stack, build_stack
from tests.web.browser import go_to, sign_in_browser
from tests.web.support import PASSWORD, csrf_from, sign_in

NORMALIZE = "orders.magento_to_canonical"
HEARTLAND = "orders.canonical_to_heartland"


@pytest.fixture
def stack(settings: dict[str, Any], tmp_path: Path) -> Iterator[Stack]:
    s = build_stack(settings, tmp_path)
    s.checkout([{"sku": "TEE-1000", "qty": 2}], email="ann@example.com")
    try:
        yield s
    finally:
        s.stop()


def client_as(stack: Stack, role: str) -> FlaskClient:
    create_user(stack.runtime.store, f"{role}-user", PASSWORD, role)
    client = stack.app.test_client()
    assert sign_in(client, f"{role}-user").status_code == 302
    return client


def post(client: FlaskClient, path: str, body: Any = None) -> Any:
    return client.post(path, json=body, headers={"X-CSRF-Token": csrf_from(client), "Accept": "application/json"})


def rows_by_target(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["target"]: r for r in state["rows"]}


def test_the_editor_starts_from_live_samples_with_suggestions(stack: Stack) -> None:
    client = client_as(stack, "integrator")
    listing = client.get("/mappings/").get_data(as_text=True)
    assert NORMALIZE in listing and HEARTLAND in listing and "file, version 1" in listing
    assert client.get(f"/mappings/{NORMALIZE}").status_code == 200

    state = client.get(f"/mappings/{NORMALIZE}/state").get_json()
    assert state["origin"].startswith("file rules/mappings/")
    latest = stack.magento_get("orders", **{"searchCriteria[pageSize]": 1,
                                            "searchCriteria[sortOrders][0][field]": "entity_id",
                                            "searchCriteria[sortOrders][0][direction]": "DESC"})["items"][0]
    assert state["samples"]["labels"][0] == f"Magento order #{latest['increment_id']}"
    assert state["preview"]["errors"] == {}
    assert state["preview"]["payload"]["number"] == latest["increment_id"]
    names = {f["name"] for f in state["source_fields"]}
    assert {"increment_id", "customer_email", "items[].sku", "billing_address.city", "$.store_code"} <= names
    # The engine agrees with the shipped template where the names say it plainly.
    assert state["suggestions"]["email"][0]["source"] in ("customer_email", "billing_address.email")
    assert state["suggestions"]["lines[].sku"][0]["source"] == "items[].sku"
    assert "phone" in state["transforms"] and "date" in state["transforms"]

    heartland = client.get(f"/mappings/{HEARTLAND}/state").get_json()
    assert heartland["preview"]["errors"] == {}
    payload = heartland["preview"]["payload"]
    assert payload["custom"]["magento_order_number"] == latest["increment_id"]
    assert payload["lines"][0]["item_id"]  # looked up in Heartland, read only
    assert payload["customer_id"]


def test_only_integrators_and_admins_edit_mappings(stack: Stack) -> None:
    risk = client_as(stack, "risk")
    assert risk.get(f"/mappings/{NORMALIZE}").status_code == 403
    assert post(risk, f"/mappings/{NORMALIZE}/versions", {"rows": []}).status_code == 403
    admin = client_as(stack, "admin")
    assert admin.get("/mappings/").status_code == 200
    assert client_as(stack, "integrator").get("/mappings/nope").status_code == 404


def test_preview_marks_each_broken_field_and_save_refuses_them(stack: Stack) -> None:
    client = client_as(stack, "integrator")
    state = client.get(f"/mappings/{NORMALIZE}/state").get_json()
    record, context = state["samples"]["records"][0], state["samples"]["contexts"][0]
    rows = rows_by_target(state)
    rows["store_code"]["source"] = "store_id"  # a number where the canonical order wants text
    rows["billing.phone"]["transform"] = ["phone"]
    answer = post(client, f"/mappings/{NORMALIZE}/preview",
                  {"rows": list(rows.values()), "record": record, "context": context}).get_json()
    assert answer["errors"] == {"store_code": ["Not a valid string."]}
    rows["store_code"]["transform"] = ["str"]
    answer = post(client, f"/mappings/{NORMALIZE}/preview",
                  {"rows": list(rows.values()), "record": record, "context": context}).get_json()
    assert answer["errors"] == {}
    assert answer["payload"]["store_code"] == str(record["store_id"])
    assert answer["payload"]["billing"]["phone"].startswith("+")
    assert "store_code: {path: store_id, transform: str, default: default}" in answer["yaml"]

    rows["email"]["source"] = ""
    refused = post(client, f"/mappings/{NORMALIZE}/versions", {"rows": list(rows.values())})
    assert refused.status_code == 400
    assert "drag a source field" in refused.get_json()["fields"]["email"][0]
    assert versions_store.versions(stack.runtime.store, NORMALIZE) == []


def test_versions_are_saved_activated_rolled_back_and_compared(stack: Stack) -> None:
    client = client_as(stack, "integrator")
    state = client.get(f"/mappings/{HEARTLAND}/state").get_json()
    rows = state["rows"]
    unchanged = post(client, f"/mappings/{HEARTLAND}/versions", {"rows": rows, "note": "no change"})
    assert unchanged.status_code == 409 and "nothing to save" in unchanged.get_json()["message"]
    rows.append({"target": "custom.customer_email", "kind": "path", "source": "email"})
    first = post(client, f"/mappings/{HEARTLAND}/versions", {"rows": rows, "note": "email for the shop"})
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["version"]["version"] == 2  # above the file's version 1
    rows[-1]["transform"] = ["upper"]
    second = post(client, f"/mappings/{HEARTLAND}/versions", {"rows": rows}).get_json()["version"]
    assert second["version"] == 3 and second["created_by"] == "integrator-user"

    assert post(client, f"/mappings/{HEARTLAND}/versions/2/activate").status_code == 200
    assert post(client, f"/mappings/{HEARTLAND}/versions/3/activate").get_json()["version"]["active"]
    reopened = client.get(f"/mappings/{HEARTLAND}/state").get_json()
    assert reopened["origin"] == "version 3 (active)"
    assert reopened["preview"]["payload"]["custom"]["customer_email"] == "ANN@EXAMPLE.COM"
    back = post(client, f"/mappings/{HEARTLAND}/rollback").get_json()
    assert back["version"]["version"] == 2
    assert [v["active"] for v in back["versions"]] == [False, True]

    diff = client.get(f"/mappings/{HEARTLAND}/diff?to=3").get_json()["diff"]
    assert "-  custom.customer_email: email" in diff
    assert "+  custom.customer_email: {path: email, transform: upper}" in diff
    from_file = client.get(f"/mappings/{HEARTLAND}/diff?to=2").get_json()["diff"]
    assert "--- rules/mappings/orders.canonical_to_heartland.yaml" in from_file
    assert client.get(f"/mappings/{HEARTLAND}/diff?to=9").status_code == 404

    assert post(client, f"/mappings/{HEARTLAND}/deactivate").status_code == 200
    assert client.get(f"/mappings/{HEARTLAND}/state").get_json()["origin"].startswith("file rules/mappings/")
    assert versions_store.active(stack.runtime.store, HEARTLAND) is None


def test_decisions_and_uploaded_samples(stack: Stack) -> None:
    client = client_as(stack, "integrator")
    state = client.get(f"/mappings/{NORMALIZE}/state").get_json()
    rejected = state["suggestions"]["email"][0]["source"]
    field = next(f for f in state["source_fields"] if f["name"] == rejected)
    assert post(client, f"/mappings/{NORMALIZE}/decisions",
                {"source": field, "target": {"name": "email"}, "accepted": False}).status_code == 200
    again = post(client, f"/mappings/{NORMALIZE}/suggest",
                 {"source_fields": state["source_fields"], "rows": state["rows"], "extra_targets": ["notes"],
                  "payload": state["preview"]["payload"]}).get_json()
    assert rejected not in [o["source"] for o in again["suggestions"]["email"]]  # a rejected pair scores 0
    assert "notes" in {f["name"] for f in again["target_fields"]}
    [decision] = versions_store.decision_records(stack.runtime.store)
    assert decision["accepted"] is False and decision["target"]["name"] == "email"

    csv_file = (b"increment_id,customer_email,billing_address.country_id,grand_total,entity_id\n"
                b"900,zoe@example.com,US,10,900\n")
    uploaded = client.post(f"/mappings/{NORMALIZE}/samples", data={"file": (__import__("io").BytesIO(csv_file),
                                                                               "orders.csv")},
                           headers={"X-CSRF-Token": csrf_from(client)}).get_json()
    assert uploaded["samples"]["records"][0]["billing_address"] == {"country_id": "US"}
    assert "customer_email" in {f["name"] for f in uploaded["source_fields"]}
    preview = post(client, f"/mappings/{NORMALIZE}/preview",
                   {"rows": state["rows"], "record": uploaded["samples"]["records"][0], "context": {}}).get_json()
    assert preview["payload"]["email"] == "zoe@example.com"
    assert "lines[].sku" not in preview["errors"] and "lines" in preview["errors"]  # no items in a CSV row


@pytest.mark.browser
def test_integrator_edits_in_the_browser_and_the_next_order_uses_the_active_version(
        stack: Stack, browser_page: Any, tmp_path: Path) -> None:
    page = browser_page
    create_user(stack.runtime.store, "ivy", PASSWORD, "integrator")
    base = stack.web.url
    sign_in_browser(page, base, "ivy")
    go_to(page, "Mappings")
    page.click(f"a >> text={NORMALIZE}")
    page.wait_for_selector("#map-editor[data-ready=true]")

    # Accept the engine's suggestion for first_name: the row now maps from the suggested field first
    # (a fallback chain keeps its other paths after it).
    first_name = page.locator("tr[data-target='first_name']")
    suggested = first_name.locator(".map-suggested").get_attribute("data-source")
    assert suggested
    first_name.locator(".map-accept").click()
    assert first_name.locator(".map-source-cell .map-chip").first.get_attribute("data-source") == suggested

    # Reject a suggestion the engine makes for another field: it goes, and the field keeps its source.
    other = page.locator("tr.map-row:not([data-target='first_name']):not([data-target='store_code'])",
                         has=page.locator(".map-reject")).first
    other_target = other.get_attribute("data-target")
    other = page.locator(f"tr[data-target='{other_target}']")  # the row itself, not "the first with a suggestion"
    rejected = other.locator(".map-suggested").get_attribute("data-source")
    kept = other.locator(".map-source-cell").inner_text()
    other.locator(".map-reject").click()
    assert other.locator(f".map-suggested[data-source='{rejected}']").count() == 0
    assert other.locator(".map-source-cell").inner_text() == kept

    # Correct store_code by dragging store_id onto it: the preview flags it until it is made text.
    store_code = page.locator("tr[data-target='store_code']")
    page.drag_and_drop("li.map-source[data-source='store_id']", "tr[data-target='store_code']")
    assert store_code.locator(".map-current").get_attribute("data-source") == "store_id"
    page.wait_for_selector("tr[data-target='store_code'] .map-error:has-text('Not a valid string')")
    store_code.locator(".map-transform-picker").select_option("str")
    page.wait_for_selector("tr[data-target='store_code'] .map-error", state="hidden")
    preview = page.locator("#map-preview")
    page.wait_for_function("document.querySelector('#map-editor').dataset.preview === 'ready'")
    assert '"store_code": "1"' in preview.inner_text()

    page.fill("#map-note", "record the Magento store id")
    page.click("#map-save-button")
    page.wait_for_selector("tr[data-version='2']")
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("tr[data-version='2'] .map-activate")
    assert asked and "Activate version 2" in asked[0], "activating a live mapping asks first"
    assert page.locator("tr[data-version='2'] .badge:has-text('active')").count() == 0, "dismissed: nothing changed"
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("tr[data-version='2'] .map-activate")
    page.wait_for_selector("tr[data-version='2'] .badge:has-text('active')")
    assert page.locator(".map-current[data-source='store_id']").count() >= 1, "the rows shown are the active version's"
    page.click("tr[data-version='2'] .map-show-diff")
    page.wait_for_selector("#map-diff:has-text('store_code')")
    assert "+  store_code: {path: store_id" in page.locator("#map-diff").inner_text()
    shot = Path(os.environ.get("TILLBRIDGE_SCREENSHOTS") or tmp_path) / "mapping-editor.png"
    page.screenshot(path=str(shot), full_page=True)

    decisions = versions_store.decision_records(stack.runtime.store)
    assert {(d["source"]["name"], d["target"]["name"], d["accepted"]) for d in decisions} >= {
        (suggested, "first_name", True), (rejected, other_target, False), ("store_id", "store_code", True)}

    # The next order placed in Magento syncs with version 2 and carries its store id into Heartland.
    stack.start_worker()
    order = stack.checkout([{"sku": "HOD-1001", "qty": 1}], email="bo@example.com")

    def done_item() -> Any:
        # Magento sends more than one event for a new order; the first to run syncs it.
        return next((i for i in items.search(stack.runtime.store, flow="orders", state="done")
                     if i.entity_key.endswith(f":{order['entity_id']}")), None)

    stack.wait_for(lambda: done_item() is not None, timeout=45, what="the new order to sync")
    assert done_item().mapping_version == f"{NORMALIZE}@2"
    heartland = [o for o in stack.heartland_orders()
                 if (o.get("custom") or {}).get("magento_order_number") == order["increment_id"]]
    assert len(heartland) == 1 and heartland[0]["custom"]["magento_store"] == str(order["store_id"])

    # Accepting a suggestion on a fallback chain puts it first in the chain; the other paths stay.
    chain = page.locator("tr[data-target='payment.amount']")
    before = [c.get_attribute("data-source") for c in chain.locator(".map-source-cell .map-chip").all()]
    suggested_path = chain.locator(".map-suggested").get_attribute("data-source")
    assert len(before) > 1 and suggested_path
    chain.locator(".map-accept").click()
    after = [c.get_attribute("data-source") for c in chain.locator(".map-source-cell .map-chip").all()]
    assert after[0] == suggested_path and set(after) == set(before) | {suggested_path}
