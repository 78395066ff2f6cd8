"""What is known of one failure, and the text its features are read from.

A failure's message is normalised before anything learns from it: e-mails, ids, quoted values,
SKUs and numbers become placeholders, so "SKU 'AB-1' not found (order #301)" and "SKU 'CD-2' not
found (order #302)" read the same. What varies usefully between records (the shape of the SKU, the
event, the status, the field names of the answer) is kept as separate tokens.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

PATTERNS = (
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "<email>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<id>"),
    (re.compile(r"\bSKUs? '[^']*'"), "SKU <sku>"),
    (re.compile(r"'[^']*'"), "<q>"),
    (re.compile(r'"[^"]*"'), "<q>"),
    (re.compile(r"\b[0-9a-f]{16,}\b", re.I), "<id>"),
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?"), "<time>"),
    (re.compile(r"\d+(\.\d+)?"), "<n>"),
)
SKU_KEYS = ("sku", "public_id", "item_number")
MAX_BODY_CHARS = 600


def normalise(message: str) -> str:
    text = " ".join(str(message).split())
    for pattern, placeholder in PATTERNS:
        text = pattern.sub(placeholder, text)
    return text


@dataclass(frozen=True)
class Failure:
    """One dead letter or review item, as triage sees it."""

    flow: str
    failure_class: str
    message: str
    status: int | None = None
    body: Any = None  # the destination's answer or the error's details
    fields: Mapping[str, Any] = field(default_factory=dict)  # the record: payload and the failure's details
    kind: str = "dead_letter"  # or review

    def skus(self) -> list[str]:
        """The SKUs the failure names: quoted after "SKU" in the message, or under a SKU key."""
        found = re.findall(r"\bSKUs? '([^']+)'", self.message)
        found += [str(v) for v in _values_under(self.body, SKU_KEYS)]
        found += [str(v) for v in _values_under(self.fields, SKU_KEYS)]
        return list(dict.fromkeys(s for s in found if s))

    def destination(self) -> str:
        for name in ("Heartland", "Magento"):
            if name.lower() in self.message.lower():
                return name
        return "the destination"

    def template(self) -> str:
        found = re.search(r"rules/mappings/([\w.]+)\.yaml|template ([\w.]+)", self.message)
        if found is None:
            return f"of the {self.flow} flow"
        return found.group(1) or found.group(2)


def shape(value: str) -> str:
    """AB-12x → AA-99a: the form of a value without the value."""
    return re.sub(r"[a-z]", "a", re.sub(r"[A-Z]", "A", re.sub(r"\d", "9", value)))


def prefix(value: str) -> str:
    found = re.match(r"[A-Za-z]+", value)
    return found.group(0).upper() if found else ""


def feature_text(failure: Failure) -> str:
    """The text the model reads: the failure's context, its normalised message, its answer, its record."""
    parts = [f"flow={failure.flow}", f"class={failure.failure_class}", f"kind={failure.kind}",
             f"status={failure.status if failure.status is not None else 'none'}", "|", normalise(failure.message)]
    if failure.body not in (None, "", {}, []):
        parts += ["| answer:", " ".join(_leaves(failure.body))[:MAX_BODY_CHARS]]
    event = failure.fields.get("event") if isinstance(failure.fields, Mapping) else None
    if event:
        parts.append(f"| event={event}")
    for sku in failure.skus()[:3]:
        parts += [f"| sku_shape={shape(sku)}", f"sku_prefix={prefix(sku)}"]
    return " ".join(parts)


def _leaves(value: Any, path: str = "", depth: int = 0) -> Iterator[str]:
    """``key.sub=normalised value`` for every leaf of an answer: its field names carry the meaning."""
    if depth > 6:
        return
    if isinstance(value, Mapping):
        for k, v in sorted(value.items(), key=lambda kv: str(kv[0])):
            yield from _leaves(v, f"{path}.{k}" if path else str(k), depth + 1)
    elif isinstance(value, list):
        for v in value[:10]:
            yield from _leaves(v, f"{path}[]", depth + 1)
    elif isinstance(value, str):
        yield f"{path}={normalise(value)}" if path else normalise(value)
    elif value is not None:
        yield f"{path}=<n>" if path else "<n>"


def _values_under(value: Any, keys: tuple[str, ...], depth: int = 0) -> Iterator[Any]:
    if depth > 6:
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            if k in keys and isinstance(v, str | int):
                yield v
            else:
                yield from _values_under(v, keys, depth + 1)
    elif isinstance(value, list):
        for v in value[:50]:
            yield from _values_under(v, keys, depth + 1)
