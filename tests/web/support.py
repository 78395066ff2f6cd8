"""Helpers for web tests: signing in, posting forms with the CSRF token, and sync items, traces and
dead letters made through the store's own functions (shaped as the engine records them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient

from service.app.runtime import Runtime
from service.engine.deadletters import DeadLetterFilter, query
from service.store import items
from service.store.tables import SyncItem

PASSWORD = "correct horse battery"


def csrf_from(client: FlaskClient) -> str:
    """The CSRF token of the client's session, as the pages' forms carry it."""
    with client.session_transaction() as session:
        token = session.get("csrf_token")
    if not token:
        client.get("/")  # every page's layout has the sign-out form, which makes the token
        with client.session_transaction() as session:
            token = session.get("csrf_token")
    assert token, "no CSRF token in the session: the page rendered no form"
    return str(token)


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    client.get("/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_from(client)})


def post_form(client: FlaskClient, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """POST a form the way the page does, with the session's CSRF token."""
    return client.post(path, data={**(data or {}), "csrf_token": csrf_from(client)}, **kwargs)


@dataclass
class Seeded:
    done: SyncItem
    dead: SyncItem
    dead_letter_id: int


ORDER_PAYLOAD = {"entity_id": 42, "increment_id": "000000042", "customer_email": "ann@example.com",
                 "items": [{"sku": "TEE-RED-M", "qty_ordered": 2, "price": 19.5}]}


def add_item(runtime: Runtime, *, label: str, entity_key: str, flow: str = "orders",
             payload: dict[str, Any] | None = None) -> SyncItem:
    with runtime.store.session() as s:
        return items.create(s, flow=flow, entity_key=entity_key, label=label, direction="magento→heartland",
                            payload=payload if payload is not None else dict(ORDER_PAYLOAD))


def exchange_step(method: str, url: str, request: Any, status: int, response: Any) -> dict[str, Any]:
    """A trace step shaped as the engine records an HTTP exchange (service/engine/trace.py)."""
    return {"step": "heartland", "status": "ok" if status < 400 else "error",
            "message": f"{method} {urlsplit(url).path} → {status}",
            "detail": {"method": method, "url": url, "request": request, "status": status,
                       "response": response, "error": None},
            "ms": 12.5}


def make_done(runtime: Runtime, number: int = 42) -> SyncItem:
    item = add_item(runtime, label=f"order #0000000{number}", entity_key=f"magento:default:order:{number}",
                    payload={**ORDER_PAYLOAD, "entity_id": number, "increment_id": f"0000000{number}"})
    claimed = items.claim(runtime.store, item.id, 60)  # as a run does: claimed, then finished under its fence
    assert claimed is not None
    items.finish(runtime.store, item.id, fence=claimed.fence, state="done", reason="",
                 result={"heartland_order": "S-1001"},
                 attempts=1, steps=[
                     {"step": "fetch", "status": "ok", "message": "read order from Magento", "detail": {}, "ms": 3.0},
                     exchange_step("POST", "http://127.0.0.1:9001/api/sales/orders",
                                   {"customer_id": 7, "lines": [{"item_id": 11, "qty": 2}]},
                                   201, {"id": 1001, "public_id": "S-1001"}),
                 ])
    return item


def make_dead(runtime: Runtime, number: int = 77, *, flow: str = "orders", failure_class: str = "data",
              error: str = "Heartland refused the order: customer email is invalid") -> tuple[SyncItem, int]:
    item = add_item(runtime, label=f"order #0000000{number}", entity_key=f"magento:default:order:{number}",
                    flow=flow, payload={**ORDER_PAYLOAD, "entity_id": number, "customer_email": "not-an-email"})
    claimed = items.claim(runtime.store, item.id, 60)
    assert claimed is not None
    items.kill(runtime.store, item, fence=claimed.fence, failure_class=failure_class, error=error, attempts=1, steps=[
        exchange_step("POST", "http://127.0.0.1:9001/api/customers", {"email": "not-an-email"},
                      422, {"errors": {"email": ["is invalid"]}}),
    ])
    letter = next(d for d in query(runtime.store, DeadLetterFilter(open_only=True)) if d.item_id == item.id)
    return item, letter.id


def queue_length(runtime: Runtime) -> int:
    return len(runtime.queue)
