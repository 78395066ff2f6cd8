"""The workflows page: the orders flow's locked steps and insertion points, a step added from the
palette with the rule builder, a stale edit refused with who saved since, a dry run on a recent real
order, publish and roll back with the changes in words; operators see it and cannot edit."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.store import items
from service.store.users import create_user
from service.workflows import versions
from tests.stack import Stack, build_stack
from tests.web.support import PASSWORD, csrf_from, post_form, sign_in


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


def text_of(response: Any) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.get_data(as_text=True)))


def test_an_integrator_builds_tests_publishes_and_rolls_back(stack: Stack) -> None:
    client = client_as(stack, "integrator")
    listing = text_of(client.get("/workflows/"))
    assert "orders" in listing and "built-in steps only" in listing

    page = text_of(client.get("/workflows/orders"))
    for locked in ("locked</span> <strong>deliver</strong>", "locked</span> <strong>confirm</strong>", "▸ after check", "▸ before deliver"):
        assert locked in page
    assert "Add to the draft" in page and "No draft" in page

    added = post_form(client, "/workflows/orders/steps", {
        "id": "skip-pos", "type": "filter", "at": "after normalize", "base_revision": "",
        "rule_join": "all", "rule_field": ["order.extra.tags", ""], "rule_op": ["contains", "="],
        "rule_value": ["pos-only", ""], "config": '{"reason": "order {{order.number}} is sold in the shop"}'},
        follow_redirects=True)
    shown = text_of(added)
    assert "Added step 'skip-pos' to the draft." in shown, shown[:2000]
    assert 'skip when order.extra.tags contains "pos-only": order {{order.number}} is sold in the shop' in shown
    draft = versions.draft(stack.runtime.store, "orders")
    assert draft is not None and draft.revision == 1
    assert draft.document["steps"][0]["config"]["rule"] == {"all": [{"field": "order.extra.tags", "op": "contains",
                                                                     "value": "pos-only"}]}

    # Someone else saves meanwhile: an edit from the page they loaded before is refused, not lost.
    post_form(client, "/workflows/orders/steps", {"id": "note", "type": "set", "at": "before deliver",
                                                  "base_revision": "1",
                                                  "config": '{"target": "vars.note", "value": "\'web\'"}'})
    stale = text_of(post_form(client, "/workflows/orders/steps/skip-pos", {"action": "remove", "base_revision": "1"},
                              follow_redirects=True))
    assert "Not saved: integrator-user saved version 1 (revision 2)" in stale and "while you edited from revision 1" in stale
    bad = text_of(post_form(client, "/workflows/orders/steps", {
        "id": "x", "type": "notify", "at": "after confirm", "base_revision": "2", "config": '{"channel": "pigeon"}'},
        follow_redirects=True))
    assert "Not saved: step 'x': channel must be one of webhook, slack, email" in bad

    recent = items.search(stack.runtime.store, flow="orders")[0]
    tried = text_of(post_form(client, "/workflows/orders/try", {"source": f"item:{recent.id}"}))
    assert f"Dry run of version 1 on item {recent.id}: done" in tried
    assert "skip-pos" in tried and "passed" in tried and "the Heartland sales order with its lines (heartland)" in tried

    published = text_of(post_form(client, "/workflows/orders/publish", follow_redirects=True))
    assert "Published version 1" in published and "Live: <strong>version 1</strong>" in published
    diff = text_of(client.get("/workflows/orders?diff=0..1"))
    assert "added step 'skip-pos' (filter) at after normalize" in diff
    rolled = text_of(post_form(client, "/workflows/orders/rollback", follow_redirects=True))
    assert "Rolled back: new events run the built-in steps alone." in rolled
    assert versions.live_version(stack.runtime.store, "orders") == 0


def test_operators_see_the_page_and_cannot_edit(stack: Stack) -> None:
    client = client_as(stack, "operator")
    page = text_of(client.get("/workflows/orders"))
    assert "locked</span> <strong>deliver</strong>" in page and "Add to the draft" not in page
    refused = post_form(client, "/workflows/orders/steps", {"id": "a", "type": "filter", "at": "after check"})
    assert refused.status_code == 403
    assert client.post("/workflows/orders/draft", json={"document": {}},
                       headers={"X-CSRF-Token": csrf_from(client)}).status_code == 403
    assert versions.draft(stack.runtime.store, "orders") is None


def test_the_preview_reads_what_a_step_would_see_on_a_real_order(stack: Stack) -> None:
    """The canvas's live preview: the order as the flow has it at a step, with the vars of the
    workflow's steps before it, for a recent real order; a wrong item is refused with what to do."""
    client = client_as(stack, "integrator")
    item = items.search(stack.runtime.store, flow="orders")[0]
    headers = {"X-CSRF-Token": csrf_from(client)}
    document = {"workflow": "orders", "flow": "orders", "trigger": {"kind": "event"}, "steps": [
        {"id": "note", "type": "set", "at": "after check", "config": {"target": "vars.total", "value": "order.grand_total * 2"}},
        {"id": "big", "type": "filter", "at": "after check",
         "config": {"rule": {"all": [{"field": "vars.total", "op": ">", "value": 1}]}, "reason": "big"}}]}
    saved = client.post("/workflows/orders/draft", json={"document": document, "base_revision": None}, headers=headers)
    assert saved.status_code == 200, saved.get_json()

    at_filter = client.get(f"/workflows/orders/sample?item={item.id}&step=big").get_json()
    order = at_filter["document"]["order"]
    assert at_filter["at"] == "before step 'big'" and at_filter["item"] == item.id
    assert order["email"] == "ann@example.com" and order["grand_total"] > 0
    assert at_filter["document"]["vars"] == {"total": order["grand_total"] * 2}

    before_note = client.get(f"/workflows/orders/sample?item={item.id}&step=note").get_json()
    assert before_note["document"]["vars"] == {} and before_note["document"]["order"] == order
    at_customer = client.get(f"/workflows/orders/sample?item={item.id}&step=customer").get_json()
    assert at_customer["at"] == "step 'customer' was not reached (the run ended ignored before it: big)"

    missing = client.get("/workflows/orders/sample?item=999999&step=big")
    assert missing.status_code == 400 and missing.get_json()["message"] == "there is no item 999999"
    assert client.get("/workflows/orders/sample").get_json()["message"].startswith("say which item")

    page = text_of(client.get("/workflows/orders"))
    assert 'id="wf-canvas"' in page and 'data-test="palette-branch"' in page and "vendor/drawflow/drawflow.min.js" in page
