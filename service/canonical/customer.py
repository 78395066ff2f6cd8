"""A customer as both systems can express it: names, the login email and postal addresses with phones."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, post_load, validate

from service.canonical.address import Address, AddressSchema

#: The fields duplicate resolution compares (service/ai/dedup/), and the columns of its review
#: labels and the batch tool's ``--columns``.
MATCH_FIELDS: tuple[str, ...] = (
    "first_name",
    "middle_name",
    "last_name",
    "email",
    "phone",
    "street",
    "city",
    "region",
    "postcode",
    "country",
    "dob",
)

#: The fields survivorship decides one by one (rules/customers.yaml); ids and timestamps are not data.
SURVIVING_FIELDS = ("first_name", "last_name", "email", "addresses")


@dataclass
class CustomerAddress(Address):
    """An address with its id in the system it came from (Magento address id, Heartland address id)."""

    source_id: str = ""
    default_billing: bool = False
    default_shipping: bool = False

    def row(self) -> list[str]:
        """The address's data, without ids and default flags, in a form comparable across systems."""
        return [" ".join(self.street).strip().lower(), self.city.strip().lower(), self.region_code.strip().upper(),
                self.postcode.strip().lower(), self.country.strip().upper(), self.phone.strip(),
                self.first_name.strip(), self.last_name.strip()]


@dataclass
class Customer:
    source: str  # magento | heartland
    source_id: str
    email: str
    first_name: str = ""
    last_name: str = ""
    addresses: list[CustomerAddress] = field(default_factory=list)
    store_code: str = "default"
    updated_at: str = ""

    def values(self) -> dict[str, Any]:
        """The surviving fields in a form equal on both sides when they hold the same customer."""
        return {name: (self.address_values() if name == "addresses" else getattr(self, name))
                for name in SURVIVING_FIELDS}

    def address_values(self) -> list[list[str]]:
        # Ids, default flags and order differ between the systems for the same addresses.
        return sorted(a.row() for a in self.addresses)

    def fingerprint(self) -> str:
        """A hash of the surviving fields: equal fingerprints are the same customer data."""
        text = json.dumps(self.values(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class CustomerAddressSchema(AddressSchema):
    source_id = fields.String(load_default="", allow_none=True)
    default_billing = fields.Boolean(load_default=False, allow_none=True)
    default_shipping = fields.Boolean(load_default=False, allow_none=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> CustomerAddress:
        cleaned: dict[str, Any] = {k: (("" if k not in ("default_billing", "default_shipping") else False)
                                       if v is None else v) for k, v in data.items()}
        return CustomerAddress(**cleaned)


class CustomerSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    source = fields.String(required=True)
    source_id = fields.String(required=True)
    email = fields.String(required=True, validate=lambda v: v == "" or validate.Email()(v) == v)
    first_name = fields.String(load_default="", allow_none=True)
    last_name = fields.String(load_default="", allow_none=True)
    addresses = fields.List(fields.Nested(CustomerAddressSchema), load_default=list)
    store_code = fields.String(load_default="default")
    updated_at = fields.String(load_default="", allow_none=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Customer:
        for name in ("first_name", "last_name", "updated_at"):
            data[name] = data.get(name) or ""
        return Customer(**data)


# Schemas keep no state between loads: one instance serves every load (building one costs more than a load).
CUSTOMER_SCHEMA = CustomerSchema()
