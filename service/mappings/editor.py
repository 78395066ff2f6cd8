"""Mapping templates as integrators edit them on the mapping page: a flat list of rows, one per
target field, and the preview of a template on a sample record.

    {"target": "billing.city", "kind": "path", "source": "billing_address.city",
     "transform": ["strip"], "default": "", "required": false}

``kind`` is ``path`` (one source field), ``value`` (a constant), ``first_of`` / ``concat`` (several
``sources``), ``each`` (a repeated block: ``lines`` over ``items``; its fields are rows named
``lines[].sku`` whose sources are ``items[].sku``) or ``raw`` (a rule the editor shows but does not
change). Source names are those of the suggestion engine's schemas: ``items[].sku``, ``$.store_code``
for values the flow passes as context.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from service.rules.loader import RuleError, Rules
from service.rules.templates import TRANSFORMS, MappingError, Template

if TYPE_CHECKING:
    pass
from service.flows.templates import lookup_for

RULE_KEYS = ("transform", "default", "required", "map", "map_default", "lookup", "sep")
_TARGET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_@]*(\.[A-Za-z_][A-Za-z0-9_@]*)*$")
_INDEX = re.compile(r"\[\d+\]")
_LOOKUP_REF = re.compile(r"^[A-Za-z0-9_.-]+\.ya?ml(#[A-Za-z0-9_.-]+)?$")


def rows_from_spec(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for target, value in (spec.get("fields") or {}).items():
        if isinstance(value, Mapping) and "each" in value:
            each = str(value["each"])
            rows.append({"target": target, "kind": "each", "each": each, "where": value.get("where")})
            for child, child_value in (value.get("fields") or {}).items():
                rows.append(_row(f"{target}[].{child}", child_value, f"{each}[]."))
        else:
            rows.append(_row(str(target), value, ""))
    return rows


def _row(target: str, value: Any, prefix: str) -> dict[str, Any]:
    def source(path: Any) -> str:
        text = str(path)
        return text if text.startswith("$.") or not prefix else prefix + text

    if isinstance(value, str):
        return {"target": target, "kind": "path", "source": source(value)}
    if not isinstance(value, Mapping):
        return {"target": target, "kind": "value", "value": value}
    row: dict[str, Any] = {"target": target}
    if "value" in value:
        row.update(kind="value", value=value["value"])
    elif "first_of" in value or "concat" in value:
        kind = "first_of" if "first_of" in value else "concat"
        parts = value[kind]
        if not all(isinstance(p, str) for p in parts):
            return {"target": target, "kind": "raw", "raw": dict(value)}
        row.update(kind=kind, sources=[source(p) for p in parts])
    elif "path" in value:
        row.update(kind="path", source=source(value["path"]))
    else:
        return {"target": target, "kind": "raw", "raw": dict(value)}
    for key in RULE_KEYS:
        if key in value:
            row[key] = copy.deepcopy(value[key])
    if isinstance(row.get("transform"), str):
        row["transform"] = [row["transform"]]
    return row


def spec_from_rows(template: str, rows: Sequence[Mapping[str, Any]], base: Mapping[str, Any],
                   rules: Rules) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The template the rows describe, and what is wrong with them (per target field)."""
    errors: dict[str, list[str]] = {}
    fields: dict[str, Any] = {}
    groups: dict[str, tuple[str, dict[str, Any]]] = {}
    blocks: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()

    def fail(target: str, message: str) -> None:
        errors.setdefault(target or "_rows", []).append(message)

    for row in rows:
        if row.get("kind") == "each":
            target = str(row.get("target", ""))
            each = str(row.get("each") or "").strip()
            if not each:
                fail(target, "choose the list this block repeats over (e.g. items)")
            block: dict[str, Any] = {"each": each}
            if row.get("where"):
                block["where"] = row["where"]
            block["fields"] = {}
            groups[target] = (each, block["fields"])
            blocks[target] = block
    for row in rows:
        if row.get("kind") == "each":
            target = str(row.get("target", ""))
            if target in seen:
                fail(target, "mapped twice: remove one of the rows")
            seen.add(target)
            fields[target] = blocks[target]
            continue
        target = str(row.get("target", "")).strip()
        group, _, child = target.partition("[].")
        name = child if child else target
        if not _TARGET_NAME.match(name):
            fail(target, "a target field is a dotted name of letters, digits and _ (e.g. billing.city)")
            continue
        if target in seen:
            fail(target, "mapped twice: remove one of the rows")
            continue
        seen.add(target)
        prefix = ""
        into = fields
        if child:
            if group not in groups:
                fail(target, f"there is no repeated block {group!r} for this field")
                continue
            prefix = groups[group][0] + "[]."
            into = groups[group][1]
        value = _rule(row, prefix, rules, functools.partial(fail, target))
        if value is not None:
            into[name] = value
    for target, (_each, children) in groups.items():
        if not children:
            fail(target, "the repeated block has no fields: map at least one, or remove the block")
    spec = {k: copy.deepcopy(v) for k, v in base.items() if k != "fields"}
    spec["name"] = template
    spec["fields"] = fields
    return spec, errors


def _lookups(value: Any) -> list[str]:
    if isinstance(value, Mapping):
        found = [str(value["lookup"])] if "lookup" in value else []
        return found + [ref for v in value.values() for ref in _lookups(v)]
    if isinstance(value, list):
        return [ref for v in value for ref in _lookups(v)]
    return []


def _rule(row: Mapping[str, Any], prefix: str, rules: Rules, fail: Callable[[str], None]) -> Any:
    kind = row.get("kind", "path")

    def path(source: Any, what: str) -> str | None:
        text = str(source or "").strip()
        if not text:
            fail(f"{what} is empty: drag a source field onto it, or remove the field")
            return None
        if prefix and text.startswith(prefix):
            return text[len(prefix):]
        if text.startswith("$.") and "[]" not in text:
            return text
        if prefix:
            fail(f"{text} is not in {prefix[:-1]} (the list this block repeats over): pick a field under it")
            return None
        if "[]" in text:
            fail(f"{text} is inside a list: map it in a repeated block, or pick one element ([0])")
            return None
        return text

    if kind == "raw":
        raw = copy.deepcopy(row.get("raw"))
        bad = [ref for ref in _lookups(raw) if not _LOOKUP_REF.match(ref) or ".." in ref]
        if bad:
            fail(f"lookup {bad[0]!r} is not a rules file name: use rules-file.yaml#key")
            return None
        return raw
    spec: dict[str, Any] = {}
    if kind == "value":
        spec["value"] = row.get("value")
    elif kind in ("first_of", "concat"):
        sources = [path(s, "a source") for s in row.get("sources") or []]
        if not sources:
            fail("no source fields: drag one onto it, or remove the field")
        if any(s is None for s in sources):
            return None
        spec[kind] = sources
    elif kind == "path":
        source = path(row.get("source"), "the source")
        if source is None:
            return None
        spec["path"] = source
    else:
        fail(f"unknown kind {kind!r}: use path, value, first_of, concat or each")
        return None
    transforms = row.get("transform") or []
    if isinstance(transforms, str):
        transforms = [transforms]
    unknown = [t for t in transforms if t not in TRANSFORMS]
    if unknown:
        fail(f"unknown transform {', '.join(unknown)}: pick one of {', '.join(sorted(TRANSFORMS))}")
    if transforms:
        spec["transform"] = transforms[0] if len(transforms) == 1 else list(transforms)
    if "map" in row and row["map"] not in (None, {}):
        if not isinstance(row["map"], Mapping):
            fail("the value map must be pairs of 'from: to'")
        else:
            spec["map"] = dict(row["map"])
            if "map_default" in row:
                spec["map_default"] = row["map_default"]
    if row.get("lookup"):
        ref = str(row["lookup"])
        table: Any = {}
        # Only a rules file by name: a path could read files outside rules/ into the preview.
        if _LOOKUP_REF.match(ref) and ".." not in ref:
            try:
                table = lookup_for(rules)(ref)
            except (RuleError, AttributeError):
                table = {}
        if not table:
            fail(f"lookup {ref!r} finds no table: use rules-file.yaml#key, e.g. payment_methods.yaml#magento_to_heartland")
        spec["lookup"] = ref
    if "default" in row:
        spec["default"] = row["default"]
    if row.get("required"):
        spec["required"] = True
    if kind == "concat" and row.get("sep") is not None:
        spec["sep"] = row["sep"]
    if set(spec) == {"path"}:
        return spec["path"]
    return spec


def _lenient(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _lenient(v) for k, v in value.items() if k != "required"}
    if isinstance(value, list):
        return [_lenient(v) for v in value]
    return value


def display_field(name: str) -> str:
    """``lines[2].sku`` → ``lines[].sku``: the row the error belongs to."""
    return _INDEX.sub("[]", name)


def preview(rules: Rules, spec: Mapping[str, Any], record: Mapping[str, Any],
            context: Mapping[str, Any] | None = None,
            check: Callable[[dict[str, Any]], dict[str, list[str]]] | None = None) -> dict[str, Any]:
    """The payload ``spec`` makes of ``record``, and the errors per target field (as the flow would meet them)."""
    lookup = lookup_for(rules)
    errors: dict[str, list[str]] = {}
    payload: dict[str, Any] | None = None
    try:
        payload = Template(spec, lookup).apply(record, context)
    except MappingError as exc:
        for name, messages in exc.field_errors.items():
            errors.setdefault(display_field(name), []).extend(messages)
        if not exc.field_errors:
            errors.setdefault("_template", []).append(str(exc))
        try:
            payload = Template(_lenient(spec), lookup).apply(record, context)
        except (MappingError, RuleError):
            payload = None
    except RuleError as exc:
        errors.setdefault("_template", []).append(str(exc))
    if payload is not None and check is not None and not errors:
        for name, messages in check(payload).items():
            errors.setdefault(display_field(name), []).extend(messages)
    return {"payload": payload, "errors": errors}


def _check_canonical_order(payload: dict[str, Any]) -> dict[str, list[str]]:
    from marshmallow import ValidationError

    from service.canonical.order import ORDER_SCHEMA

    try:
        ORDER_SCHEMA.load(payload)
    except ValidationError as exc:
        return _flatten_messages(exc.messages)
    return {}


def _flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = prefix if key == "_schema" else (f"{prefix}[{key}]" if isinstance(key, int)
                                                     else f"{prefix}.{key}" if prefix else str(key))
            for k, v in _flatten_messages(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "_template"] = list(messages)
    elif isinstance(messages, list):
        for value in messages:
            for k, v in _flatten_messages(value, prefix).items():
                out.setdefault(k, []).extend(v)
    else:
        out[prefix or "_template"] = [str(messages)]
    return out


CHECKS: dict[str, Callable[[dict[str, Any]], dict[str, list[str]]]] = {
    "orders.magento_to_canonical": _check_canonical_order,
}
