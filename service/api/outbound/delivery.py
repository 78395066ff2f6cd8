"""One delivery attempt of one event to one endpoint, and the schedule of the next.

An attempt POSTs the event's JSON with the Standard Webhooks headers (``webhook-id`` = the event's
id, the same on every attempt, so a subscriber dedups by it; ``webhook-timestamp``;
``webhook-signature`` with one ``v1,`` signature per live secret). 2xx: succeeded. 410 Gone: the
endpoint is disabled (the subscriber said it is gone for good) and the delivery failed. Anything
else, or no answer within WEBHOOK_TIMEOUT_SECONDS: retried after the next wait of
WEBHOOK_RETRY_SCHEDULE (about a day in all), then failed, waiting for a manual replay.

Deliveries are rows first; RQ runs the attempts (``deliver_job``). An attempt claims its delivery
by moving ``next_attempt_at`` past its own timeout, so a second job for the same delivery (the
scheduler re-sending what looks lost) does nothing; the scheduler sends what is due (``send_due``).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta
from typing import Any

import requests
from sqlalchemy import select, update

from service.api.outbound.endpoints import EndpointError, check_url, disable, signing_secrets
from service.connectors.public_urls import public_session, refusal
from service.flows.context import current
from service.kernel.cards import mask_card_numbers
from service.kernel.signing import ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from service.settings import Settings
from service.store.api_tables import WebhookDelivery, WebhookEndpoint, WebhookEvent
from service.store.tables import utcnow

log = logging.getLogger(__name__)

KEPT_RESPONSE = 2000  # characters of a subscriber's answer kept for the delivery log
USER_AGENT = "Tillbridge-Webhooks/1"


def schedule(settings: Settings) -> list[float]:
    return [float(part) for part in settings.WEBHOOK_RETRY_SCHEDULE.split(",") if part.strip()]


def enqueue(runtime: Any, delivery_ids: list[int]) -> None:
    timeout = int(runtime.settings.WEBHOOK_TIMEOUT_SECONDS * 2 + 10)
    with runtime.redis.pipeline() as pipe:
        for delivery_id in delivery_ids:
            runtime.queue.enqueue(deliver_job, delivery_id, result_ttl=0, failure_ttl=86400, job_timeout=timeout,
                                  pipeline=pipe)
        pipe.execute()


def deliver_job(delivery_id: int) -> str:
    return attempt(current(), delivery_id)


def _claim(runtime: Any, delivery_id: int) -> bool:
    now = utcnow()
    lease = now + timedelta(seconds=runtime.settings.WEBHOOK_TIMEOUT_SECONDS * 2 + 30)
    with runtime.store.session() as s:
        claimed: Any = s.execute(update(WebhookDelivery)
                                 .where(WebhookDelivery.id == delivery_id, WebhookDelivery.state == "pending",
                                        WebhookDelivery.next_attempt_at <= now)
                                 .values(next_attempt_at=lease))
        return bool(claimed.rowcount)


def attempt(runtime: Any, delivery_id: int) -> str:
    """Make one attempt if the delivery is due; returns its state afterwards."""
    if not _claim(runtime, delivery_id):
        return "skipped"
    settings = runtime.settings
    with runtime.store.session() as s:
        delivery = s.get(WebhookDelivery, delivery_id)
        event = s.get(WebhookEvent, delivery.event_id) if delivery else None
        endpoint = s.get(WebhookEndpoint, delivery.endpoint_id) if delivery else None
        if delivery is None or event is None or endpoint is None:
            return "gone"
        if endpoint.disabled_at is not None:
            delivery.state, delivery.last_error = "failed", f"the endpoint is disabled: {endpoint.disabled_reason}"
            delivery.next_attempt_at = None
            return delivery.state
        url, body = endpoint.url, json.dumps(event.payload, separators=(",", ":")).encode()
        secrets_now = signing_secrets(endpoint, settings.TILLBRIDGE_ENCRYPTION_KEY)
        event_public_id, endpoint_id = event.public_id, endpoint.id
    status, error, answer = _post(url, body, event_public_id, secrets_now, settings)
    wait = schedule(settings)
    with runtime.store.session() as s:
        delivery = s.get(WebhookDelivery, delivery_id)
        delivery.attempts += 1
        delivery.last_status, delivery.last_error = status, error
        delivery.last_response = mask_card_numbers(answer[:KEPT_RESPONSE])
        if status is not None and 200 <= status < 300:
            delivery.state, delivery.delivered_at, delivery.next_attempt_at = "succeeded", utcnow(), None
        elif status == 410:
            delivery.state, delivery.next_attempt_at = "failed", None
            delivery.last_error = "the endpoint answered 410 Gone: it is disabled"
        elif delivery.attempts > len(wait):
            delivery.state, delivery.next_attempt_at = "failed", None
        else:
            delivery.next_attempt_at = utcnow() + timedelta(seconds=wait[delivery.attempts - 1])
        state = delivery.state
    if status == 410:
        disable(runtime.store, endpoint_id, f"answered 410 Gone to event {event_public_id}")
        log.warning("webhook endpoint we_%s answered 410 Gone: disabled", endpoint_id)
    return state


def _post(url: str, body: bytes, event_id: str, secrets_now: list[str], settings: Settings
          ) -> tuple[int | None, str, str]:
    try:
        check_url(url, allow_private=settings.WEBHOOKS_ALLOW_PRIVATE_URLS)
    except EndpointError as exc:
        return None, f"not sent: {exc}", ""
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json", "User-Agent": USER_AGENT,
        ID_HEADER: event_id, TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: " ".join(sign(secret, event_id, timestamp, body) for secret in secrets_now),
    }
    try:
        with public_session(allow_private=settings.WEBHOOKS_ALLOW_PRIVATE_URLS) as session:
            response = session.post(url, data=body, headers=headers,
                                    timeout=settings.WEBHOOK_TIMEOUT_SECONDS, allow_redirects=False)
    except requests.RequestException as exc:
        why = refusal(exc)
        return None, (f"not sent: {why}" if why else f"no answer: {type(exc).__name__}"), ""
    error = "" if 200 <= response.status_code < 300 else f"answered {response.status_code}"
    return response.status_code, error, response.text


def send_due(runtime: Any, limit: int = 500) -> int:
    """Queue the deliveries whose next attempt is due (retries, and sends an enqueue lost)."""
    with runtime.store.session() as s:
        due = list(s.scalars(select(WebhookDelivery.id).where(WebhookDelivery.state == "pending",
                                                              WebhookDelivery.next_attempt_at <= utcnow())
                             .order_by(WebhookDelivery.next_attempt_at).limit(limit)))
    if due:
        enqueue(runtime, due)
    return len(due)


def replay(runtime: Any, delivery_id: int) -> None:
    """Send a delivery again now (after a fix on the subscriber's side), whatever it ended as."""
    with runtime.store.session() as s:
        delivery = s.get(WebhookDelivery, delivery_id)
        if delivery is None:
            raise LookupError(f"no webhook delivery {delivery_id}")
        endpoint = s.get(WebhookEndpoint, delivery.endpoint_id)
        if endpoint is None or endpoint.disabled_at is not None:
            raise ValueError(f"endpoint we_{delivery.endpoint_id} is disabled: enable it first "
                             "(PUT /v1/webhooks/{id} with enabled true)")
        delivery.state, delivery.next_attempt_at, delivery.last_error = "pending", utcnow(), ""
    enqueue(runtime, [delivery_id])
