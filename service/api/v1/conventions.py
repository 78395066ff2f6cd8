"""The conventions every /v1 answer follows: money, times, lists, request ids and ETags.

- Money (service/canonical/money.py) is ``{"amount": <integer minor units>, "currency": "USD"}`` (ISO 4217 exponent: JPY has
  none, KWD three), never a float.
- Times are RFC 3339 in UTC with a ``Z``: ``2026-12-07T01:36:40Z``.
- Lists are ``{"object": "list", "url", "has_more", "data"}``, read with ``limit`` (1 to
  API_PAGE_LIMIT_MAX, default 10) and ``starting_after`` (the id of the last object of the page
  before): the next page is ``?starting_after=<data[-1].id>``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from flask import Response, g, request
from marshmallow import Schema, fields, validate

from service.flows.context import current

REQUEST_ID = "Request-Id"


def rfc3339(value: datetime | str | None) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T"))
        except ValueError:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


class MoneySchema(Schema):
    amount = fields.Integer(required=True, metadata={"description": "integer minor units (cents)"})
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$"),
                             metadata={"description": "ISO 4217 code"})


class ListArgs(Schema):
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=100),
                           metadata={"description": "objects per page, 1–100"})
    starting_after = fields.String(validate=validate.Length(min=1, max=200),
                                   metadata={"description": "the id of the last object of the previous page"})


class ListSchema(Schema):
    object = fields.Constant("list", required=True, metadata={"type": "string", "enum": ["list"]})
    url = fields.String(required=True)
    has_more = fields.Boolean(required=True)


def list_schema(item: type[Schema], name: str) -> type[Schema]:
    return type(name, (ListSchema,), {"data": fields.List(fields.Nested(item), required=True)})


def page_of(objects: Sequence[dict[str, Any]], limit: int) -> dict[str, Any]:
    """A list answer from up to ``limit + 1`` objects read (the extra one says there is more)."""
    return {"object": "list", "url": request.path, "has_more": len(objects) > limit, "data": list(objects[:limit])}


def start_request() -> None:
    given = request.headers.get(REQUEST_ID, "")
    # A caller's own id is kept when it is short and plain, so both sides' logs can be joined.
    g.request_id = given if 0 < len(given) <= 64 and given.replace("-", "").replace("_", "").isalnum() \
        else f"req_{uuid.uuid4().hex[:24]}"


def finish_response(response: Response) -> Response:
    """Request-Id on every answer; a strong ETag on successful GETs, and 304 for a matching If-None-Match."""
    response.headers[REQUEST_ID] = g.get("request_id", "")
    if request.method in ("GET", "HEAD") and response.status_code == 200 and not response.direct_passthrough \
            and response.mimetype == "application/json":
        tag = hashlib.sha256(response.get_data()).hexdigest()[:32]
        response.set_etag(tag)
        response.headers["Cache-Control"] = "private, no-cache"
        if request.if_none_match.contains(tag):
            response.status_code = 304
            response.set_data(b"")
            response.headers.pop("Content-Type", None)
            response.headers.pop("Content-Length", None)
    return response


def page_limit(requested: int) -> int:
    return max(1, min(requested, int(current().settings.API_PAGE_LIMIT_MAX)))
