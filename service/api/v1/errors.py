"""One error envelope for every error under /v1: ``{"error", "message", "fields"?, "request_id"}``.

``error`` is a stable machine code (``not_found``, ``invalid_request``, ``rate_limited`` …);
``message`` says what to do; ``fields`` maps each bad field to why. Flask's own 404/405 and
unexpected failures get the same shape, so a client has one thing to parse.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from flask import Response, g, jsonify, request
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

CODES = {400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 410: "gone",
         412: "precondition_failed", 413: "payload_too_large", 415: "unsupported_media_type",
         422: "invalid_request", 428: "precondition_required", 429: "rate_limited",
         500: "internal_error", 502: "bad_gateway", 503: "unavailable"}


class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "a stable code: not_found, invalid_request, …"})
    message = fields.String(required=True, metadata={"description": "what went wrong and what to do"})
    fields_ = fields.Dict(data_key="fields", keys=fields.String(), values=fields.Raw(),
                          metadata={"description": "each bad field and why"})
    request_id = fields.String(metadata={"description": "the Request-Id header of this answer"})


class ApiError(Exception):
    """Raised by a view for an answer other than success; turned into the envelope."""

    def __init__(self, status: int, message: str, *, error: str | None = None,
                 fields: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error or CODES.get(status, "error")
        self.message = message
        self.fields = fields
        self.headers = headers or {}


def fail(status: int, message: str, **kwargs: Any) -> NoReturn:
    raise ApiError(status, message, **kwargs)


def is_v1() -> bool:
    return request.path == "/v1" or request.path.startswith("/v1/")


def envelope(status: int, error: str, message: str, fields: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"error": error, "message": message}
    if fields:
        body["fields"] = fields
    body["request_id"] = g.get("request_id", "")
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def from_api_error(exc: ApiError) -> Response:
    return envelope(exc.status, exc.error, exc.message, exc.fields, exc.headers)


def from_http_exception(exc: HTTPException) -> Response:
    code = exc.code or 500
    data = getattr(exc, "data", None) or {}
    messages = data.get("errors") or data.get("messages")
    fields = _flatten_locations(messages) if messages else None
    if code == 404:
        message = f"no such resource: {request.path} (see /v1/docs for the endpoints)"
    elif code == 405:
        allowed = ", ".join(getattr(exc, "valid_methods", None) or [])
        message = f"{request.method} is not allowed on {request.path}" + (f"; use {allowed}" if allowed else "")
    elif fields:
        message = "the request is not valid: " + "; ".join(f"{k}: {_text(v)}" for k, v in fields.items())
    else:
        message = data.get("message") or exc.description or exc.name
    headers = dict(data.get("headers") or {})
    if code == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(getattr(exc, "valid_methods", None) or [])
    return envelope(code, CODES.get(code, exc.name.lower().replace(" ", "_")), str(message), fields, headers)


def from_unexpected(exc: Exception) -> Response:
    log.exception("unexpected error on %s %s (request %s)", request.method, request.path, g.get("request_id"))
    return envelope(500, "internal_error", "Tillbridge failed to answer this request; the error is logged "
                    f"under request id {g.get('request_id', '')}: quote it when reporting the problem")


def _flatten_locations(messages: Any) -> dict[str, Any]:
    """webargs nests errors by location (json, query, headers); a client wants the field names."""
    if not isinstance(messages, dict):
        return {"_request": messages}
    out: dict[str, Any] = {}
    for location, errors in messages.items():
        if location in ("json", "query", "headers", "form", "files", "path", "view_args") and isinstance(errors, dict):
            out.update(errors)
        else:
            out[location] = errors
    return out


def _text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)
