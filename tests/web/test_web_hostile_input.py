"""Input as an attacker would send it gets a clear 4xx on either store, never a server error:
a NUL character (U+0000, which PostgreSQL refuses in every text value), numbers past what the
store's integers hold, names that are not what a page expects."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from tests.web.support import csrf_from, post_form

HUGE = "9" * 30  # past a 64-bit integer


def test_every_page_refuses_a_nul_in_its_query(app: Flask, signed_in: Callable[[str], FlaskClient]) -> None:
    client = signed_in("admin")
    pages = sorted(rule.rule for rule in app.url_map.iter_rules()
                   if "GET" in (rule.methods or ()) and not rule.arguments
                   and not rule.rule.startswith(("/v1", "/static", "/healthz", "/logout")))
    assert len(pages) > 20
    for query in ("q=a%00b", "state=%00", "flow=%00", "page=%00"):
        for page in pages:
            response = client.get(f"{page}?{query}")
            name = query.split("=")[0]
            assert response.status_code == 400, (page, query, response.status_code)
            assert f"found in query &#39;{name}&#39;" in response.get_data(as_text=True), (page, query)
    # A query without one still works.
    assert client.get("/items?q=ab").status_code == 200


def test_a_form_field_holding_a_nul_is_refused(client: FlaskClient, make_user: Callable[..., str]) -> None:
    make_user("operator", "olga")
    client.get("/login")
    response = client.post("/login", data={"username": "ol\x00ga", "password": "x", "csrf_token": csrf_from(client)})
    assert response.status_code == 400
    assert "NUL characters (U+0000) are not accepted; found in field &#39;username&#39;" in response.get_data(as_text=True)
    json = client.post("/login", data={"username": "ol\x00ga", "password": "x", "csrf_token": csrf_from(client)},
                       headers={"Accept": "application/json"})
    assert json.status_code == 400
    assert "field 'username'" in json.get_json()["message"]


def test_an_address_holding_a_nul_is_refused(signed_in: Callable[[str], FlaskClient]) -> None:
    response = signed_in("operator").get("/items/1%00")
    assert response.status_code == 400
    assert "found in the address" in response.get_data(as_text=True)


def test_a_page_number_past_every_row_shows_an_empty_page(signed_in: Callable[[str], FlaskClient]) -> None:
    client = signed_in("admin")
    for page in ("/items", "/dead-letters", "/reviews/customers", "/reviews/orders", "/reviews/quality"):
        response = client.get(f"{page}?page={HUGE}")
        assert response.status_code == 200, page


def test_an_id_past_the_stores_integers_names_nothing(app: Flask, signed_in: Callable[[str], FlaskClient]) -> None:
    client = signed_in("admin")
    routes = [rule for rule in app.url_map.iter_rules() if not rule.rule.startswith("/static")
              and any(type(rule._converters[name]).__name__ == "RowId" for name in rule.arguments)]
    assert len(routes) > 20
    for rule in routes:
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<int:{name}>", HUGE).replace(f"<{name}>", "x")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if method == "GET":
                response = client.get(path)
            else:
                response = client.open(path, method=method, data={"csrf_token": csrf_from(client)})
            assert response.status_code == 404, (method, path, response.status_code)


def test_resetting_a_setting_the_page_does_not_change_says_so(signed_in: Callable[[str], FlaskClient]) -> None:
    client = signed_in("admin")
    response = post_form(client, "/settings/NO_SUCH_SETTING/reset", follow_redirects=True)
    assert response.status_code == 200
    assert "Not reset: NO_SUCH_SETTING is not a setting this page changes." in response.get_data(as_text=True)


def test_a_json_body_holding_a_nul_is_refused(signed_in: Callable[[str], FlaskClient]) -> None:
    client = signed_in("operator")
    body = {"note": "fine", "nested": [{"deeper": {"k\u0000": "v"}}]}
    response = client.post("/items/1/resolve", json=body, headers={"Accept": "application/json",
                                                                    "X-CSRF-Token": csrf_from(client)})
    assert response.status_code == 400
    assert response.get_json()["message"].startswith("NUL characters (U+0000) are not accepted; found in the JSON body")
