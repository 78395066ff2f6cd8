"""/v1/webhooks: subscriptions to Tillbridge's events (Standard Webhooks), and their delivery log."""

from __future__ import annotations

from typing import Any

from flask import g, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from service.api.outbound import EVENT_TYPES, delivery, endpoints
from service.api.v1.conventions import ListArgs, list_schema, page_of, rfc3339
from service.api.v1.errors import fail
from service.flows.context import current
from service.kernel.numbers import whole_number
from service.store.api_tables import WebhookDelivery, WebhookEvent
from service.store.credentials import CredentialsError

blp = Blueprint("v1_webhooks", __name__, url_prefix="/v1/webhooks",
                description="Outbound webhook subscriptions (Standard Webhooks) and their deliveries")

EVENTS = fields.List(fields.String(validate=validate.OneOf([*EVENT_TYPES, "*"])), validate=validate.Length(min=1, max=20))


class EndpointOut(Schema):
    id = fields.String(required=True)
    object = fields.Constant("webhook_endpoint", required=True,
                             metadata={"type": "string", "enum": ["webhook_endpoint"]})
    url = fields.String(required=True)
    description = fields.String(required=True)
    events = fields.List(fields.String(), required=True)
    status = fields.String(required=True, metadata={"enum": ["enabled", "disabled"]})
    disabled_reason = fields.String(allow_none=True)
    created = fields.String(required=True, metadata={"format": "date-time"})
    secret = fields.String(allow_none=True,
                           metadata={"description": "the whsec_ signing secret: only in the answer that made it "
                                                    "(null when that answer is replayed for its Idempotency-Key)"})
    secret_note = fields.String()


EndpointList = list_schema(EndpointOut, "WebhookEndpointList")


class EndpointIn(Schema):
    url = fields.String(required=True, validate=validate.Length(min=8, max=2000))
    events = EVENTS
    description = fields.String(load_default="", validate=validate.Length(max=200))


class EndpointCreate(EndpointIn):
    events = fields.List(fields.String(validate=validate.OneOf([*EVENT_TYPES, "*"])), required=True,
                         validate=validate.Length(min=1, max=20))


class EndpointUpdate(Schema):
    url = fields.String(validate=validate.Length(min=8, max=2000))
    events = EVENTS
    description = fields.String(validate=validate.Length(max=200))
    enabled = fields.Boolean(metadata={"description": "true re-enables an endpoint disabled after a 410"})


class DeliveryOut(Schema):
    id = fields.String(required=True)
    object = fields.Constant("webhook_delivery", required=True,
                             metadata={"type": "string", "enum": ["webhook_delivery"]})
    event = fields.Dict(required=True, metadata={"description": "{id, type, created}"})
    endpoint = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": ["pending", "succeeded", "failed"]})
    attempts = fields.Integer(required=True)
    next_attempt = fields.String(allow_none=True, metadata={"format": "date-time"})
    last_response_status = fields.Integer(allow_none=True)
    last_error = fields.String(required=True)
    created = fields.String(required=True, metadata={"format": "date-time"})
    delivered = fields.String(allow_none=True, metadata={"format": "date-time"})


DeliveryList = list_schema(DeliveryOut, "WebhookDeliveryList")


class DeliveryArgs(ListArgs):
    status = fields.String(validate=validate.OneOf(["pending", "succeeded", "failed"]))



def _allow_private() -> bool:
    return bool(current().settings.WEBHOOKS_ALLOW_PRIVATE_URLS)


def _number(public_id: str, prefix: str) -> int:
    number = whole_number(public_id[len(prefix):]) if public_id.startswith(prefix) else None
    if number is None:
        fail(404, f"no {public_id!r}: ids look like {prefix}12")
    return number


def endpoint_object(e: endpoints.Endpoint, secret: str | None = None) -> dict[str, Any]:
    body = {"id": e.public_id, "object": "webhook_endpoint", "url": e.url, "description": e.description,
            "events": e.events, "status": "disabled" if e.disabled_at else "enabled",
            "disabled_reason": e.disabled_reason or None, "created": rfc3339(e.created_at)}
    if secret is not None:
        body["secret"] = secret
    return body


def delivery_object(d: WebhookDelivery, event: WebhookEvent) -> dict[str, Any]:
    return {"id": f"wd_{d.id}", "object": "webhook_delivery",
            "event": {"id": event.public_id, "type": event.type, "created": rfc3339(event.created_at)},
            "endpoint": f"we_{d.endpoint_id}", "status": d.state, "attempts": d.attempts,
            "next_attempt": rfc3339(d.next_attempt_at) if d.state == "pending" else None,
            "last_response_status": d.last_status, "last_error": d.last_error,
            "created": rfc3339(d.created_at), "delivered": rfc3339(d.delivered_at)}


def _get(endpoint_id: str) -> endpoints.Endpoint:
    found = endpoints.get(current().store, _number(endpoint_id, "we_"))
    if found is None:
        fail(404, f"no webhook endpoint {endpoint_id!r}: GET /v1/webhooks lists them")
    return found


@blp.route("")
class Endpoints(MethodView):
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, EndpointList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List webhook endpoints"""
        after = _number(args["starting_after"], "we_") if args.get("starting_after") else None
        found = endpoints.listing(current().store, after_id=after, limit=args["limit"] + 1)
        return page_of([endpoint_object(e) for e in found], args["limit"])

    @blp.arguments(EndpointCreate)
    @blp.response(201, EndpointOut)
    def post(self, body: dict[str, Any]) -> Any:
        """Subscribe an endpoint; the answer holds its signing secret, shown this once"""
        g.idempotency_redact = ("secret",)
        try:
            created, secret = endpoints.create(
                current().store, current().settings.TILLBRIDGE_ENCRYPTION_KEY, url=body["url"],
                events=body["events"], description=body["description"], actor=g.api_caller.actor,
                allow_private=_allow_private())
        except endpoints.EndpointError as exc:
            fail(422, str(exc), fields={"url" if "URL" in str(exc) or "host" in str(exc) else "events": [str(exc)]})
        except CredentialsError as exc:
            fail(503, f"webhook secrets cannot be stored: {exc}", error="encryption_key_missing")
        return endpoint_object(created, secret), 201, {"Location": url_for("v1_webhooks.Endpoint",
                                                                            endpoint_id=created.public_id)}


@blp.route("/<string:endpoint_id>")
class Endpoint(MethodView):
    @blp.response(200, EndpointOut)
    def get(self, endpoint_id: str) -> dict[str, Any]:
        """One webhook endpoint"""
        return endpoint_object(_get(endpoint_id))

    @blp.arguments(EndpointUpdate)
    @blp.response(200, EndpointOut)
    def put(self, body: dict[str, Any], endpoint_id: str) -> dict[str, Any]:
        """Change an endpoint's URL, events or description, or enable it again"""
        found = _get(endpoint_id)
        try:
            return endpoint_object(endpoints.update(current().store, found.id, allow_private=_allow_private(),
                                                    **body))
        except endpoints.EndpointError as exc:
            fail(422, str(exc))

    @blp.response(204)
    def delete(self, endpoint_id: str) -> Any:
        """Remove an endpoint; nothing more is sent to it"""
        endpoints.delete(current().store, _get(endpoint_id).id)
        return "", 204


@blp.route("/<string:endpoint_id>/rotate-secret")
class Rotate(MethodView):
    @blp.response(200, EndpointOut)
    def post(self, endpoint_id: str) -> Any:
        """A new signing secret, shown this once; the old one signs beside it for WEBHOOK_SECRET_ROTATION_HOURS"""
        found = _get(endpoint_id)
        g.idempotency_redact = ("secret",)
        try:
            rotated, secret = endpoints.rotate(current().store, current().settings.TILLBRIDGE_ENCRYPTION_KEY,
                                               found.id, float(current().settings.WEBHOOK_SECRET_ROTATION_HOURS))
        except CredentialsError as exc:
            fail(503, f"webhook secrets cannot be stored: {exc}", error="encryption_key_missing")
        return endpoint_object(rotated, secret)


@blp.route("/<string:endpoint_id>/deliveries")
class Deliveries(MethodView):
    @blp.arguments(DeliveryArgs, location="query")
    @blp.response(200, DeliveryList)
    def get(self, args: dict[str, Any], endpoint_id: str) -> dict[str, Any]:
        """The delivery log of an endpoint, newest first"""
        found = _get(endpoint_id)
        with current().store.session() as s:
            query = (select(WebhookDelivery, WebhookEvent).join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                     .where(WebhookDelivery.endpoint_id == found.id).order_by(WebhookDelivery.id.desc()))
            if args.get("status"):
                query = query.where(WebhookDelivery.state == args["status"])
            if args.get("starting_after"):
                query = query.where(WebhookDelivery.id < _number(args["starting_after"], "wd_"))
            rows = [delivery_object(d, e) for d, e in s.execute(query.limit(args["limit"] + 1))]
        return page_of(rows, args["limit"])


@blp.route("/deliveries/<string:delivery_id>/replay")
class Replay(MethodView):
    @blp.response(202, DeliveryOut)
    def post(self, delivery_id: str) -> Any:
        """Send a delivery again now (its event id stays the same, so the subscriber dedups)"""
        number = _number(delivery_id, "wd_")
        try:
            delivery.replay(current(), number)
        except LookupError:
            fail(404, f"no webhook delivery {delivery_id!r}")
        except ValueError as exc:
            fail(409, str(exc), error="endpoint_disabled")
        with current().store.session() as s:
            d = s.get(WebhookDelivery, number)
            event = s.get(WebhookEvent, d.event_id) if d is not None else None
            if d is None or event is None:
                fail(404, f"no webhook delivery {delivery_id!r}")
            return delivery_object(d, event), 202
