"""The /v1 API: one surface over Heartland and Magento.

See "The /v1 API" in README.md. ``init_v1(app)`` builds it on flask-smorest: every resource blueprint of ``resources()``, the
OpenAPI 3.1 document at /v1/openapi.json, the docs page at /v1/docs, and the conventions every
request goes through, in this order: Request-Id, caller (token or session) and scope, the rate
limit, the card-number screen of the body, the Idempotency-Key; and on the way out the stored
answer for the key, the ETag and the Request-Id header.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, render_template, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from service.api.v1 import conventions, idempotency
from service.api.v1.access import ApiRateLimit, current_caller, require
from service.api.v1.errors import ApiError, ErrorSchema, fail, from_api_error, from_http_exception, is_v1
from service.flows.context import current
from service.kernel.cards import card_number_paths


def resources() -> tuple[ModuleType, ...]:
    """Every /v1 resource module, in the order the OpenAPI document lists them."""
    from service.api.v1 import customers, inventory, orders, payments, products, reports, webhooks

    return (orders, customers, products, inventory, payments, webhooks, reports)

PUBLIC_ENDPOINTS = ("api-docs.openapi_json", "v1_docs.docs", "v1_docs.static")
SIDE_EFFECTS = ("POST", "PUT", "PATCH", "DELETE")

DESCRIPTION = """One API over Heartland Retail and Magento 2.

**Authentication**: `Authorization: Bearer <token>` (`tillbridge tokens create`). Each token has
scopes `<resource>:read|write` within its user's role; a missing scope is 403 `insufficient_scope`.

**Conventions**: lists are `{"object":"list","url","has_more","data"}` paged with `limit` and
`starting_after`; money is integer minor units with an ISO 4217 currency; times are RFC 3339 UTC;
every answer has a `Request-Id`; GETs have an `ETag` (send `If-None-Match` for a 304); POST, PUT
and DELETE take an `Idempotency-Key` (the first answer is replayed for 24 h; the same key with
another request is 422); each token may make API_RATE_LIMIT_PER_MINUTE requests a minute (then 429
with `Retry-After`); errors are `{"error","message","fields"?,"request_id"}`. Card numbers are
refused (422 `card_number_refused`).
"""


class V1Api(Api):
    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Any:
        if not is_v1():
            return error  # outside /v1 Flask's own answer stands
        return from_http_exception(error)


def init_v1(app: Flask) -> Api:
    app.config.update({
        "API_TITLE": "Tillbridge",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.1.0",
        "OPENAPI_URL_PREFIX": "/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "API_SPEC_OPTIONS": {
            "info": {"description": DESCRIPTION},
            "servers": [{"url": "/"}],
            "security": [{"bearerAuth": []}],
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        },
    })
    api = V1Api(app)
    for module in resources():
        api.register_blueprint(module.blp)
    _document_conventions(api)
    app.register_blueprint(_docs_blueprint())
    app.register_error_handler(ApiError, from_api_error)
    _wrap_code_handlers(app)
    app.before_request(_before)
    app.after_request(_after)
    return api


def _document_conventions(api: Api) -> None:
    """The headers every operation shares, written into the document once for all."""
    api.spec.components.parameter("IdempotencyKey", "header", {
        "name": "Idempotency-Key", "required": False, "schema": {"type": "string", "minLength": 1, "maxLength": 255,
                                                                 "pattern": "^[\\x21-\\x7e]+$"},
        "description": "any unique value (a UUID); the first answer is replayed for the same key for 24 h"})
    api.spec.components.header("RequestId", {"description": "this answer's id: quote it when reporting a problem",
                                             "schema": {"type": "string"}})
    _link_created_resources(api)
    for operations in api.spec._paths.values():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            if method in ("post", "put", "patch", "delete"):
                operation.setdefault("parameters", []).append({"$ref": "#/components/parameters/IdempotencyKey"})
            for response in operation.get("responses", {}).values():
                if isinstance(response, dict) and "$ref" not in response:
                    response.setdefault("headers", {})["Request-Id"] = {"$ref": "#/components/headers/RequestId"}


def _link_created_resources(api: Api) -> None:
    """OpenAPI links from each create (POST on a collection) to the operations on what it created,
    so clients and stateful tests can follow them: ``/v1/orders`` → ``/v1/orders/{order_id}``."""
    paths = api.spec._paths
    for path, operations in paths.items():
        post = operations.get("post") if isinstance(operations, dict) else None
        if not isinstance(post, dict):
            continue
        for item_path, item_operations in paths.items():
            rest = item_path[len(path):]
            if not (rest.startswith("/{") and rest.endswith("}") and rest.count("/") == 1):
                continue
            parameter = rest[2:-1]
            links = {f"{method.capitalize()}Created": {
                "operationRef": "#/paths/" + item_path.replace("~", "~0").replace("/", "~1") + f"/{method}",
                "parameters": {parameter: "$response.body#/id"}}
                for method in ("get", "put", "delete") if method in item_operations}
            for status, response in post.get("responses", {}).items():
                if str(status) in ("201", "202") and isinstance(response, dict):
                    response["links"] = links


def _docs_blueprint() -> Blueprint:
    bp = Blueprint("v1_docs", __name__, url_prefix="/v1", static_folder="static", static_url_path="/static",
                   template_folder="templates")

    @bp.get("/docs")
    def docs() -> Any:
        return render_template("v1_docs.html")

    return bp


def _wrap_code_handlers(app: Flask) -> None:
    """Handlers the pages registered per status code (404, 405 …) answer /v1 with the envelope."""
    handlers = app.error_handler_spec.setdefault(None, {})
    for code, by_class in list(handlers.items()):
        if code is None:
            continue
        for cls, handler in list(by_class.items()):
            def wrapped(exc: HTTPException, _original: Any = handler) -> Any:
                return from_http_exception(exc) if is_v1() else _original(exc)
            by_class[cls] = wrapped



def _before() -> Response | None:
    if not is_v1():
        return None
    conventions.start_request()
    blueprint = request.blueprint or ""
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None or blueprint == "mappings_api":
        return None
    resource = blueprint.removeprefix("v1_")
    from service.api.tokens import bearer_token

    caller = current_caller(current().store, bearer_token())
    g.api_caller = caller
    limiter = current_app.extensions.get("tillbridge.api_rate_limit")
    if limiter is None:
        limiter = ApiRateLimit(int(current().settings.API_RATE_LIMIT_PER_MINUTE))
        current_app.extensions["tillbridge.api_rate_limit"] = limiter
    g.rate_limit = (limiter.limit.amount, *limiter.hit(caller.key))
    require(caller, resource, request.method)
    _refuse_nul_characters()
    query_paths = [f"query.{k}" for k, v in request.args.items(multi=True) if card_number_paths(v)]
    if query_paths:
        fail(422, f"the query holds a card number at {', '.join(query_paths)}: search by the last 4 digits",
             error="card_number_refused", fields={p: ["a card number"] for p in query_paths})
    if request.method in SIDE_EFFECTS:
        body = request.get_json(silent=True)
        paths = card_number_paths(body) if body is not None else []
        if paths:
            fail(422, f"the request holds a card number at {', '.join(paths)}: send a token and the last 4 "
                 "digits only; nothing was stored", error="card_number_refused",
                 fields={p: ["a card number"] for p in paths})
        return idempotency.begin(current().store, caller.key, float(current().settings.API_IDEMPOTENCY_HOURS))
    return None


def _refuse_nul_characters() -> None:
    """422 for a NUL character (U+0000) in the path, a query value or the body: no text Tillbridge keeps
    or looks up can hold one (PostgreSQL refuses it in every text value), so it is refused up front."""
    fields: dict[str, list[str]] = {}
    if "\x00" in request.path:
        fields["path"] = ["contains a NUL character (U+0000)"]
    for key, value in request.args.items(multi=True):
        if "\x00" in key or "\x00" in value:
            fields[f"query.{key}"] = ["contains a NUL character (U+0000)"]
    if request.method in SIDE_EFFECTS:
        raw = request.get_data(cache=True)
        if b"\x00" in raw or b"\\u0000" in raw:
            fields["body"] = ["contains a NUL character (U+0000)"]
    if fields:
        fail(422, f"NUL characters (U+0000) are not accepted, found in {', '.join(fields)}: remove them",
             error="nul_character_refused", fields=fields)


def _after(response: Response) -> Response:
    if not is_v1():
        return response
    if "request_id" not in g:
        conventions.start_request()
    idempotency.finish(current().store, response)
    if "rate_limit" in g:
        limit, remaining, reset = g.rate_limit
        response.headers.setdefault("RateLimit-Limit", str(limit))
        response.headers.setdefault("RateLimit-Remaining", str(remaining))
        response.headers.setdefault("RateLimit-Reset", str(reset))
    return conventions.finish_response(response)
