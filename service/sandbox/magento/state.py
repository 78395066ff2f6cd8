"""Everything the Magento sandbox holds, in memory, behind one lock.

One re-entrant lock guards every collection, so a request sees and leaves a consistent store;
lookups by id, SKU, email and code are dictionary reads. Entities are kept in the shape the REST API
returns them; a reader serialises what it answers while it holds the lock (``Encoded``), so it never
hands out live objects and never pays for a deep copy.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from service.sandbox import seed as seed_data

WEBSITE_ID = 1
DEFAULT_STORE_ID = 1
STORE_NAME = "Main Website\nMain Website Store\nDefault Store View"
DEFAULT_SOURCE = "default"
CATEGORY_IDS = {"T-Shirt": 11, "Hoodie": 12, "Cap": 13, "Mug": 14, "Tote Bag": 15, "Socks": 16, "Jacket": 17,
                "Water Bottle": 18}


def now_text() -> str:
    """Magento's timestamp format, UTC."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


class Encoded:
    """A JSON answer serialised under the state lock; the dispatcher sends the text as it is."""

    __slots__ = ("text",)

    def __init__(self, value: Any) -> None:
        self.text = json.dumps(value, separators=(",", ":"))

    @classmethod
    def from_text(cls, text: str) -> Encoded:
        encoded = cls.__new__(cls)
        encoded.text = text
        return encoded

    def value(self) -> Any:
        return json.loads(self.text)


@dataclass
class Store:
    """A store view; code ``all`` (id 0) is the admin scope used for global values."""

    code: str
    store_id: int
    name: str


@dataclass
class Counters:
    order: int = 0
    order_item: int = 0
    order_address: int = 0
    status_history: int = 0
    invoice: int = 0
    invoice_item: int = 0
    shipment: int = 0
    shipment_item: int = 0
    track: int = 0
    creditmemo: int = 0
    creditmemo_item: int = 0
    customer: int = 0
    customer_address: int = 0
    product: int = 0
    giftcard: int = 0
    attribute_option: int = 0
    configurable_option: int = 0
    giftcard_history: int = 0

    def next(self, name: str) -> int:
        value = getattr(self, name) + 1
        setattr(self, name, value)
        return value


@dataclass
class MagentoState:
    lock: threading.RLock = field(default_factory=threading.RLock)
    counters: Counters = field(default_factory=Counters)
    stores: dict[str, Store] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    order_ids_by_increment: dict[str, int] = field(default_factory=dict)
    invoices: dict[int, dict[str, Any]] = field(default_factory=dict)
    shipments: dict[int, dict[str, Any]] = field(default_factory=dict)
    tracks: dict[int, dict[str, Any]] = field(default_factory=dict)
    creditmemos: dict[int, dict[str, Any]] = field(default_factory=dict)
    customers: dict[int, dict[str, Any]] = field(default_factory=dict)
    customer_ids_by_email: dict[tuple[int, str], int] = field(default_factory=dict)
    products: dict[str, dict[str, Any]] = field(default_factory=dict)  # by SKU; global (admin) values
    product_skus_by_id: dict[int, str] = field(default_factory=dict)
    store_overrides: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    sources: set[str] = field(default_factory=lambda: {DEFAULT_SOURCE})
    source_items: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    reservations: dict[str, float] = field(default_factory=dict)
    giftcards: dict[str, dict[str, Any]] = field(default_factory=dict)  # by upper-cased code
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)  # product EAV attributes by code
    giftcard_adjustments: dict[str, dict[str, Any]] = field(default_factory=dict)  # by idempotency key
    giftcard_history: list[dict[str, Any]] = field(default_factory=list)  # balance changes, oldest first
    statuses: dict[str, list[str]] = field(default_factory=dict)
    # Serialised orders, emptied by every write (the dispatcher does it under the lock).
    order_json: dict[int, str] = field(default_factory=dict)

    def store(self, code: str) -> Store | None:
        return self.stores.get(code)

    def encoded_order(self, order: Mapping[str, Any]) -> str:
        text = self.order_json.get(order["entity_id"])
        if text is None:
            text = json.dumps(order, separators=(",", ":"))
            self.order_json[order["entity_id"]] = text
        return text


DEFAULT_STATUSES: dict[str, list[str]] = {
    "new": ["pending"],
    "pending_payment": ["pending_payment"],
    "processing": ["processing", "fraud"],
    "complete": ["complete"],
    "closed": ["closed"],
    "canceled": ["canceled"],
    "holded": ["holded"],
    "payment_review": ["payment_review", "fraud"],
}


def stock_item(product_id: int, qty: float, backorders: int = 0) -> dict[str, Any]:
    return {
        "item_id": product_id,
        "product_id": product_id,
        "stock_id": 1,
        "qty": qty,
        "is_in_stock": qty > 0,
        "is_qty_decimal": False,
        "show_default_notification_message": False,
        "use_config_min_qty": True,
        "min_qty": 0,
        "use_config_min_sale_qty": 1,
        "min_sale_qty": 1,
        "use_config_max_sale_qty": True,
        "max_sale_qty": 10000,
        "use_config_backorders": not backorders,
        "backorders": backorders,
        "use_config_notify_stock_qty": True,
        "notify_stock_qty": 1,
        "use_config_qty_increments": True,
        "qty_increments": 0,
        "use_config_enable_qty_inc": True,
        "enable_qty_increments": False,
        "use_config_manage_stock": True,
        "manage_stock": True,
        "low_stock_date": None,
        "is_decimal_divided": False,
        "stock_status_changed_auto": 0,
    }


def url_key(name: str, sku: str) -> str:
    slug = "".join(ch if ch.isalnum() else "-" for ch in name.lower())
    slug = "-".join(part for part in slug.split("-") if part)
    return f"{slug}-{sku.lower()}"


def product_entity(product_id: int, p: seed_data.SeedProduct, stamp: str, backorders: int = 0) -> dict[str, Any]:
    qty = float(sum(p.stock))
    return {
        "id": product_id,
        "sku": p.sku,
        "name": p.name,
        "attribute_set_id": 4,
        "price": p.price,
        "status": 1,
        "visibility": 4,
        "type_id": "simple",
        "created_at": stamp,
        "updated_at": stamp,
        "weight": p.weight,
        "extension_attributes": {
            "website_ids": [WEBSITE_ID],
            "category_links": [{"position": 0, "category_id": str(CATEGORY_IDS.get(p.category, 2))}],
            "stock_item": stock_item(product_id, qty, backorders),
        },
        "product_links": [],
        "options": [],
        "media_gallery_entries": [],
        "tier_prices": [],
        "custom_attributes": [
            {"attribute_code": "description", "value": f"<p>{p.description}</p>"},
            {"attribute_code": "url_key", "value": url_key(p.name, p.sku)},
            {"attribute_code": "tax_class_id", "value": "2"},
            {"attribute_code": "cost", "value": f"{p.cost:.2f}"},
            {"attribute_code": "category_ids", "value": [str(CATEGORY_IDS.get(p.category, 2))]},
            {"attribute_code": "options_container", "value": "container2"},
            {"attribute_code": "required_options", "value": "0"},
            {"attribute_code": "has_options", "value": "0"},
        ],
    }


def customer_address(address_id: int, customer_id: int, first: str, last: str, a: seed_data.SeedAddress) -> dict[str, Any]:
    return {
        "id": address_id,
        "customer_id": customer_id,
        "region": {"region_code": a.region_code, "region": a.region, "region_id": a.region_id},
        "region_id": a.region_id,
        "country_id": a.country,
        "street": [a.street],
        "telephone": a.phone,
        "postcode": a.postcode,
        "city": a.city,
        "firstname": first,
        "lastname": last,
        "default_shipping": True,
        "default_billing": True,
    }


def customer_entity(state: MagentoState, c: seed_data.SeedCustomer, stamp: str) -> dict[str, Any]:
    customer_id = state.counters.next("customer")
    address_id = state.counters.next("customer_address")
    return {
        "id": customer_id,
        "group_id": 1,
        "default_billing": str(address_id),
        "default_shipping": str(address_id),
        "created_at": stamp,
        "updated_at": stamp,
        "created_in": "Default Store View",
        "dob": c.dob,
        "email": c.email,
        "firstname": c.first_name,
        "lastname": c.last_name,
        "gender": 0,
        "store_id": DEFAULT_STORE_ID,
        "website_id": WEBSITE_ID,
        "addresses": [customer_address(address_id, customer_id, c.first_name, c.last_name, c.address)],
        "disable_auto_group_change": 0,
        "extension_attributes": {"is_subscribed": False},
    }


def index_customer(state: MagentoState, customer: dict[str, Any]) -> None:
    state.customers[customer["id"]] = customer
    state.customer_ids_by_email[(customer.get("website_id", WEBSITE_ID), customer["email"].lower())] = customer["id"]


def index_product(state: MagentoState, product: dict[str, Any]) -> None:
    state.products[product["sku"]] = product
    state.product_skus_by_id[product["id"]] = product["sku"]


def seed_catalog(state: MagentoState, data: seed_data.SeedData, stamp: str, backorders: int = 0) -> None:
    state.stores = {
        "default": Store("default", DEFAULT_STORE_ID, "Default Store View"),
        "all": Store("all", 0, "Admin"),
    }
    state.statuses = {k: list(v) for k, v in DEFAULT_STATUSES.items()}
    for p in data.products:
        product_id = state.counters.next("product")
        product = product_entity(product_id, p, stamp, backorders)
        index_product(state, product)
        state.source_items[(p.sku, DEFAULT_SOURCE)] = {
            "sku": p.sku, "source_code": DEFAULT_SOURCE, "quantity": float(sum(p.stock)), "status": 1 if sum(p.stock) else 0,
        }
    for c in data.customers:
        index_customer(state, customer_entity(state, c, stamp))
