"""A postal address as both systems can express it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, post_load


@dataclass
class Address:
    first_name: str = ""
    last_name: str = ""
    street: list[str] = field(default_factory=list)
    city: str = ""
    region: str = ""
    region_code: str = ""
    postcode: str = ""
    country: str = ""
    phone: str = ""
    company: str = ""

    def key(self) -> tuple[str, str]:
        """What makes two addresses the same place for matching: first street line and postcode."""
        line = (self.street[0] if self.street else "").strip().lower()
        return line, self.postcode.strip().lower()


class AddressSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    first_name = fields.String(load_default="")
    last_name = fields.String(load_default="")
    street = fields.List(fields.String(), load_default=list)
    city = fields.String(load_default="")
    region = fields.String(load_default="", allow_none=True)
    region_code = fields.String(load_default="", allow_none=True)
    postcode = fields.String(load_default="", allow_none=True)
    country = fields.String(load_default="")
    phone = fields.String(load_default="", allow_none=True)
    company = fields.String(load_default="", allow_none=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Address:
        cleaned: dict[str, Any] = {k: ("" if v is None else v) for k, v in data.items()}
        return Address(**cleaned)
