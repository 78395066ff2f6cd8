"""Ingest of Magento events through the real app, store and Redis queue."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text

from service.kernel.signing import signed_headers
from service.store.tables import SyncItem
from tests.api.ingest_counts import counts, counts_when

SECRET = "ingest-test-secret"


def order(**changes: Any) -> dict[str, Any]:
    data = {"entity_id": 42, "increment_id": "000000042", "customer_email": "ann@example.com",
            "state": "new", "status": "pending", "grand_total": 25.0, "updated_at": "2026-11-27 10:00:00",
            "items": [{"sku": "TEE-1000", "qty_ordered": 1, "price": 25.0}]}
    data.update(changes)
    return data


def post(client: Any, document: Any, event_id: str | None = None, secret: str = SECRET) -> Any:
    body = json.dumps(document).encode()
    headers = signed_headers(secret, event_id or str(uuid.uuid4()), body)
    return client.post("/webhooks/magento", data=body, headers=headers)


def envelope(data: dict[str, Any] | None = None, event: str = "order.created") -> dict[str, Any]:
    return {"event": event, "occurred_at": "2026-11-27T10:00:00+00:00", "store_code": "default",
            "data": data if data is not None else order()}






def test_accepts_stores_then_enqueues_and_acknowledges_replays(app: Any, runtime: Any) -> None:
    runtime.reconfigure(TILLBRIDGE_WEBHOOK_SECRET=SECRET)
    client = app.test_client()
    event_id = str(uuid.uuid4())
    first = post(client, envelope(), event_id)
    assert first.status_code == 202, first.json
    assert first.json["status"] == "accepted"
    for _ in range(2):
        again = post(client, envelope(), event_id)
        assert again.status_code == 200
        assert again.json["status"] == "duplicate"
    assert counts_when(runtime, (1, 1, 1)) == (1, 1, 1)
    with runtime.store.session() as s:
        item = s.get(SyncItem, first.json["item_id"])
        assert item is not None
        assert (item.flow, item.state, item.label) == ("orders", "received", "order #000000042")


def test_bad_signature_is_refused_with_the_reason(app: Any, runtime: Any) -> None:
    runtime.reconfigure(TILLBRIDGE_WEBHOOK_SECRET=SECRET)
    response = post(app.test_client(), envelope(), secret="wrong")
    assert response.status_code == 401
    assert "shared secret" in response.json["message"]
    assert counts(runtime) == (0, 0, 0)


def test_bad_envelope_lists_each_field_and_enqueues_nothing(app: Any, runtime: Any) -> None:
    runtime.reconfigure(TILLBRIDGE_WEBHOOK_SECRET=SECRET)
    bad = {"event": "order.exploded", "occurred_at": "yesterday", "data": {}, "extra": 1}
    response = post(app.test_client(), bad)
    assert response.status_code == 400
    fields = response.json["fields"]
    assert set(fields) == {"event", "occurred_at", "store_code", "data", "extra"}
    assert "order.created" in fields["event"][0]
    assert counts(runtime) == (0, 0, 0)


def test_card_number_is_refused_and_never_stored(app: Any, runtime: Any, db_url: str) -> None:
    runtime.reconfigure(TILLBRIDGE_WEBHOOK_SECRET=SECRET)
    card = "4111 1111 1111 1111"
    data = order(payment={"method": "braintree", "additional_information": [f"card {card}"]})
    response = post(app.test_client(), envelope(data))
    assert response.status_code == 422
    assert response.json["fields"] == ["$.data.payment.additional_information[0]"]
    assert "4111" not in response.get_data(as_text=True)
    assert counts(runtime) == (0, 0, 0)
    with runtime.store.engine.connect() as conn:
        for table in ("inbox_events", "sync_items", "trace_steps", "dead_letters"):
            dump = " ".join(str(row) for row in conn.execute(text(f"SELECT * FROM {table}")))
            assert "4111111111111111" not in dump.replace(" ", "")


def test_a_non_luhn_long_number_is_accepted(app: Any, runtime: Any) -> None:
    runtime.reconfigure(TILLBRIDGE_WEBHOOK_SECRET=SECRET)
    response = post(app.test_client(), envelope(order(quote_id="4111111111111112")))
    assert response.status_code == 202


def test_a_credit_memo_is_stored_and_enqueued_for_the_refunds_flow(app: Any, runtime: Any) -> None:
    runtime.reconfigure(TILLBRIDGE_WEBHOOK_SECRET=SECRET)
    creditmemo = {"entity_id": 5, "order_id": 42, "increment_id": "000000005", "grand_total": 25.0}
    response = post(app.test_client(), envelope(creditmemo, event="creditmemo.created"))
    assert response.status_code == 202
    assert counts_when(runtime, (1, 1, 1)) == (1, 1, 1)
    with runtime.store.session() as s:
        item = s.get(SyncItem, response.json["item_id"])
        assert item is not None and item.flow == "refunds" and item.state == "received"


def test_healthz_warns_when_redis_may_evict_work(app: Any, runtime: Any) -> None:
    previous = runtime.redis.config_get("maxmemory-policy")["maxmemory-policy"]
    try:
        runtime.redis.config_set("maxmemory-policy", "allkeys-lru")
        answer = app.test_client().get("/healthz").json
        assert answer["status"] == "ok" and "noeviction" in answer["warnings"][0]
        runtime.redis.config_set("maxmemory-policy", "noeviction")
        assert app.test_client().get("/healthz").json["warnings"] == []
    finally:
        runtime.redis.config_set("maxmemory-policy", previous)


def test_a_date_time_out_of_range_is_a_clear_400_and_nothing_is_stored(app: Any, runtime: Any) -> None:
    runtime.reconfigure(TILLBRIDGE_WEBHOOK_SECRET=SECRET)
    document = {**envelope(), "occurred_at": "0001-01-01T00:00:00+01:00"}  # before year 1 in UTC
    response = post(app.test_client(), document)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "between the years 2000 and 9999" in response.get_data(as_text=True)
    assert counts(runtime) == (0, 0, 0)
