"""Schemas shared by several /v1 resources."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from service.api.v1.conventions import MoneySchema

ID_PATTERN = r"^[A-Za-z0-9_.:@+\-]{1,200}$"


class SyncStateSchema(Schema):
    state = fields.String(required=True, metadata={"description": "received, processing, done, ignored, review, dead"})
    reason = fields.String(required=True)
    item_id = fields.Integer(required=True, metadata={"description": "the sync item (see trace_url)"})
    attempts = fields.Integer(required=True)
    updated = fields.String(required=True, metadata={"format": "date-time"})
    trace_url = fields.String(required=True, metadata={"description": "the item's page with every step"})


class SystemRefSchema(Schema):
    id = fields.String(required=True)
    number = fields.String(allow_none=True)


class AddressSchema(Schema):
    first_name = fields.String(load_default="", validate=validate.Length(max=100))
    last_name = fields.String(load_default="", validate=validate.Length(max=100))
    street = fields.List(fields.String(validate=validate.Length(max=200)), load_default=list,
                         validate=validate.Length(max=4))
    city = fields.String(load_default="", validate=validate.Length(max=100))
    region = fields.String(load_default="", validate=validate.Length(max=100))
    postcode = fields.String(load_default="", validate=validate.Length(max=20))
    country = fields.String(load_default="", validate=validate.Length(max=2))
    phone = fields.String(load_default="", validate=validate.Length(max=40))


__all__ = ["AddressSchema", "ID_PATTERN", "MoneySchema", "SyncStateSchema", "SystemRefSchema"]
