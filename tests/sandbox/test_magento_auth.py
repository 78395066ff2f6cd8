"""Who may call the Magento sandbox: OAuth 1.0a, integration Bearer tokens, admin tokens, ACLs."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
from requests_oauthlib import OAuth1

from service.sandbox.magento.app import create_app
from service.sandbox.server import RunningSandbox, start_in_thread

TOKEN = "magento-test-token"
KEY, SECRET, TOKEN_SECRET = "ck-test", "cs-test", "ats-test"
NOT_AUTHORIZED = "The consumer isn't authorized to access %resources."


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    running = start_in_thread(create_app(seed="demo", token=TOKEN, consumer_key=KEY, consumer_secret=SECRET,
                                         access_token_secret=TOKEN_SECRET, history_orders=20))
    yield running
    running.stop()


def oauth(method: str = "HMAC-SHA256", **overrides: str) -> OAuth1:
    values = {"client_key": KEY, "client_secret": SECRET, "resource_owner_key": TOKEN,
              "resource_owner_secret": TOKEN_SECRET, **overrides}
    return OAuth1(**values, signature_method=method)


@pytest.mark.parametrize("method", ["HMAC-SHA256", "HMAC-SHA1"])
def test_oauth_signatures_are_accepted(sandbox: RunningSandbox, method: str) -> None:
    params = {"searchCriteria[filter_groups][0][filters][0][field]": "increment_id",
              "searchCriteria[filter_groups][0][filters][0][value]": "000000003"}
    response = requests.get(f"{sandbox.url}/rest/default/V1/orders", params=params, auth=oauth(method), timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["items"][0]["increment_id"] == "000000003"
    body = {"statusHistory": {"comment": "signed", "is_customer_notified": 0, "is_visible_on_front": 0,
                              "parent_id": 3}}
    posted = requests.post(f"{sandbox.url}/rest/V1/orders/3/comments", json=body, auth=oauth(method), timeout=10)
    assert posted.json() is True


def test_bad_signature_and_unsupported_method(sandbox: RunningSandbox) -> None:
    wrong = requests.get(f"{sandbox.url}/rest/V1/orders/1", auth=oauth(client_secret="nope"), timeout=10)
    assert wrong.status_code == 401
    assert wrong.json() == {"message": "The signature is invalid. Verify and try again."}
    plain = requests.get(f"{sandbox.url}/rest/V1/orders/1", auth=oauth("PLAINTEXT"), timeout=10)
    assert plain.status_code == 400 and plain.json()["parameters"] == ["PLAINTEXT"]


def test_replayed_nonce_and_stale_timestamp_are_refused(sandbox: RunningSandbox) -> None:
    url = f"{sandbox.url}/rest/V1/orders/2"
    first = requests.Request("GET", url, auth=oauth()).prepare()
    session = requests.Session()
    assert session.send(first, timeout=10).status_code == 200
    replay = session.send(first, timeout=10)
    assert replay.status_code == 400
    assert replay.json()["message"].startswith("The nonce is already being used by the consumer")
    stale = requests.Request("GET", url, auth=OAuth1(KEY, SECRET, TOKEN, TOKEN_SECRET, signature_method="HMAC-SHA256",
                                                     timestamp=str(int(time.time()) - 601))).prepare()
    answer = session.send(stale, timeout=10)
    assert answer.status_code == 400
    assert answer.json() == {"message": "The timestamp is invalid. Verify and try again."}


def test_missing_and_unknown_credentials_get_the_acl_message(sandbox: RunningSandbox) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = requests.get(f"{sandbox.url}/rest/V1/orders/1", headers=headers, timeout=10)
        assert response.status_code == 401
        assert response.json() == {"message": NOT_AUTHORIZED,
                                   "parameters": {"resources": "Magento_Sales::actions_view"}}


def test_admin_token_flow(sandbox: RunningSandbox) -> None:
    url = f"{sandbox.url}/rest/V1/integration/admin/token"
    bad = requests.post(url, json={"username": "admin", "password": "wrong"}, timeout=10)
    assert bad.status_code == 401 and "sign-in was incorrect" in bad.json()["message"]
    missing = requests.post(url, json={"username": "admin"}, timeout=10)
    assert missing.json() == {"message": '"%fieldName" is required. Enter and try again.',
                              "parameters": {"fieldName": "password"}}
    token = requests.post(url, json={"username": "admin", "password": "admin123"}, timeout=10).json()
    assert isinstance(token, str) and len(token) > 20
    order = requests.get(f"{sandbox.url}/rest/V1/orders/1", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert order.status_code == 200


def test_integration_bearer_needs_the_flag() -> None:
    app = create_app(seed="demo", token=TOKEN, history_orders=5, enable_integration_as_bearer=False)
    client = app.test_client()
    refused = client.get("/rest/V1/orders/1", headers={"Authorization": f"Bearer {TOKEN}"})
    assert refused.status_code == 401 and refused.get_json()["message"] == NOT_AUTHORIZED
    token = client.post("/rest/V1/integration/admin/token", json={"username": "admin", "password": "admin123"})
    assert client.get("/rest/V1/orders/1", headers={"Authorization": f"Bearer {token.get_json()}"}).status_code == 200


def test_two_factor_auth_refuses_admin_tokens() -> None:
    client = create_app(seed=None, two_factor_auth=True).test_client()
    response = client.post("/rest/V1/integration/admin/token", json={"username": "admin", "password": "admin123"})
    assert response.status_code == 401
    assert response.get_json()["message"] == "Please use the 2fa provider-specific endpoints to obtain a token."


def test_acl_denial_names_the_resource() -> None:
    app = create_app(seed="demo", token=TOKEN, history_orders=5,
                     integration_resources=["Magento_Sales::actions_view"])
    client = app.test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/rest/V1/orders/1", headers=auth).status_code == 200
    denied = client.post("/rest/V1/orders/1/hold", headers=auth)
    assert denied.status_code == 401
    assert denied.get_json() == {"message": NOT_AUTHORIZED, "parameters": {"resources": "Magento_Sales::hold"}}
