"""The canonical order: a web order as Tillbridge understands it, whichever system it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate, validates_schema

from service.canonical.address import Address, AddressSchema


@dataclass
class OrderLine:
    sku: str
    name: str
    qty: float
    unit_price: float
    discount: float = 0.0
    tax: float = 0.0
    row_total: float = 0.0

    @property
    def net_unit_price(self) -> float:
        """The unit price after this line's discount, as Heartland's adjusted unit price takes it."""
        return round(self.unit_price - (self.discount / self.qty if self.qty else 0.0), 2)


@dataclass
class Payment:
    method: str
    amount: float
    transaction_id: str = ""
    card_type: str = ""
    last4: str = ""


@dataclass
class Order:
    source: str
    source_id: str
    number: str
    store_code: str
    state: str
    status: str
    email: str
    first_name: str
    last_name: str
    is_guest: bool
    customer_id: str
    billing: Address
    shipping: Address | None
    lines: list[OrderLine]
    subtotal: float
    shipping_amount: float
    discount: float
    tax: float
    grand_total: float
    currency: str
    payment: Payment | None
    created_at: str
    updated_at: str
    shipping_method: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The order's canonical key: source system, store and the source's id."""
        return f"{self.source}:{self.store_code}:{self.source_id}"


class OrderLineSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    sku = fields.String(required=True, validate=validate.Length(min=1))
    name = fields.String(load_default="")
    qty = fields.Float(required=True, validate=validate.Range(min=0, min_inclusive=False))
    unit_price = fields.Float(required=True, validate=validate.Range(min=0))
    discount = fields.Float(load_default=0.0, allow_none=True)
    tax = fields.Float(load_default=0.0, allow_none=True)
    row_total = fields.Float(load_default=0.0, allow_none=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> OrderLine:
        cleaned: dict[str, Any] = {k: (0.0 if v is None else v) for k, v in data.items()}
        return OrderLine(**cleaned)


class PaymentSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    method = fields.String(required=True)
    amount = fields.Float(load_default=0.0, allow_none=True)
    transaction_id = fields.String(load_default="", allow_none=True)
    card_type = fields.String(load_default="", allow_none=True)
    last4 = fields.String(load_default="", allow_none=True, validate=validate.Regexp(r"^(\d{4})?$"))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Payment:
        cleaned: dict[str, Any] = {k: ("" if v is None and k != "amount" else (0.0 if v is None else v))
                                   for k, v in data.items()}
        return Payment(**cleaned)


class OrderSchema(Schema):
    """Validation of a canonical order; messages are field-level and say what is wrong."""

    class Meta:
        unknown = EXCLUDE

    source = fields.String(required=True)
    source_id = fields.String(required=True, validate=validate.Length(min=1))
    number = fields.String(required=True, validate=validate.Length(min=1))
    store_code = fields.String(load_default="default")
    state = fields.String(load_default="new")
    status = fields.String(load_default="pending")
    email = fields.Email(required=True)
    first_name = fields.String(load_default="")
    last_name = fields.String(load_default="")
    is_guest = fields.Boolean(load_default=False)
    customer_id = fields.String(load_default="", allow_none=True)
    billing = fields.Nested(AddressSchema, required=True)
    shipping = fields.Nested(AddressSchema, load_default=None, allow_none=True)
    lines = fields.List(fields.Nested(OrderLineSchema), required=True,
                        validate=validate.Length(min=1, error="an order needs at least one line"))
    subtotal = fields.Float(load_default=0.0)
    shipping_amount = fields.Float(load_default=0.0, allow_none=True)
    discount = fields.Float(load_default=0.0, allow_none=True)
    tax = fields.Float(load_default=0.0, allow_none=True)
    grand_total = fields.Float(required=True, validate=validate.Range(min=0))
    currency = fields.String(load_default="USD")
    payment = fields.Nested(PaymentSchema, load_default=None, allow_none=True)
    created_at = fields.String(load_default="")
    updated_at = fields.String(load_default="")
    shipping_method = fields.String(load_default="", allow_none=True)

    @validates_schema
    def names(self, data: dict[str, Any], **_: Any) -> None:
        billing = data.get("billing")
        if not (data.get("first_name") or data.get("last_name")) and not (
            billing and (billing.first_name or billing.last_name)
        ):
            raise ValidationError("the order has no customer name (customer_firstname or billing name)", "first_name")

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Order:
        for key in ("shipping_amount", "discount", "tax"):
            data[key] = data.get(key) or 0.0
        data["customer_id"] = data.get("customer_id") or ""
        data["shipping_method"] = data.get("shipping_method") or ""
        return Order(**data)


# Schemas keep no state between loads: one instance serves every load (building one costs more than a load).
ORDER_SCHEMA = OrderSchema()
