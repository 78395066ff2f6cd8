"""A NUL character (U+0000) sent to a page is refused with a 400 that says where, on either store:
PostgreSQL refuses it in every text value, so it would otherwise surface as a server error."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from tests.web.support import csrf_from


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
