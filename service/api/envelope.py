"""The envelope every Magento event arrives in, validated with marshmallow."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from service.flows import MAGENTO_EVENTS

STORE_CODE = r"^[A-Za-z0-9_]{1,64}$"
_SHORT_TEXT = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")


def is_record_id(value: Any) -> bool:
    """An id a source system could have given a record: what keys, labels and bindings are built from."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) < 10**18
    return isinstance(value, str) and bool(_SHORT_TEXT.match(value))


def is_version(value: Any) -> bool:
    """An ``updated_at`` the store can keep as the record's version (absent is fine)."""
    return value in (None, "") or (isinstance(value, str) and bool(_SHORT_TEXT.match(value)))


class EnvelopeSchema(Schema):
    class Meta:
        unknown = RAISE

    event = fields.String(
        required=True,
        validate=validate.OneOf(MAGENTO_EVENTS, error="unknown event {input!r}; expected one of: {choices}"),
    )
    occurred_at = fields.AwareDateTime(required=True, default_timezone=None,
                                       error_messages={"invalid": "must be an ISO-8601 date-time with a zone"})
    store_code = fields.String(required=True, validate=validate.Regexp(
        STORE_CODE, error="must be a Magento store code (letters, digits and _, at most 64)"))
    data = fields.Dict(required=True)

    @validates("occurred_at")
    def occurred_at_in_range(self, value: datetime, **_: Any) -> None:
        try:
            in_utc = value.astimezone(UTC)
        except OverflowError:
            raise ValidationError("is out of range: a date-time between the years 2000 and 9999") from None
        if not 2000 <= in_utc.year <= 9999:
            raise ValidationError("is out of range: a date-time between the years 2000 and 9999")

    @validates("data")
    def entity_has_id(self, value: dict[str, Any], **_: Any) -> None:
        if not value:
            raise ValidationError("must be the entity as the Magento REST API returns it (empty here)")
        if "entity_id" not in value and "id" not in value:
            raise ValidationError("the entity has no entity_id or id")
        entity_id = value.get("entity_id", value.get("id"))
        if not is_record_id(entity_id):
            raise ValidationError("the entity's entity_id (or id) must be a number or a short text "
                                  "(at most 64 characters, no control characters)")
        if not is_version(value.get("updated_at")):
            raise ValidationError("updated_at must be a date-time text of at most 64 characters")
