"""Failure triage over the real flows: a Magento order whose SKU Heartland lacks waits with the cause
unknown_sku and the proposal to create the item or map the SKU; the one-click action retries only
once the item exists, and the order then reaches Heartland exactly once; a rejected proposal is
stored and changes the proposal for the next similar failure, whose mapping fix is applied through
a new mapping version."""

from __future__ import annotations

from typing import Any

import requests
from flask.testing import FlaskClient
from sqlalchemy import select

from service.operations import triage
from service.store import bindings, items
from service.store import mappings as versions_store
from service.store.triage_tables import TriageLabel
from service.store.users import create_user
from tests.stack import HEARTLAND_TOKEN, Stack
from tests.web.support import PASSWORD, post_form, sign_in


def web_only_product(stack: Stack, sku: str) -> None:
    stack.magento_post("products", {"product": {
        "sku": sku, "name": f"Web-only {sku}", "price": 4.5, "attribute_set_id": 4, "type_id": "simple",
        "status": 1, "visibility": 4, "extension_attributes": {"stock_item": {"qty": 100, "is_in_stock": True}}}})


def operator(stack: Stack) -> FlaskClient:
    create_user(stack.runtime.store, "ops", PASSWORD, "operator")
    client = stack.app.test_client()
    assert sign_in(client, "ops").status_code == 302
    return client


def in_review(stack: Stack, number: str) -> Any:
    found = [i for i in items.search(stack.runtime.store, state="review") if number in (i.label or "")]
    return found[0] if found else None


def wait_in_review(stack: Stack, order: dict[str, Any]) -> Any:
    number = str(order["increment_id"])
    stack.wait_for(lambda: in_review(stack, number) is not None, timeout=60, what=f"order #{number} in review")
    return in_review(stack, number)


def group_of(stack: Stack, item_id: int) -> triage.TriageGroup:
    return next(g for g in triage.groups(stack.runtime, kind="review") if item_id in [m.item_id for m in g.members])


def heartland_orders_for(stack: Stack, number: str) -> list[dict[str, Any]]:
    return [o for o in stack.heartland_orders() if str((o.get("custom") or {}).get("magento_order_number")) == number]


def test_unknown_sku_is_triaged_and_retried_once_the_item_exists(stack: Stack) -> None:
    stack.start_worker()
    stack.start_scheduler()
    client = operator(stack)
    web_only_product(stack, "GIFTWRAP-1")
    order = stack.checkout([{"sku": "GIFTWRAP-1", "qty": 1}])
    item = wait_in_review(stack, order)

    group = group_of(stack, item.id)
    assert group.proposal is not None
    assert group.proposal.cause == "unknown_sku"
    assert group.proposal.action == "retry_after_sku_exists"
    assert "create the item" in group.proposal.fix and "map the SKU" in group.proposal.fix
    assert "GIFTWRAP-1" in group.proposal.fix
    page = client.get(f"/items/{item.id}").get_data(as_text=True)
    assert "unknown_sku" in page and "Retry once the SKU exists" in page
    triage_page = client.get("/triage").get_data(as_text=True)
    assert f'data-test="triage-review-{group.signature}"' in triage_page

    # Applied before the item exists: the check refuses, nothing is retried.
    refused = post_form(client, f"/triage/review/{group.signature}/apply", follow_redirects=True)
    assert "SKU GIFTWRAP-1 is still not in Heartland" in refused.get_data(as_text=True)
    assert items.get(stack.runtime.store, item.id).state == "review"  # type: ignore[union-attr]

    created = requests.post(f"{stack.heartland.url}/api/items", timeout=10,
                            headers={"Authorization": f"Bearer {HEARTLAND_TOKEN}"},
                            json={"public_id": "GIFTWRAP-1", "description": "Gift wrap", "price": 4.5})
    assert created.status_code in (200, 201), created.text
    done = post_form(client, f"/triage/review/{group.signature}/apply", follow_redirects=True)
    assert "every SKU exists now" in done.get_data(as_text=True)

    number = str(order["increment_id"])
    stack.wait_for(lambda: items.get(stack.runtime.store, item.id).state == "done",  # type: ignore[union-attr]
                   timeout=60, what="the retried order done")
    assert len(heartland_orders_for(stack, number)) == 1
    assert bindings.count(stack.runtime.store, "order", "heartland") == 1
    with stack.runtime.store.session() as s:
        labels = list(s.scalars(select(TriageLabel)))
    assert [(lb.verdict, lb.action, lb.cause, lb.source_id) for lb in labels] == [
        ("accepted", "retry_after_sku_exists", "unknown_sku", item.id)]
    assert number not in labels[0].features and "sku_prefix=GIFTWRAP" in labels[0].features, \
        "labels keep the failure's shape (numbers and ids normalised away), not the record"


def test_a_rejected_proposal_changes_the_next_one_and_the_mapping_fix_applies(stack: Stack) -> None:
    stack.start_worker()
    stack.start_scheduler()
    client = operator(stack)
    web_only_product(stack, "tee-1000-old")
    first = stack.checkout([{"sku": "tee-1000-old", "qty": 1}])
    item = wait_in_review(stack, first)
    group = group_of(stack, item.id)
    assert group.proposal is not None and group.proposal.action == "retry_after_sku_exists"

    answer = post_form(client, f"/triage/review/{group.signature}/reject",
                       {"better": "apply_mapping_change", "note": "an old SKU of TEE-1000"}, follow_redirects=True)
    assert "Recorded as not right" in answer.get_data(as_text=True)
    with stack.runtime.store.session() as s:
        stored = sorted((lb.verdict, lb.action) for lb in s.scalars(select(TriageLabel)))
    assert stored == [("corrected", "apply_mapping_change"), ("rejected", "retry_after_sku_exists")]
    # The person resolves the first order by hand; then a similar failure comes in.
    items.resolve_review(stack.runtime.store, item.id, actor="ops", note="entered by hand")
    second = stack.checkout([{"sku": "tee-1000-old", "qty": 2}])
    next_item = wait_in_review(stack, second)
    renewed = group_of(stack, next_item.id)
    assert renewed.proposal is not None
    assert renewed.proposal.cause == "unknown_sku"
    assert renewed.proposal.action == "apply_mapping_change", renewed.proposal.scores
    assert renewed.proposal.source == "history"
    assert renewed.can_apply and renewed.mapping_target == "orders.magento_to_canonical"

    wrong = post_form(client, f"/triage/review/{renewed.signature}/apply", {"target_sku": "NO-SUCH-ITEM"},
                      follow_redirects=True)
    assert "Heartland has no item with Item # NO-SUCH-ITEM" in wrong.get_data(as_text=True)
    post_form(client, f"/triage/review/{renewed.signature}/apply", {"target_sku": "TEE-1000"})
    active = versions_store.active(stack.runtime.store, "orders.magento_to_canonical")
    assert active is not None and active.spec["fields"]["lines"]["fields"]["sku"]["map"] == {"tee-1000-old": "TEE-1000"}

    number = str(second["increment_id"])
    stack.wait_for(lambda: items.get(stack.runtime.store, next_item.id).state == "done",  # type: ignore[union-attr]
                   timeout=60, what="the mapped order done")
    [heartland] = heartland_orders_for(stack, number)
    lines = stack.heartland_get(f"sales/orders/{heartland['id']}/lines")["results"]
    tee = stack.runtime.heartland.find_items_by_public_ids(["TEE-1000"])["TEE-1000"]
    assert [(line["item_id"], line["qty"]) for line in lines] == [(tee["id"], 2)]
