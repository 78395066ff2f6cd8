"""Revocable sign-ins and sign-in throttling, on the real app, store and Redis.

A session cookie copied before sign-out, a password change or disabling the user stands for an
attacker who kept it: it must get the sign-in page (or a JSON 401), not the pages.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.app.factory import create_app
from service.app.runtime import Runtime
from service.store.users import set_disabled, set_password
from tests.web.support import PASSWORD, csrf_from, post_form, sign_in


def _session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None, "no session cookie: the sign-in did not set one"
    return cookie.value


def _from_address(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _with_cookie(app: Flask, value: str) -> FlaskClient:
    """Another browser that presents a copied session cookie."""
    other = app.test_client()
    other.set_cookie("session", value)
    return other


def _signed_in_cookie(app: Flask, username: str) -> tuple[FlaskClient, str]:
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client, _session_cookie(client)


def _sends_to_sign_in(client: FlaskClient) -> bool:
    response = client.get("/items")
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.fixture
def make_app(web_config: dict[str, Any]) -> Iterator[Callable[..., Flask]]:
    """More apps on the same store and Redis, as further web processes would be, with settings changed."""
    made: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        application = create_app({**web_config, **overrides})
        made.append(application)
        return application

    yield make
    for application in made:
        application.extensions["tillbridge"].store.dispose()


def test_sign_out_ends_the_session_for_a_copied_cookie(app: Flask, make_user: Callable[..., str]) -> None:
    client, cookie = _signed_in_cookie(app, make_user("operator", "olga"))
    kept = _with_cookie(app, cookie)
    assert kept.get("/items").status_code == 200

    assert post_form(client, "/logout").status_code == 302
    assert _sends_to_sign_in(kept)
    api = _with_cookie(app, cookie).get("/items", headers={"Accept": "application/json"})
    assert api.status_code == 401
    assert api.get_json()["error"] == "unauthorized"


def test_password_change_ends_every_session_of_the_user(app: Flask, runtime: Runtime,
                                                         make_user: Callable[..., str]) -> None:
    olga = make_user("operator", "olga")
    first, _ = _signed_in_cookie(app, olga)
    second, _ = _signed_in_cookie(app, olga)
    other, _ = _signed_in_cookie(app, make_user("risk", "rita"))

    assert set_password(runtime.store, olga, "a-new-password-1", actor="admin") == 2
    assert _sends_to_sign_in(first) and _sends_to_sign_in(second)
    assert other.get("/items").status_code == 200  # someone else's password changed, not hers
    assert sign_in(app.test_client(), olga, PASSWORD).status_code == 401
    assert sign_in(app.test_client(), olga, "a-new-password-1").status_code == 302


def test_disabling_ends_sessions_refuses_sign_in_and_tokens(app: Flask, runtime: Runtime,
                                                           make_user: Callable[..., str]) -> None:
    from service.store.users import create_token

    olga = make_user("operator", "olga")
    client, _ = _signed_in_cookie(app, olga)
    _, token = create_token(runtime.store, olga, "monitoring")
    bearer = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/items", headers=bearer).status_code == 200

    assert set_disabled(runtime.store, olga, True, actor="admin") == 1
    assert _sends_to_sign_in(client)
    assert app.test_client().get("/items", headers=bearer).status_code == 401
    refused = sign_in(app.test_client(), olga)
    assert refused.status_code == 403
    assert "This account is disabled: ask an admin to enable it" in refused.get_data(as_text=True)

    set_disabled(runtime.store, olga, False, actor="admin")
    assert sign_in(app.test_client(), olga).status_code == 302
    assert app.test_client().get("/items", headers=bearer).status_code == 200


def test_a_session_ends_after_its_lifetime(make_app: Callable[..., Flask], make_user: Callable[..., str]) -> None:
    short = make_app(SESSION_LIFETIME_HOURS=1.5 / 3600)  # 1.5 seconds
    client, cookie = _signed_in_cookie(short, make_user("operator", "olga"))
    assert client.get("/items").status_code == 200
    time.sleep(2)
    # The stored session has ended, whatever the browser does with the cookie's own expiry.
    assert _sends_to_sign_in(_with_cookie(short, cookie))


def test_sessions_last_twelve_hours_by_default(client: FlaskClient, make_user: Callable[..., str]) -> None:
    client.get("/login")
    response = client.post("/login", data={"username": make_user("operator"), "password": PASSWORD,
                                           "csrf_token": csrf_from(client)})
    cookie = response.headers["Set-Cookie"]
    expires = parsedate_to_datetime(cookie.split("Expires=")[1].split(";")[0])
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=12))) < timedelta(minutes=1)


def _cookie_flags(application: Flask, username: str) -> list[str]:
    client = application.test_client()
    client.get("/login")
    response = client.post("/login", data={"username": username, "password": PASSWORD,
                                           "csrf_token": csrf_from(client)})
    assert response.status_code == 302
    return [part.strip() for part in response.headers["Set-Cookie"].split(";")]


def test_cookie_is_secure_behind_an_https_public_url(make_app: Callable[..., Flask], app: Flask,
                                                     make_user: Callable[..., str]) -> None:
    username = make_user("operator")
    flags = _cookie_flags(make_app(TILLBRIDGE_PUBLIC_URL="https://sync.example.com"), username)
    assert "Secure" in flags and "HttpOnly" in flags and "SameSite=Lax" in flags
    plain = _cookie_flags(app, username)  # the default public URL is http://127.0.0.1:8000
    assert "Secure" not in plain and "HttpOnly" in plain and "SameSite=Lax" in plain


def _wrong(client: FlaskClient, username: str) -> Any:
    return sign_in(client, username, "not-the-password")


def test_wrong_passwords_are_throttled_per_account(app: Flask, make_user: Callable[..., str]) -> None:
    olga = make_user("operator", "olga")
    client = app.test_client()
    for _ in range(5):
        assert _wrong(client, olga).status_code == 401
    throttled = sign_in(client, olga)  # even the right password waits: it is not checked
    assert throttled.status_code == 429
    retry_after = int(throttled.headers["Retry-After"])
    assert 15 * 60 - 30 <= retry_after <= 15 * 60
    page = throttled.get_data(as_text=True)
    assert "too many wrong passwords for this account" in page and "Try again in 15 minutes" in page
    json_answer = client.post("/login", data={"username": olga, "password": PASSWORD,
                                              "csrf_token": csrf_from(client)},
                              headers={"Accept": "application/json"})
    assert json_answer.status_code == 429 and json_answer.headers["Retry-After"]
    assert json_answer.get_json()["error"] == "too_many_attempts"
    # Another account from another address is not held up by olga's.
    other = _from_address(app, "198.51.100.7")
    assert sign_in(other, make_user("risk", "rita")).status_code == 302


def test_a_good_password_clears_the_account_count(app: Flask, make_user: Callable[..., str]) -> None:
    olga = make_user("operator", "olga")
    client = app.test_client()
    for _ in range(4):
        assert _wrong(client, olga).status_code == 401
    assert sign_in(client, olga).status_code == 302
    post_form(client, "/logout")
    for _ in range(4):
        assert _wrong(client, olga).status_code == 401
    assert sign_in(client, olga).status_code == 302


def test_wrong_passwords_are_throttled_per_address(make_app: Callable[..., Flask],
                                                   make_user: Callable[..., str]) -> None:
    strict = make_app(LOGIN_FAILURES_PER_ADDRESS=3)
    guesser = _from_address(strict, "203.0.113.9")
    for name in ("ann", "bob", "cat"):  # different (unknown) names: only the address count runs out
        assert _wrong(guesser, name).status_code == 401
    throttled = sign_in(guesser, make_user("operator", "olga"))
    assert throttled.status_code == 429
    assert "too many wrong passwords from your address" in throttled.get_data(as_text=True)
    elsewhere = _from_address(strict, "203.0.113.10")
    assert sign_in(elsewhere, "olga").status_code == 302


def test_the_count_is_shared_by_every_web_process(app: Flask, make_app: Callable[..., Flask],
                                                  make_user: Callable[..., str]) -> None:
    second = make_app()  # another web process: its own app, the same Redis and store
    olga = make_user("operator", "olga")
    for application in (app, second, app, second, app):
        assert _wrong(application.test_client(), olga).status_code == 401
    throttled = sign_in(second.test_client(), olga)
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0
    assert sign_in(app.test_client(), olga).status_code == 429


def test_throttled_attempts_do_not_log_the_username(app: Flask, make_user: Callable[..., str],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    client = app.test_client()
    for _ in range(6):
        _wrong(client, "typed-my-Passw0rd-here")
    assert "sign-in throttled" in caplog.text
    assert "typed-my-Passw0rd-here" not in caplog.text and "not-the-password" not in caplog.text
