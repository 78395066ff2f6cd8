"""The mapping template engine: declarative templates in rules/mappings/ turn one record into another.

A template is YAML::

    name: orders.magento_to_canonical
    version: 3
    fields:
      number: increment_id                      # a source path
      email: {path: customer_email, transform: [strip, lower]}
      currency: {path: order_currency_code, default: USD}
      source: {value: magento}                  # a constant
      name: {concat: [customer_firstname, customer_lastname], sep: " "}
      phone: {first_of: [billing_address.telephone, extension_attributes.shipping_assignments[0].shipping.address.telephone]}
      method: {path: payment.method, lookup: payment_methods.yaml#magento_to_heartland}
      lines:
        each: items
        where: {path: parent_item_id, empty: true}
        fields:
          sku: sku
          qty: {path: qty_ordered, transform: float}

Paths are dotted with list indexes (``street[0]``); output names may be dotted to nest. Missing
values are ``None`` unless a ``default`` is given; ``required: true`` makes a missing value a
MappingError that names the template, the field and the source path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class MappingError(ValueError):
    """A template cannot be applied: a required value is missing or a transform failed."""

    def __init__(self, message: str, field_errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.field_errors = field_errors or {}


def get_path(record: Any, path: str) -> Any:
    current = record
    for name, index in _TOKEN.findall(path):
        if current is None:
            return None
        if name:
            current = current.get(name) if isinstance(current, Mapping) else None
        else:
            i = int(index)
            current = current[i] if isinstance(current, list) and -len(current) <= i < len(current) else None
    return current


def set_path(target: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _iso_datetime(value: Any) -> str | None:
    if _empty(value):
        return None
    text = str(value).strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text[:19], fmt).replace(tzinfo=UTC).isoformat()
        except ValueError:
            continue
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).isoformat()


def _money(value: Any) -> float | None:
    return None if _empty(value) else round(float(value), 2)


_STREET_WORDS = {"street": "St", "avenue": "Ave", "road": "Rd", "boulevard": "Blvd", "drive": "Dr",
                 "lane": "Ln", "court": "Ct", "place": "Pl", "suite": "Ste", "apartment": "Apt",
                 "north": "N", "south": "S", "east": "E", "west": "W"}


def _address(value: Any) -> Any:
    """Street lines with single spaces and the usual postal abbreviations (Street → St)."""
    if isinstance(value, list):
        return [line for line in (_address(v) for v in value) if line]
    if not isinstance(value, str):
        return value
    words = re.sub(r"\s+", " ", value).strip(" ,").split(" ")
    return " ".join(_STREET_WORDS.get(w.lower().rstrip("."), w) for w in words if w)


def _phone(value: Any) -> str | None:
    """E.164 where the number says enough: +<digits>; ten-digit numbers are taken as North American."""
    if _empty(value):
        return None
    text = str(value).strip()
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        return "+" + digits
    if text.startswith("00"):  # the international prefix dialled from most of Europe
        return "+" + digits[2:]
    if len(digits) == 10:
        return "+1" + digits
    if len(digits) == 11 and digits.startswith("1"):
        return "+" + digits
    return digits


def _date(value: Any) -> str | None:
    """An ISO date (YYYY-MM-DD) from an ISO date or datetime, or from US-style MM/DD/YYYY."""
    if _empty(value):
        return None
    text = str(value).strip()
    if re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return datetime.strptime(text[:10], "%Y-%m-%d").date().isoformat()
    return datetime.strptime(text, "%m/%d/%Y").date().isoformat()


def _split(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    return [part.strip() for part in re.split(r"[,\n]", value) if part.strip()]


def _join(sep: str) -> Callable[[Any], Any]:
    return lambda v: sep.join(str(x) for x in v if not _empty(x)) if isinstance(v, list) else v


TRANSFORMS: dict[str, Callable[[Any], Any]] = {
    "str": lambda v: None if v is None else str(v),
    "int": lambda v: None if _empty(v) else int(float(v)),
    "float": lambda v: None if _empty(v) else float(v),
    "money": _money,
    "lower": lambda v: v.lower() if isinstance(v, str) else v,
    "upper": lambda v: v.upper() if isinstance(v, str) else v,
    "strip": lambda v: v.strip() if isinstance(v, str) else v,
    "bool": lambda v: None if v is None else (v.strip().lower() in ("1", "true", "yes") if isinstance(v, str) else bool(v)),
    "list": lambda v: [] if v is None else (v if isinstance(v, list) else [v]),
    "digits": lambda v: None if v is None else re.sub(r"\D", "", str(v)),
    "iso_datetime": _iso_datetime,
    "empty_to_none": lambda v: None if _empty(v) else v,
    "title": lambda v: v.title() if isinstance(v, str) else v,
    "split": _split,
    "join": _join(", "),
    "join_lines": _join("\n"),
    "address": _address,
    "phone": _phone,
    "date": _date,
}


class Template:
    def __init__(self, spec: Mapping[str, Any], lookup: Callable[[str], Mapping[str, Any]] | None = None) -> None:
        if "fields" not in spec or not isinstance(spec["fields"], Mapping):
            raise MappingError(f"template {spec.get('name', '?')} has no 'fields' mapping")
        self.name = str(spec.get("name", "template"))
        self.version = str(spec.get("version", "1"))
        self.fields: Mapping[str, Any] = spec["fields"]
        self.lookup = lookup

    def apply(self, record: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Map ``record`` (and ``context``, reachable as paths under ``$``) to a new dict."""
        root = dict(record)
        if context:
            root["$"] = dict(context)
        errors: dict[str, list[str]] = {}
        out = self._apply_fields(self.fields, root, root, errors, prefix="")
        if errors:
            fields = "; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items())
            raise MappingError(f"template {self.name} v{self.version}: {fields}", errors)
        return out

    def _apply_fields(self, fields: Mapping[str, Any], record: Any, root: Any, errors: dict[str, list[str]],
                      prefix: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, spec in fields.items():
            try:
                value = self._value(spec, record, root, errors, prefix + name)
            except (TypeError, ValueError) as exc:
                errors.setdefault(prefix + name, []).append(f"cannot convert: {exc}")
                continue
            set_path(out, name, value)
        return out

    def _source(self, path: str, record: Any, root: Any) -> Any:
        if path.startswith("$."):
            return get_path(root.get("$", {}), path[2:])
        return get_path(record, path)

    def _value(self, spec: Any, record: Any, root: Any, errors: dict[str, list[str]], where: str) -> Any:
        if isinstance(spec, str):
            return self._source(spec, record, root)
        if not isinstance(spec, Mapping):
            return spec
        if "each" in spec:
            rows = self._source(spec["each"], record, root) or []
            selected = [row for row in rows if self._where(spec.get("where"), row, root)]
            return [
                self._apply_fields(spec["fields"], row, root, errors, prefix=f"{where}[{i}].")
                for i, row in enumerate(selected)
            ]
        if "value" in spec:
            value = spec["value"]
        elif "concat" in spec:
            parts = [self._value(p, record, root, errors, where) for p in spec["concat"]]
            value = str(spec.get("sep", "")).join(str(p) for p in parts if not _empty(p)) or None
        elif "first_of" in spec:
            value = next((v for v in (self._value(p, record, root, errors, where) for p in spec["first_of"])
                          if not _empty(v)), None)
        else:
            value = self._source(spec.get("path", ""), record, root)
        transforms = spec.get("transform", [])
        for name in [transforms] if isinstance(transforms, str) else transforms:
            if name not in TRANSFORMS:
                raise MappingError(f"template {self.name}: unknown transform {name!r} on {where}; "
                                   f"known: {', '.join(sorted(TRANSFORMS))}")
            value = TRANSFORMS[name](value)
        if "map" in spec and value is not None:
            value = spec["map"].get(value, spec.get("map_default", value))
        if "lookup" in spec and value is not None:
            table = self._lookup_table(spec["lookup"])
            value = table.get(value, table.get("_default", value))
        if _empty(value) and "default" in spec:
            value = spec["default"]
        if _empty(value) and spec.get("required"):
            source = spec.get("path") or spec.get("first_of") or spec.get("concat") or "?"
            errors.setdefault(where, []).append(f"required, but {source} is empty")
        return value

    def _where(self, cond: Any, row: Any, root: Any) -> bool:
        if not cond:
            return True
        value = self._source(cond["path"], row, root)
        if "empty" in cond:
            return _empty(value) == bool(cond["empty"])
        if "equals" in cond:
            return bool(value == cond["equals"])
        if "in" in cond:
            return value in cond["in"]
        return True

    def _lookup_table(self, ref: str) -> Mapping[str, Any]:
        if self.lookup is None:
            raise MappingError(f"template {self.name} uses lookup {ref!r} but no rules are available")
        return self.lookup(ref)
