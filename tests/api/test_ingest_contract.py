"""The JSON ingest endpoints against their OpenAPI description (service/api/openapi.yaml), in process:
schemathesis generates requests from it and hypothesis throws arbitrary JSON at them. Never a server
error; every answer documented; a refused event stores nothing."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import func, select

from service.flows import MAGENTO_EVENTS
from service.kernel.signing import signed_headers
from service.store.tables import InboxEvent, SyncItem

OPENAPI = Path(__file__).resolve().parents[2] / "service" / "api" / "openapi.yaml"
SECRET = "ingest-contract-webhook-secret-7e3d9a1f5b"
TOKEN = "ingest-contract-heartland-token-2c8e4b6a0d"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
schema = schemathesis.openapi.from_path(str(OPENAPI))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
envelopes = st.fixed_dictionaries(
    {"event": st.sampled_from(MAGENTO_EVENTS) | st.text(max_size=20),
     "occurred_at": st.sampled_from(["2026-12-07T10:00:00+00:00", "2026-12-07T10:00:00", "yesterday"]),
     "store_code": st.sampled_from(["default", "", "a" * 65, "de\u0000fault"]) | st.text(max_size=10),
     "data": st.dictionaries(st.sampled_from(["entity_id", "id", "updated_at", "increment_id", "sku", "email"]),
                             json_values, max_size=5)},
    optional={"extra": json_values},
)
no_fixture_reset = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                                  HealthCheck.too_slow])


@pytest.fixture
def configured(runtime: Any) -> Any:
    runtime.reconfigure(TILLBRIDGE_WEBHOOK_SECRET=SECRET)
    runtime.reconfigure(TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN=TOKEN)
    return runtime


def stored(runtime: Any) -> tuple[int, int]:
    with runtime.store.session() as s:
        return int(s.scalar(select(func.count()).select_from(InboxEvent)) or 0), \
            int(s.scalar(select(func.count()).select_from(SyncItem)) or 0)


def test_the_description_lists_every_magento_event() -> None:
    described = yaml.safe_load(OPENAPI.read_text())["components"]["schemas"]["Envelope"]["properties"]["event"]["enum"]
    assert sorted(described) == sorted(MAGENTO_EVENTS)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_ingest_conforms_to_its_openapi_description(case: Any, app: Any, configured: Any) -> None:
    if case.body is NOT_SET:
        body = b""
    elif isinstance(case.body, bytes):  # negative cases: bytes that are not JSON at all
        body = case.body
    else:
        body = json.dumps(case.body).encode()
    if case.path.startswith("/webhooks/magento"):
        path = "/webhooks/magento"
        headers = signed_headers(SECRET, str(uuid.uuid4()), body)
    else:
        path = f"/webhooks/heartland/{TOKEN}"
        headers = {"Content-Type": "application/json"}
    before = stored(configured)
    response = app.test_client().post(path, data=body, headers=headers)
    case.validate_response(response, checks=CHECKS)
    if 400 <= response.status_code < 500:
        assert response.json["message"], response.json
        assert stored(configured) == before


@no_fixture_reset
@given(document=json_values | envelopes)
def test_any_signed_json_body_gets_a_clear_4xx_or_a_2xx(app: Any, configured: Any, document: Any) -> None:
    body = json.dumps(document).encode()
    before = stored(configured)
    response = app.test_client().post("/webhooks/magento", data=body,
                                      headers=signed_headers(SECRET, str(uuid.uuid4()), body))
    assert response.status_code in (200, 202, 400, 422), (response.status_code, response.get_data(as_text=True))
    if response.status_code >= 400:
        assert response.json["error"] and response.json["message"]
        assert stored(configured) == before
    else:
        assert stored(configured) == (before[0] + 1, before[1] + 1)


@no_fixture_reset
@given(document=json_values | st.dictionaries(st.sampled_from(["id", "updated_at", "type", "email", "first_name"]),
                                              json_values, max_size=5))
def test_any_heartland_json_body_gets_a_clear_4xx_or_a_2xx(app: Any, configured: Any, document: Any) -> None:
    before = stored(configured)
    response = app.test_client().post(f"/webhooks/heartland/{TOKEN}", data=json.dumps(document),
                                      headers={"Content-Type": "application/json"})
    assert response.status_code in (200, 202, 400, 422), (response.status_code, response.get_data(as_text=True))
    if response.status_code >= 400:
        assert response.json["error"] and response.json["message"]
        assert stored(configured) == before


@no_fixture_reset
@given(body=st.binary(max_size=200), event_id=st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=40))
def test_unsigned_or_badly_signed_bytes_are_refused_with_401(app: Any, configured: Any, body: bytes,
                                                             event_id: str) -> None:
    before = stored(configured)
    headers = signed_headers("a-different-secret-of-enough-length-0123", event_id.strip() or "x", body)
    response = app.test_client().post("/webhooks/magento", data=body, headers=headers)
    assert response.status_code == 401 and "shared secret" in response.json["message"]
    assert stored(configured) == before
