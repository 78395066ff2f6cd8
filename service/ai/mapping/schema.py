"""Schemas for mapping suggestions: the fields of one side, read from samples or given outright.

A field has a dotted ``name`` (``billing_address.street[0]``, ``items[].sku``, ``custom@size``), an
optional ``type``, ``description`` and sample values. Schemas come from:

- CSV text: the header gives the names, the rows the samples (``fields_from_csv``);
- JSON records: nested objects become dotted paths, lists of objects ``name[]``, short lists of
  scalars indexed ``name[0]`` (``fields_from_records``);
- records already fetched from a connected system: ``fields_from_magento`` pivots Magento's
  ``custom_attributes`` list into ``custom_attributes.<code>`` fields, ``fields_from_heartland``
  turns the ``custom`` object into Heartland's ``custom@<key>`` names;
- a field list (``fields_from_dicts``): ``[{"name": …, "type": …, "description": …, "samples": […]}]``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_SAMPLES = 50
# Longer scalar lists (tags, category ids) are one field, not one per position.
MAX_INDEXED_ITEMS = 4

TYPES = ("string", "integer", "number", "boolean", "datetime", "date", "object", "array")
_TYPE_ALIASES = {
    "str": "string", "text": "string", "varchar": "string", "int": "integer", "long": "integer",
    "float": "number", "double": "number", "decimal": "number", "money": "number", "bool": "boolean",
    "timestamp": "datetime", "date-time": "datetime", "list": "array", "dict": "object",
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")


class SchemaError(ValueError):
    """A schema cannot be read; the message says which input and what to fix."""


@dataclass(frozen=True)
class Field:
    name: str
    type: str | None = None
    description: str = ""
    samples: tuple[str, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.type:
            out["type"] = self.type
        if self.description:
            out["description"] = self.description
        if self.samples:
            out["samples"] = list(self.samples)
        return out


def normalise_type(value: str | None) -> str | None:
    if not value:
        return None
    name = str(value).strip().lower()
    name = _TYPE_ALIASES.get(name, name)
    return name if name in TYPES else "string"


def fields_from_dicts(items: Sequence[Any], *, what: str = "fields") -> list[Field]:
    """Fields given as dicts; raises SchemaError naming the bad entry."""
    if not isinstance(items, Sequence) or isinstance(items, (str, bytes)):
        raise SchemaError(f"{what} must be a list of objects with at least a 'name'")
    out: list[Field] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str) or not item["name"].strip():
            raise SchemaError(f"{what}[{i}] needs a non-empty string 'name'")
        name = item["name"].strip()
        if name in seen:
            raise SchemaError(f"{what}[{i}]: field {name!r} appears twice; give each field once")
        seen.add(name)
        samples = item.get("samples", ())
        if not isinstance(samples, (list, tuple)):
            raise SchemaError(f"{what}[{i}].samples must be a list of values")
        description = item.get("description") or ""
        if not isinstance(description, str):
            raise SchemaError(f"{what}[{i}].description must be a string")
        type_ = item.get("type")
        if type_ is not None and not isinstance(type_, str):
            raise SchemaError(f"{what}[{i}].type must be a string such as 'string' or 'number'")
        out.append(Field(name, normalise_type(type_), description.strip(),
                         tuple(_text(v) for v in samples if v is not None)[:MAX_SAMPLES]))
    return out


def fields_from_records(records: Iterable[Any], *, what: str = "records") -> list[Field]:
    """Fields of JSON records, flattened to dotted paths, with inferred types and sample values."""
    values: dict[str, list[Any]] = {}
    kinds: dict[str, set[str]] = {}
    count = 0
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise SchemaError(f"{what}[{i}] is not a JSON object; give a list of records")
        count += 1
        _flatten(record, "", values, kinds)
    if count == 0:
        raise SchemaError(f"{what} is empty; give at least one sample record")
    out = []
    for name, found in values.items():
        type_ = _infer_type(found, kinds[name])
        samples = tuple(_text(v) for v in found if v is not None and v != "")[:MAX_SAMPLES]
        out.append(Field(name, type_, "", samples))
    return out


def fields_from_csv(text: str, *, what: str = "CSV") -> list[Field]:
    """Fields of a CSV sample: header = names, rows = sample values (types inferred from the text)."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise SchemaError(f"{what} is empty; the first line must be a header of field names") from None
    names = [h.strip() for h in header]
    if not any(names):
        raise SchemaError(f"{what} header has no field names")
    columns: list[list[str]] = [[] for _ in names]
    for row in reader:
        for j, cell in enumerate(row[: len(names)]):
            if cell.strip() != "" and len(columns[j]) < MAX_SAMPLES:
                columns[j].append(cell.strip())
    out = []
    seen: set[str] = set()
    for j, name in enumerate(names):
        if not name or name in seen:
            continue
        seen.add(name)
        parsed = [_parse_scalar(c) for c in columns[j]]
        out.append(Field(name, _infer_type(parsed, {type(v).__name__ for v in parsed}), "",
                         tuple(columns[j])))
    return out


def fields_from_magento(records: Iterable[Mapping[str, Any]]) -> list[Field]:
    """Fields of recent Magento records (orders, customers, products) as the REST API returns them."""
    return fields_from_records([_pivot_custom_attributes(r) for r in records], what="Magento records")


def fields_from_heartland(records: Iterable[Mapping[str, Any]]) -> list[Field]:
    """Fields of Heartland records; custom field values are named ``custom@<key>`` as in Heartland filters."""
    return fields_from_records([_flat_custom(r) for r in records], what="Heartland records")


def fields_from_document(document: Any, *, what: str = "schema") -> list[Field]:
    """A JSON document: a list of records, ``{"records": [...]}``, ``{"fields": [...]}`` or ``{"csv": text}``.

    ``{"system": "magento"|"heartland"}`` next to ``records`` applies that system's field naming.
    """
    if isinstance(document, list):
        return fields_from_records(document, what=what)
    if not isinstance(document, Mapping):
        raise SchemaError(f"{what} must be an object with 'records', 'fields' or 'csv'")
    given = [k for k in ("records", "fields", "csv") if k in document]
    if len(given) != 1:
        raise SchemaError(f"{what} must have exactly one of 'records', 'fields' or 'csv'")
    key = given[0]
    if key == "fields":
        return fields_from_dicts(document["fields"], what=f"{what}.fields")
    if key == "csv":
        if not isinstance(document["csv"], str):
            raise SchemaError(f"{what}.csv must be the CSV text")
        return fields_from_csv(document["csv"], what=f"{what}.csv")
    records = document["records"]
    if not isinstance(records, list):
        raise SchemaError(f"{what}.records must be a list of JSON objects")
    system = document.get("system")
    if system in (None, ""):
        return fields_from_records(records, what=f"{what}.records")
    for i, r in enumerate(records):
        if not isinstance(r, Mapping):
            raise SchemaError(f"{what}.records[{i}] is not a JSON object; give a list of records")
    if system == "magento":
        return fields_from_magento(records)
    if system == "heartland":
        return fields_from_heartland(records)
    raise SchemaError(f"{what}.system must be 'magento' or 'heartland', not {system!r}")


def load_schema_file(path: str | Path) -> list[Field]:
    """A sample file: ``.csv`` (header + rows) or ``.json`` (records or a document as above)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SchemaError(f"cannot read {p}: {exc.strerror}") from None
    if p.suffix.lower() == ".csv":
        return fields_from_csv(text, what=str(p))
    try:
        document = json.loads(text)
    except ValueError as exc:
        if p.suffix.lower() == ".json":
            raise SchemaError(f"{p} is not valid JSON: {exc}") from None
        return fields_from_csv(text, what=str(p))
    return fields_from_document(document, what=str(p))


def _flatten(value: Any, prefix: str, values: dict[str, list[Any]], kinds: dict[str, set[str]]) -> None:
    if isinstance(value, Mapping):
        if not value and prefix:
            _add(prefix, None, "object", values, kinds)
        for key, child in value.items():
            _flatten(child, f"{prefix}.{key}" if prefix else str(key), values, kinds)
        return
    if isinstance(value, list):
        if any(isinstance(v, Mapping) for v in value):
            for child in value:
                if isinstance(child, Mapping):
                    _flatten(child, f"{prefix}[]", values, kinds)
        elif len(value) <= MAX_INDEXED_ITEMS and value:
            for i, child in enumerate(value):
                _flatten(child, f"{prefix}[{i}]", values, kinds)
        else:
            for child in value or [None]:
                _add(f"{prefix}[]", child, "array" if child is None else type(child).__name__, values, kinds)
        return
    _add(prefix, value, type(value).__name__, values, kinds)


def _add(name: str, value: Any, kind: str, values: dict[str, list[Any]], kinds: dict[str, set[str]]) -> None:
    bucket = values.setdefault(name, [])
    if len(bucket) < MAX_SAMPLES * 4:
        bucket.append(value)
    kinds.setdefault(name, set()).add(kind)


def _infer_type(found: Sequence[Any], kinds: set[str]) -> str | None:
    present = [v for v in found if v is not None and v != ""]
    if not present:
        return "object" if "object" in kinds else ("array" if "array" in kinds else None)
    if all(isinstance(v, bool) for v in present):
        return "boolean"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "integer"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "number"
    if all(isinstance(v, str) for v in present):
        if all(_DATE.match(v) for v in present):
            return "date"
        if all(_DATETIME.match(v) for v in present):
            return "datetime"
    return "string"


def _parse_scalar(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    # Leading zeros (postcodes, SKUs) are text, not numbers.
    if re.fullmatch(r"-?(0|[1-9]\d*)", text):
        return int(text)
    if re.fullmatch(r"-?(0|[1-9]\d*)\.\d+", text):
        return float(text)
    return text


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)[:200]
    return str(value)[:200]


def _pivot_custom_attributes(record: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(record)
    attributes = out.pop("custom_attributes", None)
    if isinstance(attributes, list):
        pivoted = {a["attribute_code"]: a.get("value") for a in attributes
                   if isinstance(a, Mapping) and isinstance(a.get("attribute_code"), str)}
        if pivoted:
            out["custom_attributes"] = pivoted
    elif attributes is not None:
        out["custom_attributes"] = attributes
    for key in ("items", "addresses"):
        if isinstance(out.get(key), list):
            out[key] = [_pivot_custom_attributes(x) if isinstance(x, Mapping) else x for x in out[key]]
    return out


def _flat_custom(record: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key == "custom" and isinstance(value, Mapping):
            for ckey, cvalue in value.items():
                out[f"custom@{ckey}"] = cvalue
        elif isinstance(value, list):
            out[key] = [_flat_custom(x) if isinstance(x, Mapping) else x for x in value]
        elif isinstance(value, Mapping):
            out[key] = _flat_custom(value)
        else:
            out[key] = value
    return out
