"""MagentoClient against the Magento sandbox over HTTP: auth, paging, errors, store scope."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from service.connectors.magento.client import MagentoClient, criteria_params, render_message
from service.kernel.errors import AuthError, DataError, NotFoundInTargetError, RateLimitedError
from service.kernel.exchanges import Exchange
from service.sandbox.magento.app import create_app
from service.sandbox.server import RunningSandbox, start_in_thread
from tests.connectors.magento_schema import schema_path, validate_request

TOKEN = "magento-client-token"
OAUTH = {"consumer_key": "ck", "consumer_secret": "cs", "access_token": TOKEN, "access_token_secret": "ats"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    running = start_in_thread(create_app(seed="demo", token=TOKEN, consumer_key="ck", consumer_secret="cs",
                                         access_token_secret="ats"))
    yield running
    # Every request these tests made through the client must also conform to Adobe's schema.
    logged = requests.get(f"{running.url}/__sandbox/requests", params={"path": "/rest/"}, timeout=10).json()
    running.stop()
    if schema_path().exists():
        problems = [p for r in logged["requests"]
                    for p in validate_request(r["method"], r["path"], r["body"], r["query"])]
        assert problems == []


@pytest.fixture()
def client(sandbox: RunningSandbox) -> MagentoClient:
    return MagentoClient(f"{sandbox.url}/rest", **OAUTH)


def requests_since(sandbox: RunningSandbox, seq: int) -> list[dict[str, Any]]:
    return list(requests.get(f"{sandbox.url}/__sandbox/requests", params={"since": seq}, timeout=10).json()["requests"])


def last_seq(sandbox: RunningSandbox) -> int:
    return int(requests.get(f"{sandbox.url}/__sandbox/requests", params={"path": "/none"}, timeout=10).json()["last"])


def test_oauth_and_bearer_clients_read_the_same_order(sandbox: RunningSandbox, client: MagentoClient) -> None:
    bearer = MagentoClient(f"{sandbox.url}/rest", token=TOKEN, store_code=None)
    sha1 = MagentoClient(f"{sandbox.url}/rest", signature_method="HMAC-SHA1", **OAUTH)
    assert client.order(4) == bearer.order(4) == sha1.order(4)
    assert client.order(4)["increment_id"] == "000000004"


def test_credentials_must_be_complete(sandbox: RunningSandbox) -> None:
    with pytest.raises(ValueError, match="all four"):
        MagentoClient(f"{sandbox.url}/rest", consumer_key="ck", consumer_secret="cs")
    with pytest.raises(ValueError, match="credentials missing"):
        MagentoClient(f"{sandbox.url}/rest")


def test_iterator_pages_until_total_count(sandbox: RunningSandbox, client: MagentoClient) -> None:
    expected = client.search_orders([("state", "new")])["total_count"]
    start = last_seq(sandbox)
    seen = [o["entity_id"] for o in client.iter_orders([("state", "new")], page_size=25)]
    assert len(seen) == len(set(seen)) == expected
    assert seen == sorted(seen)
    pages = [r for r in requests_since(sandbox, start) if r["path"].endswith("/V1/orders")]
    assert len(pages) == -(-expected // 25)  # no extra request past the last page


def test_filter_groups_and_sort(client: MagentoClient) -> None:
    result = client.search_orders(
        [("state", ["new", "processing"], "in"), [("grand_total", 200, "gt"), ("customer_is_guest", 1)]],
        sort=["-grand_total"], page_size=500,
    )
    assert result["items"], "the seeded history has matches"
    for order in result["items"]:
        assert order["state"] in ("new", "processing")
        assert order["grand_total"] > 200 or order["customer_is_guest"] == 1
    totals = [o["grand_total"] for o in result["items"]]
    assert totals == sorted(totals, reverse=True)
    trimmed = client.search_orders({"increment_id": "000000010"}, fields="items[entity_id,increment_id]")
    assert trimmed == {"items": [{"entity_id": 10, "increment_id": "000000010"}]}


def test_comment_hold_unhold_cancel(sandbox: RunningSandbox, client: MagentoClient) -> None:
    placed = requests.post(f"{sandbox.url}/__sandbox/checkout", json={"items": [{"sku": "JKT-1006", "qty": 1}]},
                           timeout=10).json()
    oid = placed["entity_id"]
    assert client.add_order_comment(oid, "Heartland order #5001", is_customer_notified=True) is True
    comments = client.order_comments(oid)
    assert comments[0]["comment"] == "Heartland order #5001" and comments[0]["is_customer_notified"] == 1
    assert client.hold(oid) and client.order(oid)["state"] == "holded"
    assert client.order_status(oid) == "holded"
    assert client.unhold(oid) and client.order(oid)["state"] == "new"
    assert client.cancel(oid) is True
    assert client.cancel(oid) is False
    with pytest.raises(DataError, match="A hold action is not available"):
        client.hold(oid)
    found = client.order_by_increment_id(placed["increment_id"])
    assert found is not None and found["entity_id"] == oid


def test_errors_are_classified_with_rendered_messages(sandbox: RunningSandbox, client: MagentoClient) -> None:
    with pytest.raises(NotFoundInTargetError, match="doesn't exist"):
        client.order(987654)
    with pytest.raises(DataError, match='The status "holded" is not part of the order status history'):
        client.add_order_comment(1, "x", status="holded")
    wrong = MagentoClient(f"{sandbox.url}/rest", token="not-the-token")
    with pytest.raises(AuthError, match="isn't authorized to access Magento_Sales::actions_view"):
        wrong.order(1)


def test_rate_limit_answers_are_rate_limited_errors(sandbox: RunningSandbox, client: MagentoClient) -> None:
    requests.post(f"{sandbox.url}/__sandbox/faults", json={"rate_limit_per_second": 1}, timeout=10)
    try:
        with pytest.raises(RateLimitedError) as caught:
            for _ in range(5):
                client.order(1)
        assert caught.value.retry_after is not None and caught.value.retry_after >= 1
    finally:
        requests.post(f"{sandbox.url}/__sandbox/faults", json={}, timeout=10)


def test_store_code_goes_in_the_url_and_exchanges_are_redacted(sandbox: RunningSandbox) -> None:
    seen: list[Exchange] = []
    client = MagentoClient(f"{sandbox.url}/rest", token=TOKEN, store_code="default", on_exchange=seen.append)
    start = last_seq(sandbox)
    client.order(2)
    assert requests_since(sandbox, start)[0]["path"] == "/rest/default/V1/orders/2"
    assert seen[0].url.endswith("/rest/default/V1/orders/2") and seen[0].status == 200
    assert TOKEN not in repr(seen[0])


def test_criteria_params_and_messages() -> None:
    assert criteria_params() == {"searchCriteria[currentPage]": "1"}
    params = criteria_params([("a", 1), [("b", [1, 2], "in"), ("c", True)]], sort=[("d", "desc")], page_size=5)
    assert params["searchCriteria[filter_groups][1][filters][0][value]"] == "1,2"
    assert params["searchCriteria[filter_groups][1][filters][1][value]"] == "1"
    assert params["searchCriteria[sortOrders][0][direction]"] == "DESC"
    assert render_message({"message": "No such entity with %fieldName = %fieldValue",
                           "parameters": {"fieldName": "id", "fieldValue": 7}}) == "No such entity with id = 7"
    assert render_message({"message": 'Bad "%1" and %2', "parameters": ["x", "y"]}) == 'Bad "x" and y'
