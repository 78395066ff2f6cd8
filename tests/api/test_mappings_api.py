"""``POST /v1/mappings/suggest`` on a bare Flask app (the blueprint is self-contained)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.api.mappings import mappings_api


@pytest.fixture()
def client() -> FlaskClient:
    app = Flask("mappings-test")
    app.register_blueprint(mappings_api)
    return app.test_client()


MAGENTO = {"system": "magento", "records": [
    {"increment_id": "000000101", "customer_email": "ava.smith@example.com",
     "billing_address": {"postcode": "78701", "country_id": "US"},
     "custom_attributes": [{"attribute_code": "gift_note", "value": "Happy birthday"}]},
]}
HEARTLAND = {"system": "heartland", "records": [
    {"public_id": "000000101", "customer": {"email": "ava.smith@example.com"},
     "billing_address": {"postal_code": "78701", "country": "US"}, "custom": {"loyalty_number": "L-1"}},
]}


def test_suggests_from_records_with_each_systems_naming(client: FlaskClient) -> None:
    response = client.post("/v1/mappings/suggest", json={"source": MAGENTO, "target": HEARTLAND, "top": 2})
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    assignment = body.pop("_assignment")
    assert 0.0 <= body.pop("_threshold") <= 1.0
    assert set(body) == {"increment_id", "customer_email", "billing_address.postcode", "billing_address.country_id",
                         "custom_attributes.gift_note"}
    assert assignment["customer_email"]["target"] == "customer.email"
    assert assignment["billing_address.postcode"]["target"] == "billing_address.postal_code"
    assert all(len(v) <= 2 for v in body.values())


def test_field_lists_are_accepted(client: FlaskClient) -> None:
    response = client.post("/v1/mappings/suggest", json={
        "source": {"fields": [{"name": "Email", "type": "string", "samples": ["a@example.com"]}, {"name": "Zip"}]},
        "target": {"fields": ["email", {"name": "postal_code", "description": "Postal code."}]},
    })
    assert response.status_code == 200
    assert response.get_json()["_assignment"]["Zip"]["target"] == "postal_code"


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"target": HEARTLAND}, "source", "required"),
    ({"source": MAGENTO, "target": {"records": "nope"}}, "target", "target.records must be a list"),
    ({"source": {"fields": [{"type": "string"}]}, "target": HEARTLAND}, "source", "source.fields[0]"),
    ({"source": MAGENTO, "target": {"records": [], "system": "heartland"}}, "target", "empty"),
    ({"source": MAGENTO, "target": {"records": [{}], "system": "shopify"}}, "target", "'magento' or 'heartland'"),
    ({"source": MAGENTO, "target": HEARTLAND, "top": 0}, "top", "1 to 50"),
    ({"source": MAGENTO, "target": HEARTLAND, "top": "3"}, "top", "whole number"),
    ({"source": MAGENTO, "target": HEARTLAND, "threshold": 2}, "threshold", "0 to 1"),
])
def test_bad_requests_name_the_field(client: FlaskClient, body: dict[str, Any], field: str, words: str) -> None:
    response = client.post("/v1/mappings/suggest", json=body)
    assert response.status_code == 400
    error = response.get_json()
    assert error["error"] == "invalid_request"
    assert field in error["fields"]
    assert words in error["message"]


def test_a_body_that_is_not_json_is_refused(client: FlaskClient) -> None:
    response = client.post("/v1/mappings/suggest", data="source=x", content_type="text/plain")
    assert response.status_code == 400
    assert "JSON object" in response.get_json()["message"]
