"""Outbound webhook endpoints through the real app: SSRF guard, secrets shown once and rotated,
payloads cut to a link above the limit, secrets never stored in clear."""

from __future__ import annotations

import json
from typing import Any

import pytest

from service.api.outbound.endpoints import EndpointError, check_url
from service.api.outbound.events import emit, payload_for


@pytest.mark.parametrize("url", ["http://127.0.0.1/hook", "http://localhost:8000/x", "http://169.254.169.254/latest",
                                 "https://10.0.0.8/h", "http://[::1]/h", "http://192.168.1.20/h", "ftp://example.com/x",
                                 "https://user:pw@example.com/h", "http://0.0.0.0/h"])
def test_endpoints_must_be_public_http(url: str) -> None:
    with pytest.raises(EndpointError):
        check_url(url, allow_private=False)


def test_private_addresses_pass_only_when_allowed() -> None:
    assert check_url("http://127.0.0.1:9/hook", allow_private=True) == "http://127.0.0.1:9/hook"
    assert check_url("https://93.184.215.14/hook", allow_private=False)  # a public address literal


def test_creating_an_endpoint_refuses_a_private_url_with_a_reason(app: Any, make_token: Any) -> None:
    response = app.test_client().post("/v1/webhooks", json={"url": "http://127.0.0.1:5000/x", "events": ["*"]},
                                      headers=make_token())
    assert response.status_code == 422 and "not a public address" in response.json["message"]


def test_the_secret_is_shown_once_stored_encrypted_and_rotated(settings: dict[str, Any], runtime: Any,
                                                               make_token: Any) -> None:
    from service.app.factory import create_app

    app = create_app({**settings, "AUTO_MIGRATE": False, "WEBHOOKS_ALLOW_PRIVATE_URLS": True})
    client = app.test_client()
    headers = make_token()
    made = client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/h", "events": ["order.synced"]},
                       headers=headers).json
    secret = made["secret"]
    assert secret.startswith("whsec_")
    assert "secret" not in client.get(f"/v1/webhooks/{made['id']}", headers=headers).json
    assert all("secret" not in e for e in client.get("/v1/webhooks", headers=headers).json["data"])
    with runtime.store.engine.connect() as connection:
        stored = json.dumps([list(map(str, r)) for r in connection.exec_driver_sql("SELECT * FROM webhook_endpoints")])
    assert secret not in stored and secret[6:] not in stored
    rotated = client.post(f"/v1/webhooks/{made['id']}/rotate-secret", headers=headers).json
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != secret

    from service.api.outbound.endpoints import signing_secrets
    from service.store.api_tables import WebhookEndpoint

    with runtime.store.session() as s:
        live = signing_secrets(s.get(WebhookEndpoint, int(made["id"][3:])), settings.get("TILLBRIDGE_ENCRYPTION_KEY")
                               or app.extensions["tillbridge"].settings.TILLBRIDGE_ENCRYPTION_KEY)
    assert live == [rotated["secret"], secret]  # both sign during the rotation
    app.extensions["tillbridge"].store.dispose()


def test_large_data_is_cut_to_a_link() -> None:
    big = {"id": "magento:default:1", "object": "order", "lines": [{"sku": "X" * 50}] * 1000}
    payload = payload_for("order.synced", big, "/v1/orders/magento:default:1", 20000)
    assert payload["data"] == {"id": "magento:default:1", "object": "order", "url": "/v1/orders/magento:default:1",
                               "truncated": True}
    small = payload_for("order.synced", {"id": "a", "object": "order"}, "/v1/orders/a", 20000)
    assert small["data"]["url"] == "/v1/orders/a" and "truncated" not in small["data"]
    assert payload["timestamp"].endswith("Z") and payload["type"] == "order.synced"


def test_one_fact_is_one_event(runtime: Any) -> None:
    first = emit(runtime, "inventory.updated", {"id": "TEE-1", "object": "inventory"}, dedup_key="inv:1", url="/x")
    again = emit(runtime, "inventory.updated", {"id": "TEE-1", "object": "inventory"}, dedup_key="inv:1", url="/x")
    assert first is not None and again is None


def test_a_replayed_answer_never_holds_the_secret(settings: dict[str, Any], runtime: Any, make_token: Any) -> None:
    from service.app.factory import create_app

    app = create_app({**settings, "AUTO_MIGRATE": False, "WEBHOOKS_ALLOW_PRIVATE_URLS": True})
    client = app.test_client()
    headers = {**make_token(), "Idempotency-Key": "hook-1"}
    body = {"url": "http://127.0.0.1:9/h", "events": ["order.synced"]}
    first = client.post("/v1/webhooks", json=body, headers=headers).json
    again = client.post("/v1/webhooks", json=body, headers=headers).json
    assert first["secret"].startswith("whsec_")
    assert again["id"] == first["id"] and again["secret"] is None and "rotate" in again["secret_note"]
    with runtime.store.engine.connect() as connection:
        kept = json.dumps([list(map(str, r)) for r in connection.exec_driver_sql("SELECT * FROM api_idempotency")])
    assert first["secret"] not in kept
    app.extensions["tillbridge"].store.dispose()


def test_old_events_are_purged_once_delivered(runtime: Any) -> None:
    from datetime import timedelta

    from service.api.outbound.events import purge
    from service.store.api_tables import WebhookEvent
    from service.store.tables import utcnow

    emit(runtime, "inventory.updated", {"id": "A", "object": "inventory"}, dedup_key="old", url="/x")
    emit(runtime, "inventory.updated", {"id": "B", "object": "inventory"}, dedup_key="new", url="/x")
    with runtime.store.session() as s:
        s.query(WebhookEvent).filter(WebhookEvent.dedup_key == "old").update(
            {"created_at": utcnow() - timedelta(days=int(runtime.settings.RETENTION_DAYS) + 1)})
    assert purge(runtime) == 1
    with runtime.store.session() as s:
        assert [e.dedup_key for e in s.query(WebhookEvent)] == ["new"]


def test_the_scan_gets_past_a_busy_overlap_and_emits_each_fact_once(runtime: Any) -> None:
    """More items finished in the re-read overlap than one batch holds: the items after them are
    still emitted, and none of the overlap a second time."""
    from datetime import timedelta

    from service.api.outbound import scan
    from service.store import items
    from service.store.api_tables import WebhookEvent
    from service.store.tables import utcnow

    start = utcnow() - timedelta(seconds=30)
    rows = [items.item_values(flow="inventory", entity_key=f"inventory:SKU-{n}", payload={"sku": f"SKU-{n}"},
                              state="done") for n in range(scan.SCAN_BATCH + 20)]
    with runtime.store.session() as s:
        ids = items.add_many(s, rows)
        for n, item_id in enumerate(ids):
            s.get(items.SyncItem, item_id).finished_at = start + timedelta(milliseconds=n)
    assert scan.scan(runtime) == scan.SCAN_BATCH  # one batch; the cursor is at its newest
    later = items.item_values(flow="inventory", entity_key="inventory:LATE", payload={"sku": "LATE"}, state="done")
    with runtime.store.session() as s:
        (late_id,) = items.add_many(s, [later])
    assert scan.scan(runtime) == 21  # the rest of the first items and the new one, past a full overlap
    assert scan.scan(runtime) == 0
    with runtime.store.session() as s:
        keys = [e.dedup_key for e in s.query(WebhookEvent)]
    assert len(keys) == len(set(keys)) == scan.SCAN_BATCH + 21 and f"inventory.updated:item:{late_id}" in keys
