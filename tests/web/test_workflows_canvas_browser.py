"""The workflow canvas in headless Chromium, over the sandboxes: an integrator builds "orders over
$1,000 from a first-time customer → hold for review and notify a webhook" by dragging step types onto
the canvas and filling in their forms (the live preview evaluates the condition on a real order in
the browser), tries it on that order in a dry run, publishes it; a real big order is held with the
reason and the local webhook receiver gets one notice; a small one syncs; rolled back on the page,
the next big order syncs. The page is checked for sideways scrolling at 1,366 and 800 px."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.store import bindings, items
from service.store.users import create_user
from service.workflows import versions
from tests.stack import Stack
from tests.web.browser import go_to, sign_in_browser
from tests.web.support import PASSWORD
from tests.workflows.test_builder_scenario import SKU, Receiver, _item_for

pytestmark = pytest.mark.browser

SHOTS = os.environ.get("TILLBRIDGE_SCREENSHOTS")
WIDTHS = (1366, 800)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def overflow(page: Any) -> str:
    scroll, client = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    return f"{scroll} > {client}" if scroll > client else ""


def drop(page: Any, step_type: str, target: str) -> None:
    """Drag a step type from the palette onto a box of the canvas, as a person does."""
    box = f"#wf-canvas [data-test='node-{target}']"
    page.locator(box).scroll_into_view_if_needed()
    page.hover(f"[data-test=palette-{step_type}]")
    page.mouse.down()
    page.hover(".wf-intro")  # through the page, then onto the box: the browser's own drag and drop
    page.hover(box)
    page.hover(box, position={"x": 30, "y": 12})
    page.mouse.up()
    page.wait_for_selector("[data-test=step-form]")


def saved(page: Any, said: str) -> None:
    page.click("[data-test=save-step]")
    page.wait_for_function("(said) => (document.querySelector('[data-test=canvas-note]') || {}).textContent"
                           "?.includes(said)", arg=said)
    page.locator("[data-test=save-step]", has_text="Save the step").wait_for()  # the canvas is drawn again


def shoot(page: Any, folder: Path, name: str) -> list[str]:
    """Screenshots at both widths; what scrolls sideways at either."""
    problems = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_function("document.getElementById('wf-canvas')?.dataset.drawn")
        page.wait_for_timeout(300)  # the canvas is redrawn to the new width
        if overflow(page):
            problems.append(f"{name} at {width} px: {overflow(page)}")
        page.screenshot(path=str(folder / f"workflows-{name}-{width}.png"), full_page=True)
        page.screenshot(path=str(folder / f"workflows-{name}-{width}-window.png"))  # what the window shows
    page.set_viewport_size({"width": 1366, "height": 900})
    return problems


def test_an_integrator_builds_a_workflow_on_the_canvas(stack: Stack, receiver: Receiver, browser_page: Any,
                                                       tmp_path: Path) -> None:
    runtime = stack.runtime
    stack.settings["WEBHOOKS_ALLOW_PRIVATE_URLS"] = "1"  # the receiver is on this machine
    runtime.reconfigure(WEBHOOKS_ALLOW_PRIVATE_URLS=True)
    shots = Path(SHOTS or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    create_user(runtime.store, "ivy", PASSWORD, "integrator")

    big = stack.checkout([{"sku": SKU, "qty": 60}], email="first.timer@example.com")
    small = stack.checkout([{"sku": SKU, "qty": 1}], email="small.buyer@example.com")
    assert float(big["grand_total"]) > 1000 > float(small["grand_total"])
    stack.wait_for(lambda: _item_for(stack, big["entity_id"]) and _item_for(stack, small["entity_id"]),
                   what="both order events received")
    big_item, small_item = _item_for(stack, big["entity_id"]), _item_for(stack, small["entity_id"])

    page = browser_page
    base = stack.web.url
    sign_in_browser(page, base, "ivy")
    go_to(page, "Workflows")
    page.click("[data-test=workflow-orders] a")
    page.wait_for_function("document.getElementById('wf-canvas')?.dataset.drawn")
    for locked in ("check", "deliver", "confirm"):
        assert page.locator(f"#wf-canvas [data-test='node-locked:{locked}']").is_visible()
    problems = shoot(page, shots, "empty")

    # 1. Look up the customer's earlier orders, right after the flow's check.
    drop(page, "lookup", "point:after check")
    form = page.locator("[data-test=step-form]")
    form.locator("[name=id]").fill("prior-orders")
    form.locator("[name=source]").select_option("magento.orders_before")
    form.locator("[name=input]").fill("order.email")
    form.locator("[name=as]").fill("prior")
    saved(page, "Added step \"prior-orders\"")
    assert page.locator("#wf-list [data-test=step-prior-orders]").is_visible()  # the list beside it follows

    # 2. A branch: big and new, built with the rule builder's rows; the preview runs on the big order.
    drop(page, "branch", "point:after check")
    form.locator("[name=id]").fill("big-first-order")
    form.locator("[name=output_name]").fill("big_and_new")
    rows = form.locator("[data-test=rule-row]")
    rows.nth(0).locator("[name=rule_field]").fill("order.grand_total")
    rows.nth(0).locator("[name=rule_op]").select_option(">")
    rows.nth(0).locator("[name=rule_value]").fill("1000")
    form.locator("[data-test=add-condition]").click()
    rows.nth(1).locator("[name=rule_field]").fill("vars.prior.count")
    rows.nth(1).locator("[name=rule_op]").select_option("=")
    rows.nth(1).locator("[name=rule_value]").fill("0")
    form.locator("[data-test=sample]").select_option(str(big_item.id))
    preview = form.locator("[data-test=preview]")
    preview.locator("text=This order would take big_and_new.").wait_for()
    assert f"order.grand_total is {float(big['grand_total']):g}" in rows.nth(0).inner_text().replace(".0 ", " ")
    assert "vars.prior.count is 0" in rows.nth(1).inner_text()
    form.locator("[data-test=sample]").select_option(str(small_item.id))
    preview.locator("text=No output matches: this order would go on (otherwise).").wait_for()
    saved(page, "Added step \"big-first-order\"")
    assert page.locator("#wf-canvas [data-test='node-slot:big-first-order:big_and_new']").is_visible()

    # 3. Into the branch's output: notify the webhook, then hold for review.
    drop(page, "notify", "slot:big-first-order:big_and_new")
    form.locator("[name=id]").fill("tell-risk")
    form.locator("[name=url]").fill(receiver.url)
    form.locator("[name=message]").fill("Order {{order.number}} ({{order.grand_total}}) from a first-time customer "
                                        "is held for review")
    form.locator("[name=idempotency_key]").fill("big-first:{{order.number}}")
    saved(page, "Added step \"tell-risk\"")
    drop(page, "hold", "slot:big-first-order:big_and_new")
    form.locator("[name=id]").fill("hold-big")
    form.locator("[name=reason]").fill("Order {{order.number}} is over $1,000 from a first-time customer: check it, "
                                       "then retry it from review")
    form.locator("[data-test=sample]").select_option(str(big_item.id))
    rendered = form.locator("[data-test=rendered-reason]")
    rendered.locator(f"text=Order {big['increment_id']} is over $1,000").wait_for()
    saved(page, "Added step \"hold-big\"")

    draft = versions.draft(runtime.store, "orders")
    assert draft is not None and draft.revision == 4, draft
    branch = draft.document["steps"][1]
    assert branch["config"]["outputs"][0]["rule"] == {"all": [{"field": "order.grand_total", "op": ">", "value": 1000},
                                                              {"field": "vars.prior.count", "op": "=", "value": 0}]}
    assert [s["id"] for s in branch["config"]["outputs"][0]["steps"]] == ["tell-risk", "hold-big"]
    problems += shoot(page, shots, "built")

    # 4. Try it on the big order: the dry run holds it and lists the notice it would send.
    page.select_option("[data-test=test] select[name=source]", f"item:{big_item.id}")
    page.click("[data-test=test] button[type=submit]")
    report = page.locator("[data-test=report]")
    assert "review" in report.locator("h3").inner_text()
    assert "is over $1,000 from a first-time customer" in report.inner_text()
    effects = page.locator("[data-test=effects]").inner_text()
    assert "tell-risk: notify" in effects and "send" in effects, effects
    assert receiver.received == []
    problems += shoot(page, shots, "tested")

    # 5. Publish; the worker runs both real orders.
    page.click("form[action$='/publish'] button")
    assert "Published version 1" in page.locator(".flash").inner_text()
    stack.start_worker()
    stack.start_scheduler()
    stack.wait_for(lambda: stack.settled(2), timeout=90, what="both orders finished")
    held = items.get(runtime.store, big_item.id)
    assert held is not None and held.state == "review", (held and held.state, held and held.reason)
    assert held.reason == f"Order {big['increment_id']} is over $1,000 from a first-time customer: check it, " \
                          "then retry it from review"
    assert bindings.find(runtime.store, "order", f"magento:default:{small['entity_id']}", "heartland") is not None
    assert len(receiver.received) == 1
    assert str(big["increment_id"]) in receiver.received[0]["body"]["message"]

    # 6. Roll back on the page: the next big order from a new customer syncs, and nobody is notified.
    page.click("form[action$='/rollback'] button")
    assert "Rolled back: new events run the built-in steps alone." in page.locator(".flash").inner_text()
    after = stack.checkout([{"sku": SKU, "qty": 60}], email="another.first.timer@example.com")
    stack.wait_for(lambda: bindings.find(runtime.store, "order", f"magento:default:{after['entity_id']}",
                                         "heartland") is not None, timeout=60, what="the big order after rollback")
    assert len(receiver.received) == 1
    assert not problems, "the workflow page scrolls sideways:\n" + "\n".join(problems)
