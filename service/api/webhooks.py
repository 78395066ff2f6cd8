"""Ingest: events from Magento (the module, or the sandbox) land here.

Verify the signature, refuse card numbers, validate the envelope, keep the event in the inbox
with its sync item (unique on source + event id), commit, then enqueue. 202 only after the
commit; a replayed event id is acknowledged with 200 and not processed again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, jsonify, request
from marshmallow import ValidationError

from service.api.envelope import EnvelopeSchema
from service.api.intake import IncomingEvent, IngestUnavailable, accept
from service.flows import MAGENTO_EVENT_FLOWS
from service.flows.context import current
from service.kernel.cards import card_number_paths, find_card_numbers, json_body_may_hold_card_numbers
from service.kernel.signing import (
    ID_HEADER,
    LEGACY_SIGNATURE_HEADER,
    SIGNATURE_HEADER,
    SignatureError,
    verify,
    verify_legacy,
)
from service.settings import Settings
from service.settings.secrets import usable

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)
ENVELOPE = EnvelopeSchema()  # built once: loading keeps no state on the schema


def _error(status: int, error: str, message: str, **extra: Any) -> Response:
    response = jsonify({"error": error, "message": message, **extra})
    response.status_code = status
    return response


def read_event(body: bytes) -> tuple[Any, Response | None]:
    """An event body as JSON, or the answer refusing it: 400 when it is not JSON, 422 when it holds
    a card number anywhere. Both come before anything is stored; a 422 names where, never the digits."""
    try:
        document = json.loads(body)
    except ValueError as exc:
        return None, _error(400, "invalid_json", f"body is not JSON: {exc}")
    if not json_body_may_hold_card_numbers(body):  # most bodies: one pass over the bytes says so
        return document, None
    paths = card_number_paths(document)
    if paths or find_card_numbers(body.decode("utf-8", "replace")):
        return None, _error(422, "card_number_refused",
                            "the event contains a card number; Tillbridge never accepts or stores card numbers. "
                            "Send only the card type and last 4 digits.", fields=paths or ["$"])
    return document, None


def webhook_secrets(settings: Settings) -> list[str]:
    """The secrets an event may be signed with: the current one and, during a rotation, the previous
    one. A published default is never among them, so an event signed with it is refused."""
    names = ("TILLBRIDGE_WEBHOOK_SECRET", "TILLBRIDGE_WEBHOOK_SECRET_PREVIOUS")
    return [getattr(settings, name) for name in names if usable(getattr(settings, name))]


def verify_request(settings: Settings, secrets: list[str], headers: Mapping[str, str], body: bytes) -> str:
    """The event id the signature vouches for. The legacy X-Tillbridge-* headers count only when
    ACCEPT_LEGACY_SIGNATURES is on and no Standard Webhooks signature was sent."""
    tolerance = settings.SIGNATURE_TOLERANCE_SECONDS
    names = {name.lower() for name in headers}
    if SIGNATURE_HEADER not in names and LEGACY_SIGNATURE_HEADER.lower() in names:
        if not settings.ACCEPT_LEGACY_SIGNATURES:
            raise SignatureError(f"the legacy {LEGACY_SIGNATURE_HEADER} signature is no longer accepted: update "
                                 "the Tillbridge module (it sends webhook-id, webhook-timestamp and "
                                 "webhook-signature), or set ACCEPT_LEGACY_SIGNATURES=1 until then")
        return verify_legacy(secrets, headers, body, tolerance)
    return verify(secrets, headers, body, tolerance)


@bp.post("/webhooks/magento")
def magento_event() -> Response:
    runtime = current()
    settings = runtime.settings
    body = request.get_data(cache=False)
    if len(body) > settings.MAX_EVENT_BYTES:
        return _error(413, "too_large", f"event body is {len(body)} bytes; the limit is {settings.MAX_EVENT_BYTES}")
    secrets = webhook_secrets(settings)
    if not secrets:
        log.error("magento event refused: TILLBRIDGE_WEBHOOK_SECRET is unset or a published default")
        return _error(503, "ingest_not_configured",
                      "Tillbridge has no usable webhook secret: set TILLBRIDGE_WEBHOOK_SECRET (at least 32 random "
                      "bytes, not a published default) here and in the Magento module")
    try:
        event_id = verify_request(settings, secrets, dict(request.headers), body)
    except SignatureError as exc:
        log.warning("magento event refused: %s", exc)
        return _error(401, "bad_signature", str(exc))
    document, refused = read_event(body)
    if refused is not None:
        return refused
    field_errors: dict[str, Any] = {}
    if not event_id or len(event_id) > 128:
        field_errors[ID_HEADER] = ["required header: the event's UUID (at most 128 characters)"]
    try:
        envelope = ENVELOPE.load(document) if isinstance(document, dict) else None
        if envelope is None:
            field_errors["_schema"] = ["the body must be a JSON object: {event, occurred_at, store_code, data}"]
    except ValidationError as exc:
        field_errors.update(exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages})
    if field_errors:
        return _error(400, "invalid_envelope",
                      "the event envelope is not valid: " + "; ".join(f"{k}: {v}" for k, v in field_errors.items()),
                      fields=field_errors)
    assert envelope is not None

    flow = MAGENTO_EVENT_FLOWS[envelope["event"]]
    data = envelope["data"]
    entity_id = data.get("entity_id", data.get("id"))
    try:
        item_id = accept(runtime, IncomingEvent(
            source="magento", event_id=event_id, event_type=envelope["event"], store_code=envelope["store_code"],
            occurred_at=envelope["occurred_at"], document=document, flow=flow, direction="magento→heartland",
            entity_key=f"{flow}:magento:{envelope['store_code']}:{entity_id}", label=_label(envelope["event"], data),
            payload=document, source_version=str(data.get("updated_at") or ""), screened=True,
        ))
    except IngestUnavailable as exc:
        return _error(503, "not_stored", str(exc))
    if item_id is None:
        return jsonify({"status": "duplicate", "event_id": event_id})
    response = jsonify({"status": "accepted", "event_id": event_id, "item_id": item_id})
    response.status_code = 202
    return response


def _label(event: str, data: dict[str, Any]) -> str:
    kind = event.split(".")[0]
    if kind == "order":
        return f"order #{data.get('increment_id') or data.get('entity_id')}"
    if kind == "customer":
        return f"customer {data.get('email') or data.get('id')}"
    if kind == "product":
        return f"product {data.get('sku') or data.get('id')}"
    return f"{kind} {data.get('increment_id') or data.get('entity_id') or data.get('id')}"
