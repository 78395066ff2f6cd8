"""The Magento 2 / Adobe Commerce REST client.

``MagentoClient(base_url, store_code=…, token=… | consumer_key=…, consumer_secret=…, access_token=…,
access_token_secret=…)``: ``base_url`` ends in ``/rest``; calls go to ``{base_url}/{store_code}/V1/…``.
With the four OAuth values it signs every request with OAuth 1.0a HMAC-SHA256 (the default for
Magento 2.4.4+ integrations); otherwise it sends the token as Bearer. Failures are the engine's
classified errors (service/engine/errors.py) with Magento's message rendered from its placeholders.

Searches take ``filters``: a sequence whose entries are AND'ed; an entry is a filter
``(field, value)`` / ``(field, value, condition_type)`` or a list of such filters OR'ed together
(one Magento filter group). ``sort`` is a sequence of ``(field, "ASC"|"DESC")`` or ``"field"`` /
``"-field"``. The ``iter_*`` methods page until ``total_count``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import requests
from requests_oauthlib import OAuth1

from service.connectors.http import ExchangeHook, HttpConnector
from service.engine.errors import FatalError, SyncError, error_for_status

FilterSpec = tuple[str, Any] | tuple[str, Any, str]
FilterEntry = FilterSpec | Sequence[FilterSpec]
SortSpec = str | tuple[str, str]

DEFAULT_PAGE_SIZE = 100
_PLACEHOLDER = re.compile(r"%(\w+)")


def render_message(body: Any) -> str:
    """Magento's error message with its ``%name`` / ``%1`` placeholders filled in."""
    if not isinstance(body, Mapping):
        return str(body or "")
    message = str(body.get("message", ""))
    params = body.get("parameters")

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if isinstance(params, Mapping) and key in params:
            return str(params[key])
        if isinstance(params, list) and key.isdigit() and 0 < int(key) <= len(params):
            return str(params[int(key) - 1])
        return match.group(0)

    text = _PLACEHOLDER.sub(fill, message)
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        text += " " + "; ".join(render_message(e) for e in errors)
    return text


def _filter_group(entry: FilterEntry) -> list[tuple[Any, ...]]:
    if entry and isinstance(entry[0], str):
        return [tuple(entry)]
    return [tuple(spec) for spec in entry]


def _filter_value(value: Any) -> str:
    if isinstance(value, (list, tuple, set)):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return str(int(value))
    return "" if value is None else str(value)


def criteria_params(
    filters: Sequence[FilterEntry] | Mapping[str, Any] | None = None,
    sort: Sequence[SortSpec] | None = None,
    page_size: int | None = None,
    current_page: int | None = None,
) -> dict[str, str]:
    """``searchCriteria[...]`` query parameters, in the snake_case form of Adobe's search guide."""
    params: dict[str, str] = {}
    entries: list[FilterEntry] = []
    if isinstance(filters, Mapping):
        entries = [(k, v) for k, v in filters.items()]
    elif filters:
        entries = list(filters)
    for g, entry in enumerate(entries):
        for f, spec in enumerate(_filter_group(entry)):
            prefix = f"searchCriteria[filter_groups][{g}][filters][{f}]"
            params[f"{prefix}[field]"] = str(spec[0])
            params[f"{prefix}[value]"] = _filter_value(spec[1])
            params[f"{prefix}[condition_type]"] = str(spec[2]) if len(spec) > 2 else "eq"
    for n, item in enumerate(sort or []):
        if isinstance(item, str):
            field, direction = (item[1:], "DESC") if item.startswith("-") else (item, "ASC")
        else:
            field, direction = item[0], item[1].upper()
        params[f"searchCriteria[sortOrders][{n}][field]"] = field
        params[f"searchCriteria[sortOrders][{n}][direction]"] = direction
    if page_size is not None:
        params["searchCriteria[pageSize]"] = str(page_size)
    if current_page is not None:
        params["searchCriteria[currentPage]"] = str(current_page)
    if not params:
        # The argument is required; an explicit first page without a size asks for every match.
        params["searchCriteria[currentPage]"] = "1"
    return params


class MagentoClient(HttpConnector):
    destination = "magento"

    def __init__(
        self,
        base_url: str,
        *,
        store_code: str | None = "default",
        token: str | None = None,
        consumer_key: str | None = None,
        consumer_secret: str | None = None,
        access_token: str | None = None,
        access_token_secret: str | None = None,
        signature_method: str = "HMAC-SHA256",
        timeout: float = 15.0,
        connect_timeout: float = 5.0,
        rate_per_second: float = 0.0,
        on_exchange: ExchangeHook | None = None,
    ) -> None:
        super().__init__(base_url, timeout=timeout, connect_timeout=connect_timeout,
                         rate_per_second=rate_per_second, on_exchange=on_exchange)
        self.store_code = store_code or None
        self.token = token
        oauth_values = (consumer_key, consumer_secret, access_token, access_token_secret)
        self.oauth: OAuth1 | None = None
        if all(oauth_values):
            self.oauth = OAuth1(consumer_key, consumer_secret, access_token, access_token_secret,
                                signature_method=signature_method, signature_type="AUTH_HEADER")
        elif any(oauth_values):
            raise ValueError("Magento OAuth 1.0a needs all four of consumer key, consumer secret, access token "
                             "and access token secret (TILLBRIDGE_MAGENTO_CONSUMER_KEY and friends); "
                             "or leave them empty and set a Bearer token")
        elif not token:
            raise ValueError("Magento credentials missing: set TILLBRIDGE_MAGENTO_TOKEN (Bearer) or the four "
                             "TILLBRIDGE_MAGENTO_CONSUMER_*/ACCESS_TOKEN* OAuth 1.0a values")

    # -- plumbing --------------------------------------------------------------------------------
    def path(self, route: str, store_code: str | None = None) -> str:
        code = store_code if store_code is not None else self.store_code
        route = route.lstrip("/")
        return f"{code}/V1/{route}" if code else f"V1/{route}"

    def prepare_request(self, method: str, url: str, kwargs: dict[str, Any]) -> None:
        if self.oauth is not None:
            kwargs["auth"] = self.oauth
        else:
            kwargs["headers"]["Authorization"] = f"Bearer {self.token}"

    def error_from(self, method: str, path: str, response: requests.Response, body: Any) -> SyncError:
        base = super().error_from(method, path, response, body)
        text = render_message(body) if isinstance(body, Mapping) else ""
        if not text:
            return base
        return error_for_status(
            response.status_code,
            f"magento {method} {path} answered {response.status_code}: {text}",
            retry_after=base.retry_after,
            details=body,
            destination=self.destination,
        )

    def call(self, method: str, route: str, *, body: Any = None, params: Mapping[str, Any] | None = None,
             store_code: str | None = None) -> Any:
        response = self.send(method, self.path(route, store_code), json_body=body,
                             params=dict(params) if params else None)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise FatalError(f"magento {method} {route} answered {response.status_code} with a body that is not "
                             "JSON", hint="check TILLBRIDGE_MAGENTO_URL points at the /rest endpoint",
                             destination=self.destination) from None

    def search(self, route: str, filters: Sequence[FilterEntry] | Mapping[str, Any] | None = None,
               sort: Sequence[SortSpec] | None = None, page_size: int | None = None,
               current_page: int | None = None, *, fields: str | None = None,
               store_code: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = criteria_params(filters, sort, page_size, current_page)
        if fields:
            params["fields"] = fields
        return dict(self.call("GET", route, params=params, store_code=store_code))

    def iter_search(self, route: str, filters: Sequence[FilterEntry] | Mapping[str, Any] | None = None,
                    sort: Sequence[SortSpec] | None = None, page_size: int = DEFAULT_PAGE_SIZE,
                    store_code: str | None = None) -> Iterator[dict[str, Any]]:
        """Every match, page by page; stops once ``current_page * page_size >= total_count``."""
        page = 1
        while True:
            result = self.search(route, filters, sort, page_size, page, store_code=store_code)
            items = result.get("items") or []
            yield from items
            total = int(result.get("total_count") or 0)
            if not items or page * page_size >= total:
                return
            page += 1

    # -- orders ----------------------------------------------------------------------------------
    def order(self, order_id: int) -> dict[str, Any]:
        return dict(self.call("GET", f"orders/{int(order_id)}"))

    def search_orders(self, filters: Sequence[FilterEntry] | Mapping[str, Any] | None = None,
                      sort: Sequence[SortSpec] | None = None, page_size: int | None = None,
                      current_page: int | None = None, *, fields: str | None = None) -> dict[str, Any]:
        return self.search("orders", filters, sort, page_size, current_page, fields=fields)

    def iter_orders(self, filters: Sequence[FilterEntry] | Mapping[str, Any] | None = None,
                    sort: Sequence[SortSpec] | None = None,
                    page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[dict[str, Any]]:
        return self.iter_search("orders", filters, sort or [("entity_id", "ASC")], page_size)

    def order_by_increment_id(self, increment_id: str) -> dict[str, Any] | None:
        items = self.search_orders([("increment_id", increment_id)], page_size=1).get("items") or []
        return dict(items[0]) if items else None

    def create_order(self, entity: Mapping[str, Any]) -> dict[str, Any]:
        """Persist an order entity (``POST /V1/orders``); it does not run checkout or totals."""
        return dict(self.call("POST", "orders", body={"entity": dict(entity)}))

    def order_comments(self, order_id: int) -> list[dict[str, Any]]:
        return list(self.call("GET", f"orders/{int(order_id)}/comments").get("items") or [])

    def add_order_comment(self, order_id: int, comment: str, *, status: str | None = None,
                          is_customer_notified: bool = False, is_visible_on_front: bool = False) -> bool:
        history: dict[str, Any] = {
            "comment": comment,
            "is_customer_notified": int(is_customer_notified),
            "is_visible_on_front": int(is_visible_on_front),
            "parent_id": int(order_id),
        }
        if status:
            history["status"] = status
        return bool(self.call("POST", f"orders/{int(order_id)}/comments", body={"statusHistory": history}))

    def hold(self, order_id: int) -> bool:
        return bool(self.call("POST", f"orders/{int(order_id)}/hold"))

    def unhold(self, order_id: int) -> bool:
        return bool(self.call("POST", f"orders/{int(order_id)}/unhold"))

    def cancel(self, order_id: int) -> bool:
        """False (not an error) when Magento's guard refuses, e.g. the order is fully invoiced."""
        return bool(self.call("POST", f"orders/{int(order_id)}/cancel"))

    def order_status(self, order_id: int) -> str:
        return str(self.call("GET", f"orders/{int(order_id)}/statuses"))
