"""Signing in, roles, API tokens and CSRF on the web service."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from service.app.runtime import Runtime
from service.store.users import create_token, list_tokens, revoke_token
from tests.web.support import PASSWORD, csrf_from, post_form, sign_in


def test_pages_send_strangers_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/items?state=dead")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/items?state%3Ddead"


def test_sign_in_then_out(client: FlaskClient, make_user: Callable[..., str]) -> None:
    make_user("operator", "olga")
    response = client.get("/login?next=/dead-letters")
    assert b'name="csrf_token"' in response.data
    response = client.post("/login", data={"username": "olga", "password": PASSWORD, "next": "/dead-letters",
                                           "csrf_token": csrf_from(client)})
    assert response.status_code == 302
    assert response.headers["Location"] == "/dead-letters"
    page = client.get("/")
    assert page.status_code == 200
    assert b"olga" in page.data and b"operator" in page.data

    response = post_form(client, "/logout")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_and_not_logged(client: FlaskClient, make_user: Callable[..., str],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    make_user("operator", "olga")
    caplog.set_level(logging.DEBUG)
    response = sign_in(client, "olga", "not the password")
    assert response.status_code == 401
    assert b"Wrong username or password" in response.data
    assert client.get("/").status_code == 302
    assert sign_in(client, "nobody", PASSWORD).status_code == 401
    assert "not the password" not in caplog.text and PASSWORD not in caplog.text


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example/", "items"])
def test_sign_in_only_follows_local_next(client: FlaskClient, make_user: Callable[..., str], target: str) -> None:
    make_user("risk", "rita")
    client.get("/login")
    response = client.post("/login", data={"username": "rita", "password": PASSWORD,
                                           "next": target, "csrf_token": csrf_from(client)})
    assert response.headers["Location"] == "/"


def test_role_without_permission_is_denied(signed_in: Callable[[str], FlaskClient], seeded: object) -> None:
    risk = signed_in("risk")
    assert risk.get("/dead-letters").status_code == 200  # everyone can look
    letter_id = seeded.dead_letter_id  # type: ignore[attr-defined]
    response = post_form(risk, f"/dead-letters/{letter_id}/retry")
    assert response.status_code == 403
    assert b"needs the role operator" in response.data


def test_admin_passes_every_role_check(signed_in: Callable[[str], FlaskClient], seeded: object,
                                       runtime: Runtime) -> None:
    admin = signed_in("admin")
    letter_id = seeded.dead_letter_id  # type: ignore[attr-defined]
    response = post_form(admin, f"/dead-letters/{letter_id}/resolve", {"note": "fixed in Heartland"})
    assert response.status_code == 302


def test_post_without_csrf_token_is_refused(signed_in: Callable[[str], FlaskClient], seeded: object,
                                            runtime: Runtime) -> None:
    operator = signed_in("operator")
    letter_id = seeded.dead_letter_id  # type: ignore[attr-defined]
    for token in (None, "forged-token"):
        data = {"csrf_token": token} if token else {}
        response = operator.post(f"/dead-letters/{letter_id}/retry", data=data)
        assert response.status_code == 400
        assert b"Reload the page" in response.data
    assert len(runtime.queue) == 0
    assert client_sees_letter_open(operator, letter_id)


def client_sees_letter_open(client: FlaskClient, letter_id: int) -> bool:
    data = client.get(f"/dead-letters/{letter_id}", headers={"Accept": "application/json"}).get_json()
    return bool(data["resolution"] == "open")


def test_sign_in_form_needs_csrf_token(client: FlaskClient, make_user: Callable[..., str]) -> None:
    make_user("operator", "olga")
    response = client.post("/login", data={"username": "olga", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_api_token_acts_as_its_user(client: FlaskClient, make_user: Callable[..., str], runtime: Runtime,
                                    seeded: object) -> None:
    make_user("operator", "robot")
    _, token = create_token(runtime.store, "robot", "monitoring")
    headers = {"Authorization": f"Bearer {token}"}

    overview = client.get("/", headers=headers)
    assert overview.status_code == 200
    assert overview.get_json()["totals"]["dead"] == 1

    listed = client.get("/items?state=done", headers=headers).get_json()
    assert [i["label"] for i in listed["items"]] == ["order #000000042"]

    letter_id = seeded.dead_letter_id  # type: ignore[attr-defined]
    retried = client.post(f"/dead-letters/{letter_id}/retry", headers=headers)  # no CSRF: no cookie at stake
    assert retried.status_code == 200, retried.get_data(as_text=True)
    assert retried.get_json()["retried"] == [seeded.dead.id]  # type: ignore[attr-defined]
    letter = client.get(f"/dead-letters/{letter_id}", headers=headers).get_json()
    assert letter["resolved_by"] == "api:robot"
    assert list_tokens(runtime.store, "robot")[0].last_used_at is not None


def test_api_token_of_a_viewer_role_cannot_act(client: FlaskClient, make_user: Callable[..., str],
                                               runtime: Runtime, seeded: object) -> None:
    make_user("integrator", "mapper")
    _, token = create_token(runtime.store, "mapper", "ci")
    letter_id = seeded.dead_letter_id  # type: ignore[attr-defined]
    response = client.post(f"/dead-letters/{letter_id}/retry", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"


def test_revoked_or_unknown_token_fails(client: FlaskClient, make_user: Callable[..., str],
                                        runtime: Runtime) -> None:
    make_user("operator", "robot")
    info, token = create_token(runtime.store, "robot", "monitoring")
    assert client.get("/items", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    revoke_token(runtime.store, info.id)
    response = client.get("/items", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "unknown or revoked" in response.get_json()["message"]
    assert client.get("/items", headers={"Authorization": "Bearer tb_made-up"}).status_code == 401


def test_bearer_header_overrides_the_session(signed_in: Callable[[str], FlaskClient]) -> None:
    operator = signed_in("operator")
    assert operator.get("/items").status_code == 200
    response = operator.get("/items", headers={"Authorization": "Bearer tb_not-a-token"})
    assert response.status_code == 401


def test_json_callers_get_401_not_a_redirect(client: FlaskClient) -> None:
    response = client.get("/items", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"
