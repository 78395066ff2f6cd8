"""The users page (/users): admins add people, change roles, disable, enable and set passwords;
every change is recorded; the last active admin stays an admin; other roles are refused."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.app.runtime import Runtime
from service.store import user_events
from service.store.users import authenticate, get_account, list_users
from tests.web.support import PASSWORD, post_form, sign_in


def _id(runtime: Runtime, username: str) -> int:
    return next(a.id for a in list_users(runtime.store) if a.username == username)


def _revealed_password(html: str) -> str:
    match = re.search(r'data-test="revealed-password">([^<]+)<', html)
    assert match, "the page shows no generated password"
    return match.group(1)


@pytest.fixture
def admin(app: Flask, make_user: Callable[..., str]) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, make_user("admin", "ada")).status_code == 302
    return client


@pytest.mark.parametrize("role", ["integrator", "risk", "operator"])
def test_only_admins_see_and_use_the_page(signed_in: Callable[[str], FlaskClient], role: str) -> None:
    client = signed_in(role)
    assert ">Users</a>" not in client.get("/").get_data(as_text=True)
    page = client.get("/users")
    assert page.status_code == 403
    assert "it needs the role admin" in page.get_data(as_text=True)
    assert post_form(client, "/users", {"username": "mallory", "role": "admin"}).status_code == 403
    assert client.get("/users", headers={"Accept": "application/json"}).status_code == 403


def test_strangers_are_sent_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/users")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_admin_adds_a_user_with_a_generated_password(app: Flask, admin: FlaskClient, runtime: Runtime) -> None:
    assert ">Users</a>" in admin.get("/").get_data(as_text=True)
    response = post_form(admin, "/users", {"username": "olga", "role": "operator", "password": ""})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    password = _revealed_password(html)
    assert len(password) >= 16 and "User olga added with role operator." in html
    assert password not in admin.get("/users").get_data(as_text=True)  # shown once

    olga = app.test_client()
    assert sign_in(olga, "olga", password).status_code == 302
    assert olga.get("/dead-letters").status_code == 200
    event = user_events.recent(runtime.store)[0]
    assert (event.actor, event.action, event.username, event.detail) == ("ada", "created", "olga", "role operator")
    assert password not in event.detail


def test_admin_adds_a_user_with_a_typed_password(app: Flask, admin: FlaskClient) -> None:
    response = post_form(admin, "/users", {"username": "rita", "role": "risk", "password": "rita-password-1"},
                         follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "User rita added with role risk." in html and 'data-test="revealed"' not in html
    assert 'data-test="user-rita"' in html
    assert sign_in(app.test_client(), "rita", "rita-password-1").status_code == 302


def test_bad_new_users_are_refused_with_what_to_do(admin: FlaskClient, make_user: Callable[..., str]) -> None:
    make_user("operator", "olga")
    taken = post_form(admin, "/users", {"username": "olga", "role": "risk", "password": "long-enough-1"})
    assert taken.status_code == 400
    assert "user &#39;olga&#39; already exists: pick another name" in taken.get_data(as_text=True)
    short = post_form(admin, "/users", {"username": "sam", "role": "risk", "password": "short"})
    assert short.status_code == 400 and "at least 8 characters" in short.get_data(as_text=True)
    unknown = post_form(admin, "/users", {"username": "sam", "role": "boss", "password": "long-enough-1"})
    assert unknown.status_code == 400 and "unknown role &#39;boss&#39;" in unknown.get_data(as_text=True)


def test_admin_changes_a_role(app: Flask, admin: FlaskClient, runtime: Runtime,
                              make_user: Callable[..., str]) -> None:
    olga = make_user("operator", "olga")
    client = app.test_client()
    sign_in(client, olga)
    assert client.get("/reviews/orders").status_code == 403

    response = post_form(admin, f"/users/{_id(runtime, olga)}/role", {"role": "risk"}, follow_redirects=True)
    assert "olga is now risk." in response.get_data(as_text=True)
    assert client.get("/reviews/orders").status_code == 200  # the next request has the new role
    event = user_events.recent(runtime.store)[0]
    assert (event.actor, event.action, event.detail) == ("ada", "role changed", "operator → risk")


def test_admin_disables_and_enables_a_user(app: Flask, admin: FlaskClient, runtime: Runtime,
                                           make_user: Callable[..., str]) -> None:
    olga = make_user("operator", "olga")
    client = app.test_client()
    sign_in(client, olga)
    user_id = _id(runtime, olga)

    html = post_form(admin, f"/users/{user_id}/disable", follow_redirects=True).get_data(as_text=True)
    assert "olga is disabled: cannot sign in, API tokens refused, 1 session(s) ended." in html
    assert client.get("/items").status_code == 302
    assert sign_in(app.test_client(), olga).status_code == 403

    html = post_form(admin, f"/users/{user_id}/enable", follow_redirects=True).get_data(as_text=True)
    assert "olga is enabled and can sign in again." in html
    assert sign_in(app.test_client(), olga).status_code == 302
    actions = [(e.actor, e.action, e.username) for e in user_events.recent(runtime.store)[:2]]
    assert actions == [("ada", "enabled", "olga"), ("ada", "disabled", "olga")]


def test_admin_resets_a_password(app: Flask, admin: FlaskClient, runtime: Runtime,
                                 make_user: Callable[..., str]) -> None:
    olga = make_user("operator", "olga")
    client = app.test_client()
    sign_in(client, olga)
    user_id = _id(runtime, olga)

    generated = post_form(admin, f"/users/{user_id}/password", {"password": ""})
    html = generated.get_data(as_text=True)
    password = _revealed_password(html)
    assert "Password of olga changed; 1 session(s) ended." in html
    assert client.get("/items").status_code == 302
    assert authenticate(runtime.store, olga, PASSWORD) is None
    assert authenticate(runtime.store, olga, password) is not None

    typed = post_form(admin, f"/users/{user_id}/password", {"password": "typed-password-2"}, follow_redirects=True)
    assert 'data-test="revealed"' not in typed.get_data(as_text=True)
    assert authenticate(runtime.store, olga, "typed-password-2") is not None
    assert all("typed-password-2" not in e.detail and password not in e.detail
               for e in user_events.recent(runtime.store))


def test_admin_changing_their_own_password_stays_signed_in(app: Flask, admin: FlaskClient, runtime: Runtime) -> None:
    elsewhere = app.test_client()
    sign_in(elsewhere, "ada")
    post_form(admin, f"/users/{_id(runtime, 'ada')}/password", {"password": "ada-new-password"})
    assert admin.get("/users").status_code == 200
    assert elsewhere.get("/users").status_code == 302  # the other browser is signed out


def test_admin_signs_a_user_out_everywhere(app: Flask, admin: FlaskClient, runtime: Runtime,
                                           make_user: Callable[..., str]) -> None:
    olga = make_user("operator", "olga")
    clients = [app.test_client(), app.test_client()]
    for client in clients:
        sign_in(client, olga)
    assert "2 browsers" in admin.get("/users").get_data(as_text=True)
    html = post_form(admin, f"/users/{_id(runtime, olga)}/sessions/end", follow_redirects=True).get_data(as_text=True)
    assert "olga signed out everywhere: 2 session(s) ended." in html
    assert all(c.get("/items").status_code == 302 for c in clients)


def test_the_last_active_admin_stays(app: Flask, admin: FlaskClient, runtime: Runtime,
                                     make_user: Callable[..., str]) -> None:
    ada = _id(runtime, "ada")
    html = post_form(admin, f"/users/{ada}/disable", follow_redirects=True).get_data(as_text=True)
    assert "Nothing changed: ada is the last active admin, so it cannot be disabled: make another user admin first" in html
    html = post_form(admin, f"/users/{ada}/role", {"role": "operator"}, follow_redirects=True).get_data(as_text=True)
    assert "ada is the last active admin, so it cannot be made operator" in html
    account = get_account(runtime.store, ada)
    assert account is not None and account.role == "admin" and account.active

    # A disabled admin does not count as the one that stays.
    make_user("admin", "bea")
    post_form(admin, f"/users/{_id(runtime, 'bea')}/disable")
    html = post_form(admin, f"/users/{ada}/role", {"role": "operator"}, follow_redirects=True).get_data(as_text=True)
    assert "last active admin" in html

    post_form(admin, f"/users/{_id(runtime, 'bea')}/enable")
    html = post_form(admin, f"/users/{ada}/role", {"role": "operator"}, follow_redirects=True).get_data(as_text=True)
    assert "ada is now operator." in html
    assert admin.get("/users").status_code == 403  # no longer an admin, from the next request on


def test_forms_need_the_csrf_token(admin: FlaskClient, runtime: Runtime, make_user: Callable[..., str]) -> None:
    olga = _id(runtime, make_user("operator", "olga"))
    response = admin.post(f"/users/{olga}/disable")
    assert response.status_code == 400 and "Reload the page" in response.get_data(as_text=True)
    account = get_account(runtime.store, olga)
    assert account is not None and account.active


def test_an_unknown_user_is_a_404(admin: FlaskClient) -> None:
    assert post_form(admin, "/users/9999/disable").status_code == 404
