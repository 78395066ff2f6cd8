"""Mapping templates as integrators edit them: versions, editor rows, samples, preview and suggestions.

Where a flow's template comes from (``template_spec``): the active version in the store
(service/store/mappings.py) when there is one, else the file in rules/mappings/. Templates
round-trip to those files (``export_template`` / ``import_template``, `tillbridge mappings export|import`)
so they can be reviewed in git.

The mapping page edits a template as a flat list of rows, one per target field::

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
import csv
import difflib
import functools
import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from service.engine.mapper import TRANSFORMS, MappingError, Template, set_path
from service.rules import RuleError, Rules
from service.store import mappings as versions_store
from service.store.db import Store

if TYPE_CHECKING:
    from service.ai.mapping import Feedback
    from service.ai.mapping_schema import Field
    from service.runtime import Runtime

TEMPLATE_DIR = "mappings"
SAMPLE_LIMIT = 5
SUGGESTION_TOP = 3
RULE_KEYS = ("transform", "default", "required", "map", "map_default", "lookup", "sep")
_TARGET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_@]*(\.[A-Za-z_][A-Za-z0-9_@]*)*$")
_INDEX = re.compile(r"\[\d+\]")
_LOOKUP_REF = re.compile(r"^[A-Za-z0-9_.-]+\.ya?ml(#[A-Za-z0-9_.-]+)?$")


class TemplateError(Exception):
    """The template cannot be found or saved; the message says what to do."""


# --- where templates live ---------------------------------------------------------------------------


def rules_name(template: str) -> str:
    return f"{TEMPLATE_DIR}/{template}.yaml"


def template_name(name: str) -> str:
    """``mappings/orders.magento_to_canonical.yaml`` → ``orders.magento_to_canonical``."""
    return Path(name).name.removesuffix(".yaml")


def file_templates(rules: Rules) -> list[str]:
    return sorted(template_name(p.name) for p in rules.path(TEMPLATE_DIR).glob("*.yaml"))


def template_names(runtime: Runtime) -> list[str]:
    return sorted(set(file_templates(runtime.rules)) | set(versions_store.templates(runtime.store)))


def file_spec(rules: Rules, template: str) -> dict[str, Any] | None:
    try:
        spec = rules.load(rules_name(template))
    except RuleError:
        return None
    return copy.deepcopy(spec) if isinstance(spec, dict) else None


def file_version(rules: Rules, template: str) -> int:
    spec = file_spec(rules, template) or {}
    try:
        return int(spec.get("version", 0))
    except (TypeError, ValueError):
        return 0


def template_spec(runtime: Runtime, name: str) -> dict[str, Any]:
    """What a flow maps with: the active stored version of ``name`` (a rules path or a template name), else the file.

    The active versions are kept per process (service/mapping_cache.py): no store read per record."""
    active = runtime.active_mappings.spec(template_name(name))
    if active is not None:
        return active
    loaded = runtime.rules.load(name if name.endswith(".yaml") else rules_name(name))
    return dict(loaded)


def current_spec(runtime: Runtime, template: str) -> tuple[dict[str, Any], str]:
    """The spec in force and where it comes from, as the page says it."""
    active = versions_store.active(runtime.store, template)
    if active is not None:
        return active.spec, f"version {active.version} (active)"
    spec = file_spec(runtime.rules, template)
    if spec is None:
        raise TemplateError(f"no mapping template {template!r}: add rules/{rules_name(template)} or pick one "
                            f"of {', '.join(template_names(runtime)) or 'none'}")
    return spec, f"file rules/{rules_name(template)} (version {spec.get('version', '?')})"


def lookup_for(rules: Rules) -> Callable[[str], dict[str, Any]]:
    """The ``lookup: file.yaml#key`` tables of rules/, as the flows resolve them."""

    def lookup(ref: str) -> dict[str, Any]:
        file, _, key = ref.partition("#")
        data = rules.load(file)
        return dict(data.get(key, {}) if key else data)

    return lookup


# --- round trip with rules/mappings/*.yaml -----------------------------------------------------------


def _inline(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, allow_unicode=True, width=10_000).strip().removesuffix("...").strip()


def _field_lines(fields: Mapping[str, Any], indent: str) -> list[str]:
    lines = []
    for name, value in fields.items():
        key = _inline(name)
        if isinstance(value, Mapping) and "each" in value:
            lines.append(f"{indent}{key}:")
            for k, v in value.items():
                if k == "fields":
                    lines.append(f"{indent}  fields:")
                    lines.extend(_field_lines(v or {}, indent + "    "))
                else:
                    lines.append(f"{indent}  {k}: {_inline(v)}")
        else:
            lines.append(f"{indent}{key}: {_inline(value)}")
    return lines


def spec_yaml(spec: Mapping[str, Any]) -> str:
    """The template as the files in rules/mappings/ are written: one target field a line, easy to diff."""
    lines = []
    for key, value in spec.items():
        if key == "fields" and isinstance(value, Mapping):
            lines.append("fields:")
            lines.extend(_field_lines(value, "  "))
        else:
            lines.append(f"{_inline(key)}: {_inline(value)}")
    return "\n".join(lines) + "\n"


def _header_comments(path: Path) -> str:
    if not path.exists():
        return ""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines) + "\n" if lines else ""


def export_template(runtime: Runtime, template: str, version: int | None = None,
                    directory: Path | None = None) -> Path:
    """Write a stored version (default: the active one) to rules/mappings/<template>.yaml, keeping its header comments."""
    if version is not None:
        chosen = versions_store.get(runtime.store, template, version)
    else:
        found = versions_store.active(runtime.store, template)
        if found is None:
            raise TemplateError(f"template {template} has no active version to export: pass --version N "
                                "(see `tillbridge mappings versions`)")
        chosen = found
    folder = directory or runtime.rules.path(TEMPLATE_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{template}.yaml"
    path.write_text(_header_comments(path) + spec_yaml(chosen.spec), encoding="utf-8")
    return path


def import_template(runtime: Runtime, template: str, *, by: str, activate: bool = False,
                    path: Path | None = None) -> tuple[versions_store.Version, bool]:
    """Store rules/mappings/<template>.yaml as a version (unless the latest says the same); returns (version, saved).

    The file's own version number is kept when it is free, so ``name@N`` means one spec everywhere.
    """
    source = path or runtime.rules.path(rules_name(template))
    try:
        spec = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"cannot read {source}: {exc}") from None
    if not isinstance(spec, dict):
        raise TemplateError(f"{source} is not a mapping template (a YAML object with name, version and fields)")
    Template(spec)  # refuses a spec without fields, with the template's name in the message
    try:
        floor = max(int(spec.get("version", 1)) - 1, 0)
    except (TypeError, ValueError):
        floor = 0
    version, saved = versions_store.save_if_changed(runtime.store, template, spec, created_by=by,
                                                    note=f"imported from {source.name}", floor=floor)
    if activate and not version.active:
        version = versions_store.activate(runtime.store, template, version.version, by=by)
    return version, saved


def diff(template: str, old: versions_store.Version | None, new: versions_store.Version,
         old_spec: Mapping[str, Any] | None = None) -> str:
    """A unified diff of two versions' YAML (``old`` None: the file, given as ``old_spec``)."""
    before = spec_yaml(old.spec if old else old_spec or {}).splitlines()
    after = spec_yaml(new.spec).splitlines()
    old_label = f"{template}@{old.version}" if old else f"rules/{rules_name(template)}"
    return "\n".join(difflib.unified_diff(before, after, old_label, f"{template}@{new.version}", lineterm=""))


# --- editor rows --------------------------------------------------------------------------------------


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


# --- preview --------------------------------------------------------------------------------------------


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

    from service.canonical.order import OrderSchema

    try:
        OrderSchema().load(payload)
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


# Checks a template's output must pass beyond the template itself (what the flow does next).
CHECKS: dict[str, Callable[[dict[str, Any]], dict[str, list[str]]]] = {
    "orders.magento_to_canonical": _check_canonical_order,
}


# --- samples ----------------------------------------------------------------------------------------------


@dataclass
class Samples:
    """Real records to preview with, the context the flow would pass with each, and where they came from."""

    records: list[dict[str, Any]]
    contexts: list[dict[str, Any]]
    labels: list[str]
    origin: str
    system: str = ""  # magento | heartland | "" (applies that system's field naming)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _store_code(runtime: Runtime) -> str:
    return str(runtime.settings.get("TILLBRIDGE_MAGENTO_STORE_CODE") or "default")


def _magento_orders(runtime: Runtime, limit: int) -> Samples:
    found = runtime.magento.search_orders(sort=[("entity_id", "DESC")], page_size=limit)
    records = [dict(r) for r in found.get("items") or []]
    store_code = _store_code(runtime)
    return Samples(records, [{"store_code": store_code} for _ in records],
                   [f"Magento order #{r.get('increment_id', r.get('entity_id'))}" for r in records],
                   "recent Magento orders", "magento")


def _canonical_orders(runtime: Runtime, limit: int) -> Samples:
    """Recent Magento orders as canonical orders, with the Heartland ids the flow would look up (read only)."""
    from service.engine.errors import SyncError
    from service.flows.orders import OrdersFlow, order_ref

    magento = _magento_orders(runtime, limit)
    flow = OrdersFlow(runtime)
    heartland = runtime.heartland
    out = Samples([], [], [], "recent Magento orders, normalised, with Heartland ids looked up", "")
    for raw, label in zip(magento.records, magento.labels, strict=True):
        store_code = _store_code(runtime)
        try:
            order, _ = flow.normalize(raw, store_code)
            items = heartland.find_items_by_public_ids(sorted({line.sku for line in order.lines}))
            location_id, station_id = flow.selling_context()
            customers = heartland.find_customers_by_email(order.email) if order.email else []
        except SyncError as exc:
            out.notes.append(f"{label}: {exc}")
            continue
        lines = [{"item_id": (items.get(line.sku) or {}).get("id"), "qty": line.qty,
                  "net_unit_price": line.net_unit_price} for line in order.lines]
        # A customer or address that does not exist yet is created at sync time; the preview shows that.
        customer_id: Any = int(min(customers, key=lambda c: int(c["id"]))["id"]) if customers else "(created at sync)"
        out.records.append(asdict(order))
        out.contexts.append({"customer_id": customer_id, "station_id": station_id, "location_id": location_id,
                             "billing_address_id": "(looked up at sync)", "shipping_address_id": "(looked up at sync)",
                             "ref": order_ref(store_code, order.number), "lines": lines})
        out.labels.append(label)
    return out


SAMPLE_SOURCES: dict[str, Callable[[Runtime, int], Samples]] = {
    "orders.magento_to_canonical": _magento_orders,
    "orders.canonical_to_heartland": _canonical_orders,
}


def live_samples(runtime: Runtime, template: str, limit: int = SAMPLE_LIMIT) -> Samples:
    """Recent real records for ``template``'s source side, fetched now from the connected system."""
    fetch = SAMPLE_SOURCES.get(template)
    if fetch is None:
        return Samples([], [], [], "none", notes=[f"no live source is known for {template}: upload sample "
                                                    "records (JSON or CSV)"])
    return fetch(runtime, limit)


def uploaded_samples(text: str, filename: str = "") -> Samples:
    """Sample records from an upload: JSON (a record, a list of records, or {"records": [...]}) or CSV."""
    stripped = text.strip()
    if not stripped:
        raise TemplateError("the sample file is empty: upload JSON records or a CSV with a header row")
    records: list[dict[str, Any]]
    if filename.lower().endswith(".csv") or stripped[0] not in "[{":
        rows = list(csv.DictReader(io.StringIO(stripped)))
        records = []
        for row in rows:
            record: dict[str, Any] = {}
            for key, value in row.items():
                if key:
                    set_path(record, key.strip(), value)
            records.append(record)
    else:
        try:
            data = json.loads(stripped)
        except ValueError as exc:
            raise TemplateError(f"the sample file is not valid JSON ({exc}): upload JSON records or a CSV") from None
        if isinstance(data, Mapping) and isinstance(data.get("records"), list):
            data = data["records"]
        elif isinstance(data, Mapping) and isinstance(data.get("items"), list):
            data = data["items"]  # a Magento search result
        records = [dict(data)] if isinstance(data, Mapping) else list(data) if isinstance(data, list) else []
        if not records or not all(isinstance(r, Mapping) for r in records):
            raise TemplateError("the JSON must be a record or a list of records (objects)")
    records = [dict(r) for r in records[:SAMPLE_LIMIT * 4]]
    context = [dict(r.pop("$", {}) or {}) for r in records]
    return Samples(records, context, [f"uploaded record {i + 1}" for i in range(len(records))],
                   f"uploaded {filename or 'samples'}")


# --- fields and suggestions ------------------------------------------------------------------------------


def source_fields(samples: Samples, rows: Sequence[Mapping[str, Any]]) -> list[Field]:
    """The source side: every path in the sample records and their context, plus paths the template already uses."""
    from service.ai.mapping_schema import (
        Field,
        fields_from_heartland,
        fields_from_magento,
        fields_from_records,
    )

    found: list[Field] = []
    if samples.records:
        read = {"magento": fields_from_magento, "heartland": fields_from_heartland}.get(samples.system,
                                                                                          fields_from_records)
        found.extend(read(samples.records))
    contexts = [c for c in samples.contexts if c]
    if contexts:
        found.extend(Field("$." + f.name, f.type, f.description, f.samples) for f in fields_from_records(contexts))
    names = {f.name for f in found}
    for row in rows:
        for name in [row.get("source"), *(row.get("sources") or [])]:
            if name and name not in names:
                names.add(str(name))
                found.append(Field(str(name), None, "used by the template"))
    return found


def target_fields(template: str, rows: Sequence[Mapping[str, Any]], extra: Sequence[str] = (),
                  payloads: Sequence[Mapping[str, Any]] = ()) -> list[Field]:
    """The target side: the template's fields and any the integrator added, with values from the preview."""
    from service.ai.mapping_schema import Field, fields_from_records

    samples = {f.name: f for f in fields_from_records([p for p in payloads if p])} if payloads else {}
    out: list[Field] = []
    seen: set[str] = set()
    for name in [str(r["target"]) for r in rows if r.get("kind") != "each"] + list(extra):
        if name in seen:
            continue
        seen.add(name)
        found = samples.get(name)
        out.append(Field(name, found.type if found else None, "", found.samples if found else ()))
    return out


class StoreFeedback:
    """The suggestion engine's FeedbackStore, kept in the store's mapping_decisions table."""

    def __init__(self, store: Store, decided_by: str = "") -> None:
        self.store = store
        self.decided_by = decided_by

    def add(self, feedback: Feedback) -> None:
        versions_store.add_decision(self.store, feedback.to_json(), decided_by=self.decided_by)

    def all(self) -> list[Feedback]:
        from service.ai.mapping import Feedback

        return [Feedback.from_json(r) for r in versions_store.decision_records(self.store)]

    def decisions(self) -> dict[tuple[str, str], bool]:
        out: dict[tuple[str, str], bool] = {}
        for r in versions_store.decision_records(self.store):
            out[(str(r["source"]["name"]), str(r["target"]["name"]))] = bool(r["accepted"])
        return out


def usable_source(source: str, target: str, blocks: Mapping[str, str]) -> str | None:
    """``source`` as ``target`` can take it, or None: a repeated block's field comes from a field of its
    list (or the context); any other field takes the first element of a list (``a[].b`` → ``a[0].b``)."""
    group, _, child = target.partition("[].")
    if child:
        each = blocks.get(group)
        if each is None:
            return None
        if source.startswith(f"{each}[].") or (source.startswith("$.") and "[]" not in source):
            return source
        return None
    return source.replace("[]", "[0]")


def suggestions_by_target(store: Store, sources: Sequence[Field], targets: Sequence[Field],
                          rows: Sequence[Mapping[str, Any]] = (), top: int = SUGGESTION_TOP
                          ) -> dict[str, list[dict[str, Any]]]:
    """For each target field, the source fields it most likely comes from, best first, with confidence.

    The best one is the engine's one-to-one proposal when it has one; integrators' earlier decisions
    apply. Only sources the target can take are offered (see ``usable_source``).
    """
    from service.ai.mapping import suggest

    if not sources or not targets:
        return {}
    blocks = {str(r["target"]): str(r.get("each")) for r in rows if r.get("kind") == "each"}
    result = suggest(list(sources), list(targets), top=1, decisions=StoreFeedback(store))
    proposed = {c.target: (s, c.score) for s, c in result.assignment.items() if c is not None}
    out: dict[str, list[dict[str, Any]]] = {}
    for j, target in enumerate(result.targets):
        column = result.scores[:, j]
        ranked = [(result.sources[i], float(column[i])) for i in
                  sorted(range(len(column)), key=lambda i: -float(column[i])) if float(column[i]) >= 0.05]
        if target in proposed:
            ranked.insert(0, proposed[target])
        options: list[dict[str, Any]] = []
        for n, (source, score) in enumerate(ranked):
            usable = usable_source(source, target, blocks)
            if usable is None or any(o["source"] == usable for o in options):
                continue
            option: dict[str, Any] = {"source": usable, "score": round(score, 4)}
            if n == 0 and target in proposed:
                option["proposed"] = True
            options.append(option)
            if len(options) == top:
                break
        out[target] = options
    return out


def record_decision(store: Store, source: Field, target: Field, accepted: bool, *, by: str) -> None:
    """Feed an integrator's accept/reject to the suggestion engine (kept in the store)."""
    from service.ai.mapping import record_feedback

    record_feedback(source, target, accepted, store=StoreFeedback(store, by))
