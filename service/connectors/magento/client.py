"""The Magento 2 / Adobe Commerce REST client.

``MagentoClient(base_url, store_code=…, token=… | consumer_key=…, consumer_secret=…, access_token=…,
access_token_secret=…)``: ``base_url`` ends in ``/rest``; calls go to ``{base_url}/{store_code}/V1/…``.
With the four OAuth values it signs every request with OAuth 1.0a HMAC-SHA256 (the default for
Magento 2.4.4+ integrations); otherwise it sends the token as Bearer. Failures are the engine's
classified errors (service/kernel/errors.py) with Magento's message rendered from its placeholders.

Searches take ``filters``: a sequence whose entries are AND'ed; an entry is a filter
``(field, value)`` / ``(field, value, condition_type)`` or a list of such filters OR'ed together
(one Magento filter group). ``sort`` is a sequence of ``(field, "ASC"|"DESC")`` or ``"field"`` /
``"-field"``. The ``iter_*`` methods page until ``total_count``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from oauthlib import oauth1

from service.connectors.http import HttpConnector, Response
from service.kernel.errors import FatalError, SyncError, error_for_status
from service.kernel.exchanges import ExchangeHook
from service.kernel.redaction import GIFT_CARD_PATH, redact_gift_card_url, redact_gift_cards
from service.settings import Settings

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
        self.oauth: oauth1.Client | None = None
        if all(oauth_values):
            self.oauth = oauth1.Client(consumer_key, client_secret=consumer_secret, resource_owner_key=access_token,
                                       resource_owner_secret=access_token_secret, signature_method=signature_method,
                                       signature_type=oauth1.SIGNATURE_TYPE_AUTH_HEADER)
        elif any(oauth_values):
            raise ValueError("Magento OAuth 1.0a needs all four of consumer key, consumer secret, access token "
                             "and access token secret (TILLBRIDGE_MAGENTO_CONSUMER_KEY and friends); "
                             "or leave them empty and set a Bearer token")
        elif not token:
            raise ValueError("Magento credentials missing: set TILLBRIDGE_MAGENTO_TOKEN (Bearer) or the four "
                             "TILLBRIDGE_MAGENTO_CONSUMER_*/ACCESS_TOKEN* OAuth 1.0a values")

    @classmethod
    def from_settings(cls, s: Settings, **options: Any) -> MagentoClient:
        """A client of the Magento ``s`` names (URL, store view, Bearer token or OAuth 1.0a values,
        timeouts); ``options`` as for the constructor."""
        return cls(s.TILLBRIDGE_MAGENTO_URL, store_code=s.TILLBRIDGE_MAGENTO_STORE_CODE,
                   token=s.TILLBRIDGE_MAGENTO_TOKEN or None,
                   consumer_key=s.TILLBRIDGE_MAGENTO_CONSUMER_KEY or None,
                   consumer_secret=s.TILLBRIDGE_MAGENTO_CONSUMER_SECRET or None,
                   access_token=s.TILLBRIDGE_MAGENTO_ACCESS_TOKEN or None,
                   access_token_secret=s.TILLBRIDGE_MAGENTO_ACCESS_TOKEN_SECRET or None,
                   timeout=s.HTTP_TIMEOUT_SECONDS, connect_timeout=s.HTTP_CONNECT_TIMEOUT_SECONDS, **options)

    # -- plumbing --------------------------------------------------------------------------------
    def path(self, route: str, store_code: str | None = None) -> str:
        code = store_code if store_code is not None else self.store_code
        route = route.lstrip("/")
        return f"{code}/V1/{route}" if code else f"V1/{route}"

    def prepare_request(self, method: str, url: str, headers: dict[str, str]) -> None:
        if self.oauth is not None:
            # OAuth 1.0a in the Authorization header; a JSON body is not part of the signature.
            _, signed, _ = self.oauth.sign(url, method, None, headers)
            headers["Authorization"] = signed["Authorization"]
        else:
            headers["Authorization"] = f"Bearer {self.token}"

    def error_from(self, method: str, path: str, response: Response, body: Any) -> SyncError:
        if GIFT_CARD_PATH.search(path):  # the error names the card: keep its last four characters only
            path, body = redact_gift_card_url(path), redact_gift_cards(body)
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

    # -- stores ----------------------------------------------------------------------------------
    def store_codes(self) -> dict[int, str]:
        """Store view id → code (``GET /V1/store/storeViews``); an order names its store by id."""
        return {int(view["id"]): str(view["code"]) for view in self.call("GET", "store/storeViews") or []}

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

    # -- invoices, shipments, credit memos -------------------------------------------------------
    @staticmethod
    def _items(items: Mapping[int, float] | Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
        if not items:
            return []
        if isinstance(items, Mapping):
            return [{"order_item_id": int(k), "qty": float(v)} for k, v in items.items()]
        return [{"order_item_id": int(i["order_item_id"]), "qty": float(i["qty"])} for i in items]

    @staticmethod
    def _comment(comment: str | None, visible: bool) -> dict[str, Any]:
        if not comment:
            return {}
        return {"appendComment": True, "comment": {"comment": comment, "is_visible_on_front": int(visible)}}

    def invoice(self, order_id: int, items: Mapping[int, float] | Sequence[Mapping[str, Any]] | None = None, *,
                capture: bool = False, notify: bool = False, comment: str | None = None,
                comment_visible: bool = False) -> int:
        """Invoice the order (all remaining quantities when ``items`` is empty); return the invoice id.

        ``items`` maps order item id → qty, or lists ``{"order_item_id", "qty"}``.
        """
        body: dict[str, Any] = {"capture": capture, "notify": notify, **self._comment(comment, comment_visible)}
        if items:
            body["items"] = self._items(items)
        return int(self.call("POST", f"order/{int(order_id)}/invoice", body=body))

    def ship(self, order_id: int, items: Mapping[int, float] | Sequence[Mapping[str, Any]] | None = None, *,
             tracks: Sequence[Mapping[str, str]] | None = None, notify: bool = False, comment: str | None = None,
             comment_visible: bool = False, source_code: str | None = None) -> int:
        """Ship the order with its tracks (``track_number``, ``title``, ``carrier_code``); return the shipment id."""
        body: dict[str, Any] = {"notify": notify, **self._comment(comment, comment_visible)}
        if items:
            body["items"] = self._items(items)
        if tracks:
            body["tracks"] = [{"track_number": str(t["track_number"]), "title": str(t.get("title") or t["carrier_code"]),
                               "carrier_code": str(t["carrier_code"])} for t in tracks]
        if source_code:
            body["arguments"] = {"extension_attributes": {"source_code": source_code}}
        return int(self.call("POST", f"order/{int(order_id)}/ship", body=body))

    def refund(self, order_id: int, items: Mapping[int, float] | Sequence[Mapping[str, Any]] | None = None, *,
               shipping_amount: float | None = None, adjustment_positive: float | None = None,
               adjustment_negative: float | None = None, return_to_stock: Sequence[int] | None = None,
               notify: bool = False, comment: str | None = None, comment_visible: bool = False) -> int:
        """Refund offline (a credit memo; everything refundable when ``items`` is empty); return its id."""
        body: dict[str, Any] = {"notify": notify, **self._comment(comment, comment_visible)}
        if items:
            body["items"] = self._items(items)
        arguments: dict[str, Any] = {}
        if shipping_amount is not None:
            arguments["shipping_amount"] = float(shipping_amount)
        if adjustment_positive is not None:
            arguments["adjustment_positive"] = float(adjustment_positive)
        if adjustment_negative is not None:
            arguments["adjustment_negative"] = float(adjustment_negative)
        if return_to_stock:
            arguments["extension_attributes"] = {"return_to_stock_items": [int(i) for i in return_to_stock]}
        if arguments:
            body["arguments"] = arguments
        return int(self.call("POST", f"order/{int(order_id)}/refund", body=body))

    def add_track(self, shipment_id: int, order_id: int, track_number: str, carrier_code: str,
                  title: str | None = None) -> dict[str, Any]:
        entity = {"order_id": int(order_id), "parent_id": int(shipment_id), "track_number": track_number,
                  "carrier_code": carrier_code, "title": title or carrier_code}
        return dict(self.call("POST", "shipment/track", body={"entity": entity}))

    def get_invoice(self, invoice_id: int) -> dict[str, Any]:
        return dict(self.call("GET", f"invoices/{int(invoice_id)}"))

    def search_invoices(self, filters: Sequence[FilterEntry] | Mapping[str, Any] | None = None,
                        sort: Sequence[SortSpec] | None = None, page_size: int | None = None,
                        current_page: int | None = None) -> dict[str, Any]:
        return self.search("invoices", filters, sort, page_size, current_page)

    def shipment(self, shipment_id: int) -> dict[str, Any]:
        return dict(self.call("GET", f"shipment/{int(shipment_id)}"))

    def search_shipments(self, filters: Sequence[FilterEntry] | Mapping[str, Any] | None = None,
                         sort: Sequence[SortSpec] | None = None, page_size: int | None = None,
                         current_page: int | None = None) -> dict[str, Any]:
        return self.search("shipments", filters, sort, page_size, current_page)

    def creditmemo(self, creditmemo_id: int) -> dict[str, Any]:
        return dict(self.call("GET", f"creditmemo/{int(creditmemo_id)}"))

    def search_creditmemos(self, filters: Sequence[FilterEntry] | Mapping[str, Any] | None = None,
                           sort: Sequence[SortSpec] | None = None, page_size: int | None = None,
                           current_page: int | None = None) -> dict[str, Any]:
        return self.search("creditmemos", filters, sort, page_size, current_page)

    def iter_creditmemos(self, filters: Sequence[FilterEntry] | Mapping[str, Any] | None = None,
                         page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[dict[str, Any]]:
        return self.iter_search("creditmemos", filters, [("entity_id", "ASC")], page_size)

    # -- customers -------------------------------------------------------------------------------
    def customer(self, customer_id: int) -> dict[str, Any]:
        return dict(self.call("GET", f"customers/{int(customer_id)}"))

    def search_customers(self, filters: Sequence[FilterEntry] | Mapping[str, Any] | None = None,
                         sort: Sequence[SortSpec] | None = None, page_size: int | None = None,
                         current_page: int | None = None) -> dict[str, Any]:
        return self.search("customers/search", filters, sort, page_size, current_page)

    def iter_customers(self, filters: Sequence[FilterEntry] | Mapping[str, Any] | None = None,
                       page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[dict[str, Any]]:
        return self.iter_search("customers/search", filters, [("entity_id", "ASC")], page_size)

    def customer_by_email(self, email: str, website_id: int | None = None) -> dict[str, Any] | None:
        filters: list[FilterEntry] = [("email", email)]
        if website_id is not None:
            filters.append(("website_id", website_id))
        items = self.search_customers(filters, page_size=1).get("items") or []
        return dict(items[0]) if items else None

    def create_customer(self, customer: Mapping[str, Any], password: str | None = None) -> dict[str, Any]:
        """Create a customer; ``addresses`` go inside ``customer``."""
        body: dict[str, Any] = {"customer": dict(customer)}
        if password:
            body["password"] = password
        return dict(self.call("POST", "customers", body=body))

    def update_customer(self, customer_id: int, customer: Mapping[str, Any]) -> dict[str, Any]:
        """Update a customer. Leave ``addresses`` out to keep them; a list given replaces them all
        (addresses not listed are deleted), as Magento's repository does."""
        payload = {**dict(customer), "id": int(customer_id)}
        return dict(self.call("PUT", f"customers/{int(customer_id)}", body={"customer": payload}))

    # -- products and stock ----------------------------------------------------------------------
    @staticmethod
    def _sku(sku: str) -> str:
        return quote(str(sku), safe="")

    def product(self, sku: str, *, store_code: str | None = None) -> dict[str, Any]:
        return dict(self.call("GET", f"products/{self._sku(sku)}", store_code=store_code))

    def search_products(self, filters: Sequence[FilterEntry] | Mapping[str, Any] | None = None,
                        sort: Sequence[SortSpec] | None = None, page_size: int | None = None,
                        current_page: int | None = None, *, store_code: str | None = None) -> dict[str, Any]:
        return self.search("products", filters, sort, page_size, current_page, store_code=store_code)

    def iter_products(self, filters: Sequence[FilterEntry] | Mapping[str, Any] | None = None,
                      page_size: int = DEFAULT_PAGE_SIZE, *, store_code: str | None = None) -> Iterator[dict[str, Any]]:
        return self.iter_search("products", filters, [("entity_id", "ASC")], page_size, store_code=store_code)

    def update_product(self, sku: str, product: Mapping[str, Any], *, store_code: str | None = None) -> dict[str, Any]:
        """Partial update. Store scope matters: ``store_code="all"`` writes global values; the
        default store code writes store-view values for name, status, visibility, description…"""
        payload = {**dict(product), "sku": product.get("sku", sku)}
        return dict(self.call("PUT", f"products/{self._sku(sku)}", body={"product": payload},
                              store_code=store_code))

    def create_product(self, product: Mapping[str, Any], *, store_code: str | None = None) -> dict[str, Any]:
        return dict(self.call("POST", "products", body={"product": dict(product)}, store_code=store_code))

    # -- select attributes and configurable products -----------------------------------------------
    def product_attribute(self, code: str) -> dict[str, Any]:
        return dict(self.call("GET", f"products/attributes/{quote(code, safe='')}"))

    def attribute_options(self, code: str) -> list[dict[str, Any]]:
        """A select attribute's options (``label``, ``value`` = option id); Magento lists an empty
        option first, which is left out here."""
        options = self.call("GET", f"products/attributes/{quote(code, safe='')}/options") or []
        return [dict(o) for o in options if str(o.get("value") or "").strip()]

    def add_attribute_option(self, code: str, label: str, sort_order: int | None = None) -> str:
        """Add an option by its admin label; the new option id."""
        option: dict[str, Any] = {"label": label, "value": ""}
        if sort_order is not None:
            option["sort_order"] = sort_order
        return str(self.call("POST", f"products/attributes/{quote(code, safe='')}/options", body={"option": option}))

    def configurable_options(self, sku: str) -> list[dict[str, Any]]:
        return [dict(o) for o in self.call("GET", f"configurable-products/{self._sku(sku)}/options/all") or []]

    def add_configurable_option(self, sku: str, attribute_id: int | str, label: str, value_ids: Sequence[int | str],
                                position: int = 0) -> int:
        """Let the configurable product vary on an attribute; the new option's id."""
        option = {"attribute_id": str(attribute_id), "label": label, "position": position, "is_use_default": True,
                  "values": [{"value_index": int(v)} for v in value_ids]}
        return int(self.call("POST", f"configurable-products/{self._sku(sku)}/options", body={"option": option}))

    def configurable_children(self, sku: str) -> list[dict[str, Any]]:
        return [dict(p) for p in self.call("GET", f"configurable-products/{self._sku(sku)}/children") or []]

    def link_configurable_child(self, sku: str, child_sku: str) -> bool:
        return bool(self.call("POST", f"configurable-products/{self._sku(sku)}/child", body={"childSku": child_sku}))

    def stock_item(self, sku: str) -> dict[str, Any]:
        return dict(self.call("GET", f"stockItems/{self._sku(sku)}"))

    def update_stock_item(self, sku: str, item_id: int | str, stock_item: Mapping[str, Any]) -> int:
        return int(self.call("PUT", f"products/{self._sku(sku)}/stockItems/{item_id}",
                             body={"stockItem": dict(stock_item)}))

    def set_stock_qty(self, sku: str, qty: float, *, is_in_stock: bool | None = None) -> int:
        """The legacy single-source write: read the stock item id, then PUT the quantity."""
        item_id = self.stock_item(sku)["item_id"]
        values: dict[str, Any] = {"qty": qty, "is_in_stock": qty > 0 if is_in_stock is None else is_in_stock}
        return self.update_stock_item(sku, item_id, values)

    def search_source_items(self, filters: Sequence[FilterEntry] | Mapping[str, Any] | None = None,
                            sort: Sequence[SortSpec] | None = None, page_size: int | None = None,
                            current_page: int | None = None) -> dict[str, Any]:
        return self.search("inventory/source-items", filters, sort, page_size, current_page)

    def save_source_items(self, items: Sequence[Mapping[str, Any]], *, batch_size: int = 500) -> int:
        """MSI batch write of ``{"sku", "source_code", "quantity", "status"}``; return the number sent."""
        rows = [{"sku": str(i["sku"]), "source_code": str(i.get("source_code", "default")),
                 "quantity": float(i["quantity"]), "status": int(i.get("status", 1 if float(i["quantity"]) > 0 else 0))}
                for i in items]
        for start in range(0, len(rows), max(1, batch_size)):
            self.call("POST", "inventory/source-items", body={"sourceItems": rows[start:start + batch_size]})
        return len(rows)

    # -- gift cards (the Tillbridge module's route) -------------------------------------------------
    def giftcard(self, code: str) -> dict[str, Any]:
        return dict(self.call("GET", f"tillbridge/giftcards/{quote(code, safe='')}"))

    def search_giftcards(self, filters: Sequence[FilterEntry] | Mapping[str, Any] | None = None,
                         sort: Sequence[SortSpec] | None = None, page_size: int | None = None,
                         current_page: int | None = None) -> dict[str, Any]:
        return self.search("tillbridge/giftcards", filters, sort, page_size, current_page)

    def create_giftcard(self, code: str, balance: float, **fields: Any) -> dict[str, Any]:
        card = {"code": code, "balance": float(balance), **fields}
        return dict(self.call("POST", "tillbridge/giftcards", body={"giftCard": card}))

    def adjust_giftcard(self, code: str, amount: float, idempotency_key: str, reason: str | None = None) -> dict[str, Any]:
        """Add a signed amount; the same key never applies twice."""
        adjustment: dict[str, Any] = {"amount": float(amount), "idempotency_key": idempotency_key}
        if reason:
            adjustment["reason"] = reason
        return dict(self.call("POST", f"tillbridge/giftcards/{quote(code, safe='')}/adjustments",
                              body={"adjustment": adjustment}))

    def giftcard_history(self, code: str | None = None, since: str | None = None, after_id: int = 0,
                         page_size: int = 500) -> Iterator[dict[str, Any]]:
        """Balance changes oldest first (one card's, or every card's at or after ``since``,
        ``Y-m-d H:i:s`` UTC), page by page on the history id."""
        while True:
            params: dict[str, Any] = {"afterId": after_id, "pageSize": page_size}
            if code:
                params["code"] = code
            if since:
                params["since"] = since
            page = list(self.call("GET", "tillbridge/giftcard-history", params=params) or [])
            yield from page
            if len(page) < page_size:
                return
            after_id = int(page[-1]["id"])

    # -- tokens ----------------------------------------------------------------------------------
    def issue_admin_token(self, username: str, password: str) -> str:
        """``POST /V1/integration/admin/token`` (refused by Magento when 2FA is on)."""
        return str(self.call("POST", "integration/admin/token", body={"username": username, "password": password}))
