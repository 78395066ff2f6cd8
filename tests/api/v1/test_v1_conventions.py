"""The conventions every /v1 answer keeps, through the real app, store and Redis."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from service.store.users import ROLES

ORDER = {
    "channel": "amazon", "external_id": "A-100", "email": "ann@example.com", "first_name": "Ann",
    "last_name": "Lee", "billing": {"street": ["1 Main St"], "city": "Boston", "postcode": "02110", "country": "US"},
    "lines": [{"sku": "TEE-1", "quantity": 2, "unit_price": 1250}], "shipping_amount": 500, "tax": 100,
    "total": 3100,
}
SNAPSHOT = Path(__file__).with_name("openapi.snapshot.json")


def test_every_answer_has_a_request_id_and_errors_one_envelope(app: Any, make_token: Any) -> None:
    client = app.test_client()
    for response in (client.get("/v1/nope"), client.delete("/v1/orders"), client.get("/v1/orders"),
                     client.get("/v1/orders", headers={"Authorization": "Bearer tb_unknown"})):
        assert response.headers["Request-Id"]
        body = response.json
        assert set(body) <= {"error", "message", "fields", "request_id"}, body
        assert body["request_id"] == response.headers["Request-Id"]
    assert client.get("/v1/nope").json["error"] == "not_found"
    not_allowed = client.delete("/v1/orders", headers=make_token())
    assert not_allowed.status_code == 405 and not_allowed.json["error"] == "method_not_allowed"
    assert "GET" in not_allowed.headers["Allow"]
    own = client.get("/v1/orders", headers={**make_token(), "Request-Id": "caller-trace-1"})
    assert own.headers["Request-Id"] == "caller-trace-1"


def test_scopes_narrow_a_token_within_its_role(app: Any, make_token: Any) -> None:
    client = app.test_client()
    reader = make_token("integrator", scopes=["orders:read"])
    assert client.get("/v1/orders", headers=reader).status_code == 200
    refused = client.post("/v1/orders", json=ORDER, headers=reader)
    assert refused.status_code == 403 and refused.json["error"] == "insufficient_scope"
    assert "orders:write" in refused.json["message"]
    risk = make_token("risk", scopes=["orders:read", "orders:write"])  # the role caps what scopes add
    assert client.post("/v1/orders", json=ORDER, headers=risk).status_code == 403


def test_idempotency_key_replays_the_first_answer_and_refuses_other_parameters(app: Any, make_token: Any) -> None:
    client = app.test_client()
    headers = {**make_token(), "Idempotency-Key": "k-1"}
    first = client.post("/v1/orders", json=ORDER, headers=headers)
    assert first.status_code == 202, first.json
    again = client.post("/v1/orders", json=ORDER, headers=headers)
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json and again.headers["Location"] == first.headers["Location"]
    other = client.post("/v1/orders", json={**ORDER, "external_id": "A-101"}, headers=headers)
    assert other.status_code == 422 and other.json["error"] == "idempotency_key_reused"
    # Without a key, the same channel order is refused rather than created twice.
    twice = client.post("/v1/orders", json=ORDER, headers={"Authorization": headers["Authorization"]})
    assert twice.status_code == 409 and twice.json["error"] == "order_exists"


def test_validation_errors_name_each_field(app: Any, make_token: Any) -> None:
    response = app.test_client().post("/v1/orders", json={**ORDER, "total": 1, "lines": []}, headers=make_token())
    assert response.status_code == 422
    assert set(response.json["fields"]) >= {"lines"}
    wrong_total = app.test_client().post("/v1/orders", json={**ORDER, "total": 1}, headers=make_token())
    assert "total" in wrong_total.json["fields"] and "3100" in wrong_total.json["message"]


def test_card_numbers_are_refused_and_not_stored(app: Any, runtime: Any, make_token: Any) -> None:
    body = {**ORDER, "first_name": "4111 1111 1111 1111"}
    response = app.test_client().post("/v1/orders", json=body, headers={**make_token(), "Idempotency-Key": "c"})
    assert response.status_code == 422 and response.json["error"] == "card_number_refused"
    assert "4111" not in response.get_data(as_text=True)
    with runtime.store.engine.connect() as connection:
        for table in ("sync_items", "inbox_events", "api_idempotency"):
            rows = connection.exec_driver_sql(f"SELECT * FROM {table}").all()
            assert "4111111111111111" not in json.dumps([list(map(str, r)) for r in rows]).replace(" ", "")


def test_nul_characters_are_refused_wherever_they_come(app: Any, runtime: Any, make_token: Any) -> None:
    # PostgreSQL refuses U+0000 in any text value: a cursor or an id holding one was a 500 there.
    client = app.test_client()
    for path, field in (("/v1/orders?starting_after=%00", "query.starting_after"), ("/v1/orders/%00", "path"),
                        ("/v1/customers?email=a%00b", "query.email")):
        response = client.get(path, headers=make_token())
        assert response.status_code == 422, (path, response.json)
        assert response.json["error"] == "nul_character_refused" and field in response.json["fields"], response.json
    response = client.post("/v1/orders", json={**ORDER, "first_name": "Ann\u0000"},
                           headers={**make_token(), "Idempotency-Key": "nul"})
    assert response.status_code == 422 and "body" in response.json["fields"], response.json
    with runtime.store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM sync_items").scalar() == 0


def test_etag_and_if_none_match(app: Any, make_token: Any) -> None:
    client = app.test_client()
    headers = make_token()
    created = client.post("/v1/orders", json=ORDER, headers=headers)
    url = created.headers["Location"]
    first = client.get(url, headers=headers)
    assert first.status_code == 200 and first.headers["ETag"]
    cached = client.get(url, headers={**headers, "If-None-Match": first.headers["ETag"]})
    assert cached.status_code == 304 and cached.get_data() == b""


def test_cursor_pagination_walks_every_order_once(app: Any, make_token: Any) -> None:
    client = app.test_client()
    headers = make_token()
    for n in range(5):
        assert client.post("/v1/orders", json={**ORDER, "external_id": f"P-{n}"}, headers=headers).status_code == 202
    seen, cursor = [], None
    while True:
        page = client.get("/v1/orders", query_string={"limit": 2, **({"starting_after": cursor} if cursor else {})},
                          headers=headers).json
        assert page["object"] == "list" and len(page["data"]) <= 2
        seen += [o["id"] for o in page["data"]]
        if not page["has_more"]:
            break
        cursor = page["data"][-1]["id"]
    assert seen == [f"channel:amazon:P-{n}" for n in reversed(range(5))]
    order = client.get(f"/v1/orders/{seen[0]}", headers=headers).json
    assert order["total"] == {"amount": 3100, "currency": "USD"}
    assert order["created"].endswith("Z") and order["sync"]["trace_url"].startswith("/items/")


def test_rate_limit_answers_429_with_retry_after(settings: dict[str, Any]) -> None:
    from service.app.factory import create_app
    from service.store.users import create_token, create_user

    app = create_app({**settings, "AUTO_MIGRATE": False, "API_RATE_LIMIT_PER_MINUTE": 3})
    store = app.extensions["tillbridge"].store
    create_user(store, "ian", "a-long-password-123", "integrator")
    _, token = create_token(store, "ian", "t")
    client = app.test_client()
    answers = [client.get("/v1/orders", headers={"Authorization": f"Bearer {token}"}) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert int(answers[-1].headers["Retry-After"]) >= 1 and answers[-1].json["error"] == "rate_limited"
    store.dispose()


def test_every_role_has_scopes() -> None:
    from service.api.v1.access import ROLE_SCOPES

    assert set(ROLES) <= set(ROLE_SCOPES)


def test_openapi_document_matches_the_committed_snapshot(app: Any) -> None:
    """Regenerate with: python -m service.cli.openapi_snapshot (and review the diff)."""
    served = app.test_client().get("/v1/openapi.json")
    assert served.status_code == 200
    assert served.json["openapi"].startswith("3.1")
    assert served.json == json.loads(SNAPSHOT.read_text()), (
        "the /v1 OpenAPI document changed: run `python -m service.cli.openapi_snapshot` and commit the snapshot")


def test_docs_page_needs_no_cdn(app: Any) -> None:
    client = app.test_client()
    page = client.get("/v1/docs").get_data(as_text=True)
    assert "https://" not in page and "//cdn" not in page
    assert client.get("/v1/static/swagger-ui/swagger-ui-bundle.js").status_code == 200


def test_tokens_get_scopes_from_the_command_line(app: Any, runtime: Any, settings: dict[str, Any]) -> None:
    from click.testing import CliRunner

    from service.cli.main import main
    from service.store.users import create_user

    create_user(runtime.store, "olga", "a-long-password-123", "operator")
    env = {"DATABASE_URL": settings["DATABASE_URL"], "REDIS_URL": settings["REDIS_URL"]}
    made = CliRunner().invoke(main, ["tokens", "create", "olga", "--name", "ro", "--scope", "orders:read"], env=env)
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    client = app.test_client()
    assert client.get("/v1/orders", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/v1/webhooks", headers={"Authorization": f"Bearer {token}"}).status_code == 403
    wrong = CliRunner().invoke(main, ["tokens", "create", "olga", "--name", "x", "--scope", "orders:delete"], env=env)
    assert wrong.exit_code != 0 and "unknown scopes orders:delete" in wrong.output
