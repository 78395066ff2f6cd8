"""The PHP module and the Python service agree on the wire: the module's real writer, sender,
signature and curl transport (magento-module/Test/Contract/send_event.php) post to the real
Tillbridge app served over HTTP, which accepts the event, acknowledges a replay and refuses
a tampered body."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from service.flows import MAGENTO_EVENTS
from service.sandbox.server import RunningSandbox, start_in_thread
from service.store.tables import InboxEvent, SyncItem
from tests.php.php import MODULE, send_event

SECRET = "contract-secret-ü"
ORDER = {
    "entity_id": 1001, "increment_id": "000001001", "state": "new", "status": "pending", "store_id": 1,
    "customer_email": "zoë@example.com", "grand_total": 59.9, "updated_at": "2026-11-27 10:00:00",
    "items": [{"sku": "TEE-1000", "name": "Tee / blue", "qty_ordered": 2, "price": 29.95}],
    "payment": {"method": "checkmo", "cc_last4": "1111"},
}


@pytest.fixture
def service(app: Flask) -> Iterator[RunningSandbox]:
    app.extensions["tillbridge"].reconfigure(TILLBRIDGE_WEBHOOK_SECRET=SECRET)
    server = start_in_thread(app)
    yield server
    server.stop()


def send(url: str, *flags: str, secret: str = SECRET, event: str = "order.created",
         data: dict[str, Any] | None = None) -> dict[str, Any]:
    return send_event(url, secret, data if data is not None else ORDER, *flags, event=event)


def inbox(app: Flask) -> list[InboxEvent]:
    with app.extensions["tillbridge"].store.session() as session:
        return list(session.scalars(select(InboxEvent)))


def test_service_accepts_the_modules_signed_event(app: Flask, service: RunningSandbox) -> None:
    result = send(service.url)

    assert result["rounds"][0]["status"] == "sent", result
    assert result["rounds"][0]["http_status"] == 202
    events = inbox(app)
    assert len(events) == 1
    stored = events[0]
    assert stored.event_id == result["event_id"]
    assert stored.event_type == "order.created"
    assert stored.store_code == "default"
    assert stored.payload["data"] == ORDER
    with app.extensions["tillbridge"].store.session() as session:
        assert session.scalar(select(func.count()).select_from(SyncItem)) == 1


def test_a_backlog_drains_in_batches_and_arrives_in_outbox_order(app: Flask, service: RunningSandbox) -> None:
    result = send(service.url, "--count=12", "--batch=5")

    assert result["statuses"] == {"sent": 12}, result
    assert result["runs"] == 4, "three runs of 5, 5 and 2 events, then one that finds nothing"
    with app.extensions["tillbridge"].store.session() as session:
        arrived = list(session.scalars(select(InboxEvent.event_id).order_by(InboxEvent.id)))
    assert arrived == result["event_ids"]


def test_a_resent_event_is_acknowledged_once(app: Flask, service: RunningSandbox) -> None:
    result = send(service.url, "--twice")

    assert [(r["status"], r["http_status"]) for r in result["rounds"]] == [("sent", 202), ("sent", 200)]
    assert len(inbox(app)) == 1


def test_a_body_changed_after_signing_is_refused_and_the_row_fails(app: Flask, service: RunningSandbox) -> None:
    result = send(service.url, "--tamper")

    attempt = result["rounds"][0]
    assert (attempt["status"], attempt["http_status"], attempt["attempts"]) == ("failed", 401, 1)
    assert "signature does not match the body" in attempt["last_error"]
    assert inbox(app) == []


def test_a_wrong_secret_is_refused_with_a_hint(app: Flask, service: RunningSandbox) -> None:
    result = send(service.url, secret="not-the-secret")

    attempt = result["rounds"][0]
    assert (attempt["status"], attempt["http_status"]) == ("failed", 401)
    assert "check the shared secret" in attempt["last_error"]
    assert SECRET not in json.dumps(result)
    assert inbox(app) == []


def test_a_card_number_is_refused_and_not_retried(app: Flask, service: RunningSandbox) -> None:
    leaky = {**ORDER, "payment": {"method": "ccsave", "additional_information": ["4111 1111 1111 1111"]}}

    result = send(service.url, data=leaky)

    attempt = result["rounds"][0]
    assert (attempt["status"], attempt["http_status"]) == ("failed", 422)
    assert "4111" not in attempt["last_error"]
    assert inbox(app) == []


@pytest.mark.parametrize(("event", "data"), [
    ("customer.created", {"id": 7, "email": "ann@example.com", "firstname": "Ann", "lastname": "Lee"}),
    ("product.saved", {"id": 15, "sku": "TEE-1000", "name": "Tee", "price": 29.95}),
    ("creditmemo.created", {"entity_id": 4, "order_id": 1001, "grand_total": 20.0}),
])
def test_every_event_kind_is_accepted(app: Flask, service: RunningSandbox, event: str, data: dict[str, Any]) -> None:
    result = send(service.url, event=event, data=data)

    assert (result["rounds"][0]["status"], result["rounds"][0]["http_status"]) == ("sent", 202), result
    assert [e.event_type for e in inbox(app)] == [event]


def test_an_unreachable_service_leaves_the_row_pending_for_a_retry(unused_url: str) -> None:
    result = send(unused_url)

    attempt = result["rounds"][0]
    assert (attempt["status"], attempt["attempts"], attempt["http_status"]) == ("pending", 1, None)
    assert "no answer from" in attempt["last_error"]


@pytest.fixture
def unused_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_the_module_sends_exactly_the_events_the_service_knows() -> None:
    source = (MODULE / "Model" / "Outbox" / "EventName.php").read_text()
    assert tuple(re.findall(r"public const \w+ = '([a-z]+\.[a-z]+)';", source)) == MAGENTO_EVENTS
