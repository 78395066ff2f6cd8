"""The connections page against the Heartland sandbox over HTTP: OAuth 2.0 set up in a real browser
(consent page, code, token exchange), stored encrypted and tested; a bad token is refused with what
to do; the OAuth state is single-use."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask

from service.sandbox.heartland.app import create_app as create_heartland
from service.sandbox.server import RunningSandbox, start_in_thread
from service.settings import value_of
from service.store.tables import StoredCredential
from tests.web.browser import sign_in_browser
from tests.web.support import post_form

CLIENT_ID, CLIENT_SECRET = "tillbridge", "tillbridge-sandbox-client-secret"


@pytest.fixture
def heartland() -> Iterator[RunningSandbox]:
    sandbox = start_in_thread(create_heartland(seed="demo", token="env-token-1234"))
    yield sandbox
    sandbox.stop()


@pytest.fixture
def app(settings: dict[str, Any], heartland: RunningSandbox) -> Iterator[Flask]:
    from service.app.factory import create_app

    application = create_app({**settings, "AUTO_MIGRATE": False, "TILLBRIDGE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
                              "TILLBRIDGE_HEARTLAND_URL": f"{heartland.url}/api", "TILLBRIDGE_HEARTLAND_TOKEN": "env-token-1234"})
    yield application
    application.extensions["tillbridge"].store.dispose()


@pytest.mark.browser
def test_heartland_is_connected_through_oauth_and_tested(live_server: str, browser_page: Any, app: Flask,
                                                        make_user: Callable[..., str]) -> None:
    runtime = app.extensions["tillbridge"]
    page = browser_page
    sign_in_browser(page, live_server, make_user("admin", "ada"))
    page.goto(f"{live_server}/connections")
    assert page.locator("[data-test=source-heartland]").inner_text() == "environment"
    form = page.locator("[data-test=oauth-form]")
    form.locator("input[name=client_id]").fill(CLIENT_ID)
    form.locator("input[name=client_secret]").fill(CLIENT_SECRET)
    form.locator("button[type=submit]").click()
    assert "Allow access?" in page.content()  # Heartland's consent page (the sandbox's)
    page.click("button[value=allow]")
    page.wait_for_url(f"{live_server}/connections")
    flash = page.locator(".flash").inner_text()
    assert "Heartland connected through OAuth 2.0" in flash and "location(s)" in flash, flash
    assert page.locator("[data-test=source-heartland]").inner_text() == "OAuth 2.0 (connections page)"

    token = runtime.connection_settings("heartland").TILLBRIDGE_HEARTLAND_TOKEN
    assert token.startswith("hlo_") and token != "env-token-1234"
    with runtime.store.session() as s:
        row = s.get(StoredCredential, "heartland")
        assert row is not None and token not in row.ciphertext and CLIENT_SECRET not in row.ciphertext
    assert token not in page.content() and CLIENT_SECRET not in page.content()

    page.click("[data-test=test-heartland]")
    assert "Heartland answered" in page.locator(".flash").inner_text()


def test_a_wrong_token_is_refused_with_what_to_do(app: Flask, signed_in: Callable[[str], Any]) -> None:
    client = signed_in("admin")
    response = post_form(client, "/connections/heartland/token", {"url": app.extensions["tillbridge"].settings.TILLBRIDGE_HEARTLAND_URL,
                                                                   "token": "not-a-token"}, follow_redirects=True)
    text = response.get_data(as_text=True)
    assert "heartland refused the credentials" in text and "paste a new token" in text
    assert "not-a-token" not in text


def test_a_callback_with_an_unknown_or_used_state_changes_nothing(app: Flask, signed_in: Callable[[str], Any]) -> None:
    client = signed_in("admin")
    response = client.get("/connections/heartland/callback?code=abc&state=forged", follow_redirects=True)
    assert "unknown or older than 10 minutes" in response.get_data(as_text=True)
    assert app.extensions["tillbridge"].connection_settings("heartland").TILLBRIDGE_HEARTLAND_TOKEN == "env-token-1234"


def test_only_admins_see_connections(signed_in: Callable[[str], Any]) -> None:
    assert signed_in("operator").get("/connections").status_code == 403


@pytest.fixture
def magento() -> Iterator[RunningSandbox]:
    from service.sandbox.magento.app import create_app as create_magento

    sandbox = start_in_thread(create_magento(seed="demo", token="magento-env-token"))
    yield sandbox
    sandbox.stop()


@pytest.mark.browser
def test_magento_is_connected_through_the_integration_activation_handshake(
        settings: dict[str, Any], magento: RunningSandbox, browser_page: Any, make_user: Callable[..., str],
        app: Flask, live_server: str) -> None:
    import requests

    runtime = app.extensions["tillbridge"]
    runtime.reconfigure(TILLBRIDGE_MAGENTO_URL=f"{magento.url}/rest")
    page = browser_page
    sign_in_browser(page, live_server, make_user("admin", "ada"))

    # Another store's activation is refused: only the configured Magento may hand us keys.
    refused = requests.post(f"{live_server}/connections/magento/activate", timeout=10, data={
        "oauth_consumer_key": "k", "oauth_consumer_secret": "s", "store_base_url": "http://evil.example/",
        "oauth_verifier": "v"})
    assert refused.status_code == 400 and "not the configured Magento" in refused.json()["message"]

    # The admin clicks Activate in Magento: Magento posts the keys to our endpoint, then opens the identity link.
    clicked = requests.post(f"{magento.url}/__sandbox/integrations/activate", timeout=20, json={
        "endpoint_url": f"{live_server}/connections/magento/activate",
        "identity_link_url": f"{live_server}/connections/magento/identity"})
    assert clicked.status_code == 200, clicked.text
    page.goto(clicked.json()["identity_link"])
    page.wait_for_url(f"{magento.url}/__sandbox/integrations/activated")
    assert "Integration activated" in page.content()

    stored = runtime.connection_settings("magento")
    assert stored.TILLBRIDGE_MAGENTO_CONSUMER_KEY == clicked.json()["consumer_key"]
    assert stored.TILLBRIDGE_MAGENTO_ACCESS_TOKEN and stored.TILLBRIDGE_MAGENTO_TOKEN == ""
    with runtime.store.session() as s:
        row = s.get(StoredCredential, "magento")
        assert row is not None and stored.TILLBRIDGE_MAGENTO_ACCESS_TOKEN_SECRET not in row.ciphertext
    page.goto(f"{live_server}/connections")
    page.click("[data-test=test-magento]")
    assert "Magento answered" in page.locator(".flash").inner_text()
    assert page.locator("[data-test=source-magento]").inner_text() == "stored (connections page)"


def test_another_process_uses_new_credentials_without_a_restart(app: Flask, settings: dict[str, Any]) -> None:
    from service.app.factory import create_app
    from service.app.runtime import CREDENTIALS_STAMP_SECONDS

    web = app.extensions["tillbridge"]
    worker = create_app({**settings, "AUTO_MIGRATE": False, **{k: value_of(app.extensions["tillbridge"].settings, k) for k in (
        "TILLBRIDGE_ENCRYPTION_KEY", "TILLBRIDGE_HEARTLAND_URL", "TILLBRIDGE_HEARTLAND_TOKEN")}}).extensions["tillbridge"]
    assert worker.heartland.token == "env-token-1234"
    from service.operations import connections
    connections.save_token(web, "heartland", {"url": app.extensions["tillbridge"].settings.TILLBRIDGE_HEARTLAND_URL, "token": "pasted-token-99"},
                           "ada")
    worker._stamp_read_at -= CREDENTIALS_STAMP_SECONDS  # as if the few seconds had passed
    assert worker.heartland.token == "pasted-token-99"
    worker.store.dispose()
