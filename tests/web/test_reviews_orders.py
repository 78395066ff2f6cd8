"""The risk team's order review page: the queue with filters, one order, and decisions that act on a
real Magento sandbox over HTTP (hold, unhold, cancel) and move the sync item, with who and when."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import delete, update

from service.app.runtime import Runtime
from service.flows.checks import fraud
from service.flows.checks.fraud import StoreOrderHistory
from service.sandbox.magento.app import create_app as create_magento
from service.sandbox.server import RunningSandbox, start_in_thread
from service.store import items, reviews
from service.store.tables import OrderFact, OrderReview, utcnow
from service.store.users import create_token
from tests.web.browser import go_to, sign_in_browser
from tests.web.support import post_form

TOKEN = "magento-review-token"


@pytest.fixture
def magento(runtime: Runtime) -> Iterator[RunningSandbox]:
    with runtime.store.session() as s:  # a shared PostgreSQL keeps facts of earlier tests' orders
        s.execute(delete(OrderFact))
    server = start_in_thread(create_magento(seed="demo", token=TOKEN))
    runtime.reconfigure(TILLBRIDGE_MAGENTO_URL=f"{server.url}/rest")
    runtime.reconfigure(TILLBRIDGE_MAGENTO_TOKEN=TOKEN)
    try:
        yield server
    finally:
        server.stop()


def magento_order(server: RunningSandbox, entity_id: int | str) -> dict[str, Any]:
    response = requests.get(f"{server.url}/rest/V1/orders/{entity_id}", headers={"Authorization": f"Bearer {TOKEN}"},
                            timeout=10)
    response.raise_for_status()
    return dict(response.json())


@dataclasses.dataclass
class Held:
    review: OrderReview
    order: dict[str, Any]


@pytest.fixture
def hold(runtime: Runtime, magento: RunningSandbox) -> Callable[..., Held]:
    """Place an order in the sandbox, run it through the scorer, and hold it for review as the
    orders flow does (with the score and reasons given, so the queue's order is known)."""

    def make(email: str, score: float, reasons: list[str], age_minutes: int = 0) -> Held:
        response = requests.post(f"{magento.url}/__sandbox/checkout", timeout=10,
                                 json={"items": [{"sku": "TEE-1000", "qty": 2}, {"sku": "MUG-1003", "qty": 1}],
                                       "customer_email": email})
        order = dict(response.json())
        key = f"orders:magento:default:{order['entity_id']}"
        with runtime.store.session() as s:
            item = items.create(s, flow="orders", entity_key=key, label=f"order #{order['increment_id']}",
                                payload={"event": "order.created", "store_code": "default", "data": order})
        scored = fraud.scorer_for(runtime).score(order, StoreOrderHistory(runtime.store))
        fraud.record_order(runtime.store, key, order, scored)
        assessment = dataclasses.replace(scored, score=score, flagged=True, explanation=reasons)
        reason = fraud.review_reason(score, assessment.threshold, reasons)
        fence = items.claim(runtime.store, item.id, 60).fence  # type: ignore[union-attr]
        items.finish(runtime.store, item.id, fence=fence, state="review", reason=reason, result={}, attempts=1,
                     steps=[{"step": "check", "status": "ok", "message": reason, "detail": {}, "ms": 1.0}])
        review, created = fraud.hold_for_review(runtime, item_id=item.id, order_key=key, order=order,
                                                          assessment=assessment)
        assert created
        if age_minutes:
            with runtime.store.session() as s:
                s.execute(update(OrderReview).where(OrderReview.id == review.id)
                          .values(created_at=utcnow() - timedelta(minutes=age_minutes)))
        return Held(review=review, order=order)

    return make


def rows(html: str) -> list[str]:
    """Order numbers in the queue table, in the order shown."""
    import re

    return re.findall(r'data-order="([^"]+)"', html)


def test_queue_is_for_risk_and_admin_only(signed_in: Callable[[str], FlaskClient], client: FlaskClient) -> None:
    assert client.get("/reviews/orders").status_code == 302
    for role in ("operator", "integrator"):
        assert signed_in(role).get("/reviews/orders").status_code == 403
    for role in ("risk", "admin"):
        page = signed_in(role).get("/reviews/orders")
        assert page.status_code == 200 and "Order reviews" in page.get_data(as_text=True)


def test_queue_newest_first_or_by_score_with_filters(hold: Callable[..., Held],
                                                     signed_in: Callable[[str], FlaskClient]) -> None:
    old_high = hold("ann@example.com", 0.998, ["billing and shipping countries differ: only 0.9% of orders"], 30)
    new_low = hold("bo@example.com", 0.993, ["placed at 03:00, an hour with only 0.4% of orders"])
    risk = signed_in("risk")
    numbers = [old_high.order["increment_id"], new_low.order["increment_id"]]

    newest = risk.get("/reviews/orders").get_data(as_text=True)
    assert rows(newest) == [numbers[1], numbers[0]]
    assert "billing and shipping countries differ" in newest and "ann@example.com" in newest
    assert rows(risk.get("/reviews/orders?sort=score").get_data(as_text=True)) == numbers
    assert rows(risk.get("/reviews/orders?min_score=0.995").get_data(as_text=True)) == [numbers[0]]
    assert rows(risk.get("/reviews/orders?max_score=0.995").get_data(as_text=True)) == [numbers[1]]
    assert rows(risk.get("/reviews/orders?q=bo@").get_data(as_text=True)) == [numbers[1]]
    assert rows(risk.get("/reviews/orders?state=approved").get_data(as_text=True)) == []

    answer = risk.get("/reviews/orders?sort=score", headers={"Accept": "application/json"}).get_json()
    assert [r["order_number"] for r in answer["reviews"]] == numbers
    assert answer["reviews"][0]["explanation"] == ["billing and shipping countries differ: only 0.9% of orders"]


def test_order_page_shows_reasons_lines_and_customer_history(hold: Callable[..., Held], runtime: Runtime,
                                                             signed_in: Callable[[str], FlaskClient]) -> None:
    earlier = hold("cy@example.com", 0.994, ["grand total $88.00 is above 99.1% of orders"], 60)
    fraud.approve(runtime, earlier.review.id, actor="risk-ann")
    held = hold("cy@example.com", 0.996, ["distinct cards used by this email in the last 24 hours: 3, above 99.9% of orders"])
    page = signed_in("risk").get(f"/reviews/orders/{held.review.id}").get_data(as_text=True)
    assert "distinct cards used by this email in the last 24 hours: 3" in page
    assert "TEE-1000" in page and "MUG-1003" in page  # the order's lines
    assert f"#{earlier.order['increment_id']}" in page  # the customer's earlier order, from the facts
    assert "approved by risk-ann" in page
    assert "Approve" in page and "Reject" in page and "Escalate" in page


def test_approve_releases_the_hold_and_sends_the_item_back_to_sync(
        hold: Callable[..., Held], runtime: Runtime, magento: RunningSandbox,
        signed_in: Callable[[str], FlaskClient]) -> None:
    held = hold("dee@example.com", 0.995, ["email at a disposable-address provider: only 0.3% of orders"])
    assert magento_order(magento, held.order["entity_id"])["state"] == "holded"
    risk = signed_in("risk")
    answer = post_form(risk, f"/reviews/orders/{held.review.id}/approve", {"note": "known customer"})
    assert answer.status_code == 302
    assert "approved" in risk.get("/reviews/orders?state=all").get_data(as_text=True)

    magento_state = magento_order(magento, held.order["entity_id"])
    assert magento_state["state"] == "new"
    assert any("Released after a fraud review by risk-user: known customer" in (h.get("comment") or "")
               for h in magento_state["status_histories"])
    review = reviews.get(runtime.store, held.review.id)
    assert review is not None and review.state == "approved" and review.decided_by == "risk-user"
    assert review.note == "known customer" and review.decided_at is not None
    item = items.get(runtime.store, held.review.item_id)
    assert item is not None and item.state == "received"
    assert runtime.queue.count == 1  # enqueued for the worker: sync continues
    step = items.steps(runtime.store, item.id)[-1]
    assert step.step == "review" and "approved by risk-user" in step.message
    assert rows(risk.get("/reviews/orders").get_data(as_text=True)) == []  # left the queue
    assert reviews.labels(runtime.store) == {review.order_key: "legitimate"}


def test_reject_cancels_in_magento_and_ignores_the_item(hold: Callable[..., Held], runtime: Runtime,
                                                         magento: RunningSandbox,
                                                         signed_in: Callable[[str], FlaskClient]) -> None:
    held = hold("eve@example.com", 0.997, ["billing and shipping countries differ: only 0.9% of orders"])
    risk = signed_in("risk")
    post_form(risk, f"/reviews/orders/{held.review.id}/reject", {"note": "stolen card"})
    assert magento_order(magento, held.order["entity_id"])["state"] == "canceled"
    item = items.get(runtime.store, held.review.item_id)
    assert item is not None and item.state == "ignored" and item.reason == "rejected by risk-user: stolen card"
    with_token = post_form(risk, f"/reviews/orders/{held.review.id}/approve", follow_redirects=True)
    assert "already rejected by risk-user" in with_token.get_data(as_text=True)
    assert magento_order(magento, held.order["entity_id"])["state"] == "canceled"


def test_escalate_keeps_it_held_and_in_the_queue(hold: Callable[..., Held], runtime: Runtime,
                                                 magento: RunningSandbox,
                                                 signed_in: Callable[[str], FlaskClient]) -> None:
    held = hold("fay@example.com", 0.995, ["units ordered: 40, above 99.9% of orders"])
    risk = signed_in("risk")
    post_form(risk, f"/reviews/orders/{held.review.id}/escalate", {"note": "ask the bank"})
    assert magento_order(magento, held.order["entity_id"])["state"] == "holded"
    item = items.get(runtime.store, held.review.item_id)
    assert item is not None and item.state == "review" and item.reason.startswith("escalated by risk-user: ask the bank")
    page = risk.get("/reviews/orders").get_data(as_text=True)
    assert rows(page) == [held.order["increment_id"]] and "escalated" in page


def test_bulk_decisions_over_selected_rows(hold: Callable[..., Held], runtime: Runtime, magento: RunningSandbox,
                                           signed_in: Callable[[str], FlaskClient]) -> None:
    first = hold("gus@example.com", 0.995, ["a"])
    second = hold("hal@example.com", 0.996, ["b"])
    third = hold("ida@example.com", 0.997, ["c"])
    risk = signed_in("risk")
    answer = post_form(risk, "/reviews/orders/bulk", {"decision": "reject", "note": "ring of fraud",
                                                     "review_ids": [first.review.id, second.review.id]},
                       follow_redirects=True)
    assert "2 orders rejected." in answer.get_data(as_text=True)
    assert rows(answer.get_data(as_text=True)) == [third.order["increment_id"]]
    for held in (first, second):
        assert magento_order(magento, held.order["entity_id"])["state"] == "canceled"
    assert reviews.counts_by_state(runtime.store) == {"rejected": 2, "queued": 1}
    refused = post_form(risk, "/reviews/orders/bulk", {"decision": "approve"}, follow_redirects=True)
    assert "Select one or more orders" in refused.get_data(as_text=True)


def test_decisions_need_the_csrf_token(hold: Callable[..., Held], signed_in: Callable[[str], FlaskClient]) -> None:
    held = hold("jo@example.com", 0.995, ["a"])
    risk = signed_in("risk")
    assert risk.post(f"/reviews/orders/{held.review.id}/approve").status_code == 400
    assert risk.post("/reviews/orders/bulk", data={"decision": "approve", "review_ids": held.review.id}).status_code == 400


def test_browser_risk_user_approves_one_and_it_leaves_the_queue(
        hold: Callable[..., Held], runtime: Runtime, live_server: str, browser_page: Any,
        make_user: Callable[..., str]) -> None:
    staying = hold("kai@example.com", 0.996, ["billing and shipping countries differ: only 0.9% of orders"], 5)
    leaving = hold("lee@example.com", 0.998, ["email at a disposable-address provider: only 0.3% of orders"])
    page = browser_page
    sign_in_browser(page, live_server, make_user("risk"))
    go_to(page, "Order reviews")
    page.wait_for_url(f"{live_server}/reviews/orders")
    row = page.locator(f"tr[data-test=review-{leaving.review.id}]")
    assert "disposable-address provider" in row.inner_text()
    assert page.locator("button[data-needs-selection]").first.is_disabled()  # bulk needs a selection
    row.get_by_role("button", name="Approve").click()
    page.wait_for_selector(".flash-ok")
    assert f"Order #{leaving.order['increment_id']} approved" in page.inner_text(".flash-ok")
    assert page.locator(f"tr[data-test=review-{leaving.review.id}]").count() == 0
    assert page.locator(f"tr[data-test=review-{staying.review.id}]").count() == 1
    review = reviews.get(runtime.store, leaving.review.id)
    assert review is not None and review.state == "approved" and review.decided_by == "risk-user"


def test_api_token_decides_with_json_and_is_recorded_as_api_user(
        hold: Callable[..., Held], runtime: Runtime, magento: RunningSandbox, client: FlaskClient,
        make_user: Callable[..., str]) -> None:
    held = hold("max@example.com", 0.995, ["a"])
    _, token = create_token(runtime.store, make_user("risk", "risk-bot"), "triage")
    headers = {"Authorization": f"Bearer {token}"}
    queue = client.get("/reviews/orders", headers=headers).get_json()
    assert [r["id"] for r in queue["reviews"]] == [held.review.id]
    answer = client.post(f"/reviews/orders/{held.review.id}/reject", headers=headers, json={"note": "chargeback"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["state"] == "rejected" and answer.get_json()["decided_by"] == "api:risk-bot"
    again = client.post(f"/reviews/orders/{held.review.id}/approve", headers=headers, json={})
    assert again.status_code == 409 and "already rejected" in again.get_json()["message"]
    assert magento_order(magento, held.order["entity_id"])["state"] == "canceled"
    assert client.get(f"/reviews/orders/{held.review.id}", headers=headers).get_json()["lines"][0]["sku"] == "TEE-1000"
