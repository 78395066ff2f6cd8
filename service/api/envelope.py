"""The envelope every Magento event arrives in, validated with marshmallow."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from service.flows import MAGENTO_EVENTS


class EnvelopeSchema(Schema):
    class Meta:
        unknown = RAISE

    event = fields.String(
        required=True,
        validate=validate.OneOf(MAGENTO_EVENTS, error="unknown event {input!r}; expected one of: {choices}"),
    )
    occurred_at = fields.AwareDateTime(required=True, default_timezone=None,
                                       error_messages={"invalid": "must be an ISO-8601 date-time with a zone"})
    store_code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    data = fields.Dict(required=True)

    @validates("data")
    def entity_has_id(self, value: dict[str, Any], **_: Any) -> None:
        if not value:
            raise ValidationError("must be the entity as the Magento REST API returns it (empty here)")
        if "entity_id" not in value and "id" not in value:
            raise ValidationError("the entity has no entity_id or id")
