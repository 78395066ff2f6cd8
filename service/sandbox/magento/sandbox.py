"""One Magento sandbox: its state, credentials, routes and event sender, and the call a route handles.

service/sandbox/magento/app.py builds the Flask app around it; the route modules register on it.
"""

from __future__ import annotations

import json
import logging
import random
import re
import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Response, request
from werkzeug.datastructures import MultiDict

from service.sandbox import seed as seed_data
from service.sandbox.magento import contract as contract_module
from service.sandbox.magento import search
from service.sandbox.magento.auth import Authenticator, Credentials, Principal
from service.sandbox.magento.errors import (
    MagentoError,
    invalid_type,
    no_route,
    not_authorized,
    required_field,
)
from service.sandbox.magento.events import EventSender
from service.sandbox.magento.state import Encoded, MagentoState, Store, seed_catalog

log = logging.getLogger(__name__)

DEFAULT_TOKEN = "magento-dev-token"
DEFAULT_WEBHOOK_SECRET = "tillbridge-dev-secret"

Handler = Callable[["Call"], Any]


@dataclass
class Route:
    method: str
    template: str
    handler: Handler
    resource: str | None  # None: anonymous
    regex: re.Pattern[str] = field(init=False)
    literal_segments: int = field(init=False)

    def __post_init__(self) -> None:
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        self.regex = re.compile(f"^{pattern}$")
        self.literal_segments = sum(1 for part in self.template.split("/") if part and not part.startswith("{"))


@dataclass
class Call:
    sandbox: MagentoSandbox
    store: Store
    params: dict[str, str]
    body: Any
    args: MultiDict[str, str]
    principal: Principal | None

    def int_param(self, name: str) -> int:
        raw = self.params[name]
        try:
            return int(raw)
        except ValueError:
            raise invalid_type(raw, "int") from None

    def arg(self, name: str, default: Any = None) -> Any:
        """A top-level body argument, by camelCase or snake_case name."""
        if not isinstance(self.body, dict):
            return default
        wanted = contract_module.normalise_name(name)
        for key, value in self.body.items():
            if contract_module.normalise_name(key) == wanted:
                return value
        return default


class MagentoSandbox:
    """State, credentials, event sender and options of one sandbox app."""

    def __init__(self, seed: str | None, credentials: Credentials, events: EventSender,
                 options: dict[str, Any]) -> None:
        self.seed = seed
        self.credentials = credentials
        self.auth = Authenticator(credentials)
        self.events = events
        self.options = options
        self.contract = contract_module.load()
        self.unknown_property_status = int(options.get("unknown_property_status", 400))
        self.state = MagentoState()
        self.routes: list[Route] = []
        self.rng = random.Random(zlib.crc32((seed or "").encode("utf-8")))
        self.load()

    def load(self) -> None:
        from service.sandbox.magento.attributes import seed_attributes
        from service.sandbox.magento.giftcards import seed_cards
        from service.sandbox.magento.history import seed_history

        state = MagentoState()
        data = seed_data.generate(
            self.seed or "empty",
            products=int(self.options.get("products", 500)) if self.seed else 0,
            customers=int(self.options.get("customers", 200)) if self.seed else 0,
        )
        seed_catalog(state, data, self.options.get("seeded_at", "2026-01-05 09:00:00"),
                     backorders=int(self.options.get("backorders", 1)))
        seed_attributes(state)
        state.sources.update(self.options.get("sources") or ())
        for state_name, extra in (self.options.get("extra_statuses") or {}).items():
            state.statuses.setdefault(state_name, []).extend(s for s in extra if s not in state.statuses[state_name])
        if self.seed and int(self.options.get("history_orders", 300)) > 0:
            seed_history(state, data, int(self.options.get("history_orders", 300)), self.seed)
        if self.seed:
            seed_cards(state, self.seed)
        self.state = state
        # The payment gateway's answer to online captures: order id (0: every order) → the decline
        # {"code", "message"} it answers with (POST /__sandbox/gateway); approved when absent.
        self.gateway_declines: dict[int, dict[str, str]] = {}

    def reset(self) -> None:
        self.events.clear()
        self.auth.reset()
        with self.state.lock:
            self.load()

    def emit(self, name: str, entity: dict[str, Any], store_id: int | None = None) -> None:
        """Queue a signed event carrying the entity as GET returns it (call under the state lock: the
        envelope is serialised at once). ``store_code`` is the code of the entity's store (or of the
        scope a product was saved in), ``admin`` for store 0, as the module's outbox writer sends it."""
        if store_id is None:
            store_id = int(entity.get("store_id") or 0) if "store_id" in entity else 1
        self.events.emit(name, entity, self.store_code_of(store_id))

    def store_code_of(self, store_id: int) -> str:
        if store_id == 0:
            return "admin"
        return next((s.code for s in self.state.stores.values() if s.store_id == store_id), "default")

    # -- dispatch ------------------------------------------------------------------------------
    def add_route(self, method: str, template: str, handler: Handler, resource: str | None) -> None:
        self.routes.append(Route(method, template, handler, resource))
        self.routes.sort(key=lambda r: -r.literal_segments)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        for route in self.routes:
            if route.method != method:
                continue
            found = route.regex.match(path)
            if found:
                return route, found.groupdict()
        raise no_route()

    def split_store(self, rest: str) -> tuple[Store, str]:
        head, _, tail = rest.partition("/")
        if head == "V1":
            return self.state.stores["default"], "/" + rest
        store = self.state.store(head)
        if store is None or not tail.startswith("V1/"):
            raise no_route()
        return store, "/" + tail

    def dispatch(self, rest: str) -> Response:
        request.get_data(cache=True)  # keep the raw body for the request log and OAuth form parameters
        try:
            store, path = self.split_store(rest)
            route, params = self.match(request.method, path)
            principal = self.auth.authenticate(request)
            if route.resource is not None and (principal is None or not principal.allowed(route.resource)):
                raise not_authorized(route.resource)
            body = self.read_body()
            if request.method in ("POST", "PUT"):
                self.check_body(route, body)
            call = Call(self, store, params, body, request.args, principal)
            if request.method == "GET":
                result = route.handler(call)
            else:
                state = self.state
                with state.lock:
                    try:
                        result = route.handler(call)
                    finally:
                        state.order_json.clear()
            fields = request.args.get("fields")
            if isinstance(result, Encoded):
                if not fields:
                    return Response(result.text, status=200, mimetype="application/json")
                result = result.value()
            if fields and isinstance(result, (dict, list)):
                result = search.trim(result, search.parse_fields(fields))
            return json_response(result, 200)
        except MagentoError as exc:
            return json_response(exc.body(), exc.status)
        except Exception:
            report = secrets.token_hex(8)
            log.exception("magento sandbox internal error (report webapi-%s)", report)
            return json_response(
                {"message": f"Internal Error. Details are available in Magento log file. Report ID: webapi-{report}"},
                500,
            )

    @staticmethod
    def read_body() -> Any:
        raw = request.get_data(cache=True)
        if not raw or not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise MagentoError("Decoding error.") from None

    def check_body(self, route: Route, body: Any) -> None:
        problems = self.contract.check_body(route.method, route.template, body if body is not None else {})
        if not problems:
            return
        missing = [p for p in problems if p.kind == "required"]
        if len(missing) == 1:
            raise required_field(missing[0].detail)
        if missing:
            raise MagentoError(
                "One or more input exceptions have occurred.",
                errors=[{"message": '"%fieldName" is required. Enter and try again.',
                         "parameters": {"fieldName": p.detail}} for p in missing],
            )
        first = problems[0]
        if first.kind == "unknown":
            if self.unknown_property_status >= 500:
                raise MagentoError(
                    f"Internal Error. Details are available in Magento log file. Report ID: webapi-{secrets.token_hex(8)}",
                    status=500,
                )
            camel = "".join(part[:1].upper() + part[1:] for part in first.detail.split("_"))
            raise MagentoError(
                'Property "%1" does not have accessor method "%2" in class "%3".',
                [camel, f"get{camel}", first.path],
                status=self.unknown_property_status,
            )
        raise invalid_type(first.path, first.detail)


def json_response(value: Any, status: int) -> Response:
    return Response(json.dumps(value, separators=(",", ":")), status=status, mimetype="application/json")


