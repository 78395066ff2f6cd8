"""Reading request bodies the way Heartland does: collect every field error, then answer 422."""

from __future__ import annotations

import re
from typing import Any

from service.sandbox.heartland.state import Collection, Record, as_int, bad_request, invalid

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Checker:
    """Typed reads of a JSON body; errors gather in ``details`` keyed by field, as Heartland's do."""

    def __init__(self, body: Any) -> None:
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object")
        self.body: dict[str, Any] = body
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def has(self, field: str) -> bool:
        return field in self.body

    def string(self, field: str, *, required: bool = False, default: str | None = None) -> str | None:
        value = self.body.get(field, default)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.add(field, "can't be blank")
            return default if value is None else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            self.add(field, "must be a string")
            return None
        return value.strip()

    def number(self, field: str, *, required: bool = False, default: float | None = None,
               positive: bool = False, non_negative: bool = False, nonzero: bool = False) -> float | None:
        value = self.body.get(field)
        if value is None or value == "":
            if required:
                self.add(field, "can't be blank")
            return default
        if isinstance(value, bool):
            self.add(field, "is not a number")
            return None
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                self.add(field, "is not a number")
                return None
        if not isinstance(value, int | float):
            self.add(field, "is not a number")
            return None
        if positive and value <= 0:
            self.add(field, "must be greater than 0")
        elif non_negative and value < 0:
            self.add(field, "must be greater than or equal to 0")
        elif nonzero and value == 0:
            self.add(field, "must not be 0")
        return int(value) if isinstance(value, float) and value.is_integer() and field.startswith("qty") else value

    def boolean(self, field: str, default: bool | None = None) -> bool | None:
        value = self.body.get(field)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        self.add(field, "must be true or false")
        return default

    def ref(self, field: str, collection: Collection, *, required: bool = False) -> Record | None:
        """A reference to another record by id; a missing one is a field error, not a 404."""
        value = self.body.get(field)
        if value is None or value == "":
            if required:
                self.add(field, "can't be blank")
            return None
        record = collection.get(value) if as_int(value) is not None else None
        if record is None:
            self.add(field, f"does not match an existing {collection.name}")
        return record

    def email(self, field: str) -> str | None:
        value = self.string(field)
        if value and not EMAIL.match(value):
            self.add(field, "is not a valid email address")
        return value

    def done(self) -> None:
        if self.errors:
            raise invalid(self.errors)


def custom_values(body: dict[str, Any]) -> dict[str, Any] | None:
    """Custom values sent nested (``custom: {k: v}``) or flat (``custom@k: v``); None if neither."""
    found = False
    values: dict[str, Any] = {}
    nested = body.get("custom")
    if isinstance(nested, dict):
        values.update(nested)
        found = True
    elif nested is not None:
        raise invalid({"custom": ["must be an object of custom field values"]})
    for key, value in body.items():
        if key.startswith("custom@"):
            values[key[len("custom@"):]] = value
            found = True
    return values if found else None


def pick(body: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: body[f] for f in fields if f in body}
