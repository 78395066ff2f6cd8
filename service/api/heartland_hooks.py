"""Ingest: Heartland webhooks land here.

Heartland signs nothing, so the URL carries a secret token (compared in constant time). A delivery
is the bare record with ``?``-suffixed booleans and no event name: it is only a hint. It is
classified by sniffing (customer: ``first_name`` + ``email``; transaction: ``type`` Ticket, Return or
Invoice; else item), kept in the inbox under ``<kind>:<id>:<updated_at>`` (a redelivered identical
hint is a duplicate, 200) with its sync item, committed, then enqueued (202). The flow re-reads the
record from Heartland by id before doing anything with it.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import Blueprint, Response, jsonify, request

from service.api.envelope import is_record_id, is_version
from service.api.intake import IncomingEvent, IngestUnavailable, accept
from service.api.webhooks import read_event
from service.connectors.heartland.client import normalise_webhook_payload
from service.flows.context import current
from service.settings.secrets import usable

log = logging.getLogger(__name__)
bp = Blueprint("heartland_hooks", __name__)

SOURCE = "heartland"
# The events Tillbridge subscribes to (reference §3.12).
EVENTS = ("item_created", "item_updated", "customer_created", "customer_updated", "sales_transaction_completed")
ITEM_FLOW = "products"
CUSTOMER_FLOW = "customers"
# A completed transaction's flow depends on its type: sales tickets, returns (Magento credit memos),
# invoices (fulfilment → Magento shipments).
TRANSACTION_FLOWS = {"Ticket": "sales", "Return": "refunds", "Invoice": "shipments"}
# A POS sale ticket has nothing of its own to send to Magento: the stock it moved reaches Magento
# through the inventory flow (its poll reads Heartland's inventory ledger), gift cards sold or
# redeemed on it through the gift cards flow, and Magento keeps no record of in-store sales.
TICKET_REASON = ("a Heartland sale ticket has nothing to sync to Magento: its stock moves reach Magento through "
                 "the inventory flow (Heartland's inventory ledger), gift cards on it through the gift cards flow, "
                 "and Magento keeps no in-store sales; the event is kept in the inbox")


def _error(status: int, error: str, message: str, **extra: Any) -> Response:
    response = jsonify({"error": error, "message": message, **extra})
    response.status_code = status
    return response


def classify(record: dict[str, Any]) -> tuple[str, str]:
    """(kind, flow) of a webhook record, by sniffing its fields: deliveries carry no event name."""
    # Keys, not values: a customer without a first name is still a customer, and an item never
    # carries these fields.
    if "first_name" in record and "email" in record:
        return "customer", CUSTOMER_FLOW
    kind = record.get("type")
    if isinstance(kind, str) and kind in TRANSACTION_FLOWS:
        return "transaction", TRANSACTION_FLOWS[kind]
    return "item", ITEM_FLOW


def event_id_for(kind: str, record: dict[str, Any]) -> str:
    """Identical redeliveries share this id; a real change moves ``updated_at`` and so the id."""
    return f"{kind}:{record.get('id')}:{record.get('updated_at') or ''}"


def _label(kind: str, record: dict[str, Any]) -> str:
    if kind == "customer":
        return f"Heartland customer {record.get('email') or record.get('id')}"
    if kind == "transaction":
        return f"Heartland {str(record.get('type') or 'transaction').lower()} {record.get('public_id') or record.get('id')}"
    return f"Heartland item #{record.get('public_id') or record.get('id')}"


HOOK_PATH = "/webhooks/heartland/"


def hook_url(base_url: str, token: str) -> str:
    """Where Heartland posts: Tillbridge's public base URL plus the secret token."""
    return f"{base_url.rstrip('/')}{HOOK_PATH}{token}"


def is_ours(url: str, token: str) -> bool:
    return HOOK_PATH in url and url.rstrip("/").endswith(f"{HOOK_PATH}{token}".rstrip("/"))


def masked(url: str) -> str:
    if HOOK_PATH not in url:
        return url
    head, _, token = url.partition(HOOK_PATH)
    return f"{head}{HOOK_PATH}{token[:2]}…" if token else url


@bp.post("/webhooks/heartland/<token>")
def heartland_event(token: str) -> Response:
    runtime = current()
    settings = runtime.settings
    expected = settings.TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN
    # A published default token opens nothing: anyone could read it in this repository.
    if not usable(expected) or not hmac.compare_digest(token.encode(), expected.encode()):
        # The token is never logged: a wrong one may be a near miss of the real one.
        log.warning("heartland event refused: wrong token in the URL")
        return _error(401, "bad_token", "the URL's token is not Tillbridge's Heartland webhook token; "
                      "register the URL again with `tillbridge heartland webhooks register`")
    body = request.get_data(cache=False)
    if len(body) > settings.MAX_EVENT_BYTES:
        return _error(413, "too_large", f"event body is {len(body)} bytes; the limit is {settings.MAX_EVENT_BYTES}")
    document, refused = read_event(body)
    if refused is not None:
        return refused
    if not isinstance(document, dict) or document.get("id") in (None, ""):
        return _error(400, "invalid_record", "the body must be a Heartland record (a JSON object with an id)",
                      fields={"id": ["required"]})
    if not is_record_id(document.get("id")) or not is_version(document.get("updated_at")):
        return _error(400, "invalid_record", "the record's id must be a number or a short text and its updated_at "
                      "a date-time text (at most 64 characters each, no control characters)",
                      fields={"id": ["a number or a short text"], "updated_at": ["a date-time text"]})
    record = normalise_webhook_payload(document)
    kind, flow = classify(record)
    event_id = event_id_for(kind, record)
    if len(event_id) > 128:
        return _error(400, "invalid_record", "the record's id and updated_at are too long to be a Heartland record")
    event_type = f"{kind}.{record['type']}" if kind == "transaction" else kind
    try:
        item_id = accept(runtime, IncomingEvent(
            source=SOURCE, event_id=event_id, event_type=event_type, store_code="", occurred_at=None,
            document=document, flow=flow, direction="heartland→magento",
            entity_key=f"{flow}:heartland:{kind}:{record['id']}", label=_label(kind, record),
            payload={"kind": kind, "id": record["id"], "record": record},
            source_version=str(record.get("updated_at") or ""),
            ignored_reason=TICKET_REASON if flow == TRANSACTION_FLOWS["Ticket"] else "",
        ))
    except IngestUnavailable as exc:
        return _error(503, "not_stored", str(exc))
    if item_id is None:
        return jsonify({"status": "duplicate", "event_id": event_id})
    response = jsonify({"status": "accepted", "event_id": event_id, "item_id": item_id, "flow": flow})
    response.status_code = 202
    return response
