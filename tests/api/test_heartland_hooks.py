"""Ingest of Heartland webhook hints through the real app, store and Redis queue."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from service.api.heartland_hooks import EVENTS, TICKET_REASON, classify, event_id_for
from service.flows import ENABLED_FLOWS
from service.store.tables import SyncItem
from tests.api.ingest_counts import counts, counts_when

TOKEN = "hook-token-0123456789"


def item(**changes: Any) -> dict[str, Any]:
    record = {"id": 7, "public_id": "TEE-1000", "description": "Tee", "price": 25.0, "active?": True,
              "track_inventory?": True, "custom": {}, "updated_at": "2026-11-27T09:00:00.000Z"}
    record.update(changes)
    return record


def post(client: Any, document: Any, token: str = TOKEN) -> Any:
    return client.post(f"/webhooks/heartland/{token}", data=json.dumps(document),
                       headers={"Content-Type": "application/json"})




@pytest.fixture
def client(app: Any, runtime: Any) -> Any:
    runtime.reconfigure(TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN=TOKEN)
    return app.test_client()


def test_an_item_hint_is_stored_with_its_sync_item_then_enqueued(client: Any, runtime: Any) -> None:
    response = post(client, item())
    assert response.status_code == 202, response.json
    assert response.json["event_id"] == "item:7:2026-11-27T09:00:00.000Z"
    assert counts_when(runtime, (1, 1, 1)) == (1, 1, 1)
    with runtime.store.session() as s:
        stored = s.get(SyncItem, response.json["item_id"])
        assert stored is not None
        assert (stored.flow, stored.state, stored.direction) == ("products", "received", "heartland→magento")
        assert stored.entity_key == "products:heartland:item:7"
        assert stored.source_version == "2026-11-27T09:00:00.000Z"
        # Booleans are stored as REST names them, without the webhook's `?`.
        assert stored.payload["record"]["active"] is True and "active?" not in stored.payload["record"]


def test_a_redelivered_hint_is_a_duplicate_and_a_change_is_new(client: Any, runtime: Any) -> None:
    assert post(client, item()).status_code == 202
    for _ in range(2):
        again = post(client, item())
        assert again.status_code == 200
        assert again.json["status"] == "duplicate"
    assert counts_when(runtime, (1, 1, 1)) == (1, 1, 1)
    changed = post(client, item(price=27.0, updated_at="2026-11-27T09:05:00.000Z"))
    assert changed.status_code == 202
    assert counts_when(runtime, (2, 2, 2)) == (2, 2, 2)


@pytest.mark.parametrize("token", ["wrong-token", TOKEN[:-1], TOKEN + "x"])
def test_a_wrong_token_is_refused_with_nothing_stored(client: Any, runtime: Any, token: str) -> None:
    response = post(client, item(), token=token)
    assert response.status_code == 401
    assert response.json["error"] == "bad_token"
    assert TOKEN not in response.get_data(as_text=True)
    assert counts(runtime) == (0, 0, 0)


def test_an_empty_configured_token_refuses_everything(app: Any, runtime: Any) -> None:
    runtime.reconfigure(TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN="")
    assert app.test_client().post("/webhooks/heartland/x", json=item()).status_code == 401
    assert counts(runtime) == (0, 0, 0)


def test_card_numbers_are_refused_before_anything_is_stored(client: Any, runtime: Any) -> None:
    response = post(client, item(custom={"note": "4111 1111 1111 1111"}))
    assert response.status_code == 422
    assert response.json["fields"] == ["$.custom.note"]
    assert "4111" not in response.get_data(as_text=True)
    assert counts(runtime) == (0, 0, 0)


def test_records_without_an_id_or_not_json_are_refused(client: Any, runtime: Any) -> None:
    assert post(client, {"description": "no id"}).status_code == 400
    assert post(client, [item()]).status_code == 400
    bad = client.post(f"/webhooks/heartland/{TOKEN}", data=b"{not json", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400
    assert counts(runtime) == (0, 0, 0)


def test_customers_and_transactions_wait_as_ignored_until_their_flow_exists(client: Any, runtime: Any) -> None:
    customer = {"id": 3, "first_name": "Ann", "last_name": "Lee", "email": "ann@example.com",
                "active?": True, "updated_at": "2026-11-27T09:00:00Z"}
    ticket = {"id": 11, "type": "Ticket", "status": "complete", "completed?": True, "total": 10.0,
              "updated_at": "2026-11-27T09:00:00Z"}
    for record, kind, flow in ((customer, "customer", "customers"), (ticket, "transaction", "sales")):
        response = post(client, record)
        assert response.status_code == 202
        assert response.json["event_id"].startswith(f"{kind}:{record['id']}:")
        with runtime.store.session() as s:
            stored = s.get(SyncItem, response.json["item_id"])
            assert stored is not None and stored.flow == flow
            if flow in ENABLED_FLOWS:
                assert stored.state == "received"
            elif flow == "sales":
                # A sale ticket means nothing for Magento by itself: ignored, saying where its effects go.
                assert stored.state == "ignored" and stored.reason == TICKET_REASON
                assert "inventory flow" in stored.reason and "gift cards flow" in stored.reason
            else:
                assert stored.state == "ignored" and "not enabled yet" in stored.reason


def test_classification_by_sniffing() -> None:
    assert classify({"id": 1, "first_name": "A", "email": None}) == ("customer", "customers")
    assert classify({"id": 1, "first_name": None, "last_name": "Co", "email": "a@b.c"}) == ("customer", "customers")
    assert classify({"id": 1, "type": "Return"}) == ("transaction", "refunds")
    assert classify({"id": 1, "type": "Invoice"}) == ("transaction", "shipments")
    assert classify({"id": 1, "type": "Item", "description": "Tee"}) == ("item", "products")
    assert classify({"id": 1, "description": "Tee"}) == ("item", "products")
    assert event_id_for("item", {"id": 4, "updated_at": "t"}) == "item:4:t"


def test_the_cli_registers_lists_and_removes_our_webhook(settings: dict[str, Any]) -> None:
    from click.testing import CliRunner

    from service.cli.main import main
    from service.sandbox.heartland.app import create_app as create_heartland
    from service.sandbox.server import start_in_thread

    sandbox = start_in_thread(create_heartland(seed="demo", token="cli-token"))
    try:
        env = {**{k: str(v) for k, v in settings.items()}, "TILLBRIDGE_HEARTLAND_URL": f"{sandbox.url}/api",
               "TILLBRIDGE_HEARTLAND_TOKEN": "cli-token", "TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN": TOKEN,
               "TILLBRIDGE_PUBLIC_URL": "http://127.0.0.1:8000"}
        headers = {"Authorization": "Bearer cli-token"}
        other = requests.post(f"{sandbox.url}/api/webhooks", headers=headers, timeout=10,
                              json={"url": "http://127.0.0.1:9/elsewhere", "events": ["item_created"]})
        assert other.status_code in (200, 201)

        def run(*args: str) -> Any:
            result = CliRunner().invoke(main, ["heartland", "webhooks", *args], env=env)
            assert result.exit_code == 0, result.output
            assert TOKEN not in result.output  # the URL's secret is never printed
            return result

        assert "registered webhook" in run("register").output
        assert "already registered" in run("register").output
        hooks = requests.get(f"{sandbox.url}/api/webhooks", headers=headers, timeout=10).json()["results"]
        ours = [h for h in hooks if h["url"] == f"http://127.0.0.1:8000/webhooks/heartland/{TOKEN}"]
        assert len(ours) == 1 and sorted(ours[0]["events"]) == sorted(EVENTS)
        listed = run("list").output.splitlines()
        assert sum(line.startswith("*") for line in listed) == 1 and len(listed) == 2
        assert "removed 1 webhook(s)" in run("remove", "--all-ours").output
        left = requests.get(f"{sandbox.url}/api/webhooks", headers=headers, timeout=10).json()["results"]
        assert [h["url"] for h in left] == ["http://127.0.0.1:9/elsewhere"]
        bad = CliRunner().invoke(main, ["heartland", "webhooks", "remove"], env=env)
        assert bad.exit_code != 0 and "--all-ours" in bad.output
    finally:
        sandbox.stop()
