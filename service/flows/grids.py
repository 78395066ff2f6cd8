"""Heartland item grids → Magento configurable products, for the products flow.

A Heartland grid groups the items of one style that differ by the grid's attributes
(``attribute_names``, e.g. Color and Size); each item keeps its values in custom fields. When every
attribute of an item's grid is mapped in rules/grids.yaml, the products flow hands the item here and
it becomes a child of the grid's configurable product. Steps, all under a lock on the grid:

  1. grid      re-read the grid from Heartland; every attribute mapped, the item has a value for each
  2. options   each value's Magento option id: the attribute's options are read, a missing label added
  3. unchanged? the child we would write equals the one we last wrote and the grid's binding lists it
               as linked: ignored, so a replayed event costs no Magento write
  4. siblings  a linked sibling with the same values: the item stays a simple product, with reason
  5. child     the simple product with the option ids, "Not Visible Individually": read by SKU,
               written only when it differs, bound (entity product)
  6. parent    the configurable product (SKU from rules/grids.yaml): the grid's binding, else a lookup
               by SKU (recovers a crash between create and bind); created, or updated when it differs
  7. vary      the parent's configurable options: read, the missing attributes added
  8. link      the parent's children: read, the child linked when missing; the grid bound (entity
               product_grid) with the parent's SKU and its linked children

Every step reads before it writes, so a retry or a replay writes nothing twice. An unmapped
attribute, an item without a value or a sibling with the same values: ``sync`` answers the reason,
and the products flow sends the item as a simple product with it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from service.engine.locks import shared_record_lock
from service.engine.outcome import Outcome
from service.engine.trace import Trace
from service.kernel.errors import DataError, NotFoundInTargetError
from service.store import bindings
from service.store.tables import Binding

if TYPE_CHECKING:
    from service.flows.context import Context

log = logging.getLogger(__name__)

RULES = "grids.yaml"
SCOPE = "all"  # as the products flow writes: global values
SYSTEM = "magento"
PRODUCT_ENTITY = "product"  # the child's binding is the item's products-flow binding
GRID_ENTITY = "product_grid"
NOT_VISIBLE_INDIVIDUALLY = 1
CATALOG_SEARCH = 4
LOCK_PREFIX = "tillbridge:lock:product-grid:"


def binding_key(heartland_id: Any) -> str:
    """A Heartland item's binding key, for grid children and standalone products alike."""
    return f"heartland:{heartland_id}"


@dataclass(frozen=True)
class GridAttribute:
    """One Heartland grid attribute mapped to a Magento select attribute."""

    name: str
    magento: str
    custom_field: str
    values: dict[str, str] = field(default_factory=dict)

    def label_for(self, value: str) -> str:
        """The Magento option label of a Heartland value."""
        folded = {k.casefold(): v for k, v in self.values.items()}
        return str(folded.get(value.casefold(), value)).strip()


@dataclass(frozen=True)
class GridRules:
    attributes: dict[str, GridAttribute]  # by casefolded Heartland name
    parent_sku: str

    def attribute(self, name: str) -> GridAttribute | None:
        return self.attributes.get(name.strip().casefold())


def parse_rules(data: Any) -> GridRules:
    """rules/grids.yaml, checked; a DataError says what to fix."""
    hint = f"fix rules/{RULES} (see the comments at its top)"
    if not isinstance(data, dict):
        raise DataError(f"rules/{RULES} must be a mapping with attributes and parent_sku", hint=hint)
    raw = data.get("attributes") or {}
    if not isinstance(raw, dict):
        raise DataError(f"rules/{RULES}: attributes must map Heartland attribute names to Magento attributes",
                        hint=hint)
    attributes: dict[str, GridAttribute] = {}
    for name, spec in raw.items():
        if not isinstance(spec, dict) or not str(spec.get("magento") or "").strip():
            raise DataError(f"rules/{RULES}: attribute {name!r} names no Magento attribute code (magento:)", hint=hint)
        values = spec.get("values") or {}
        if not isinstance(values, dict):
            raise DataError(f"rules/{RULES}: values of attribute {name!r} must map Heartland values to labels",
                            hint=hint)
        custom_field = str(spec.get("custom_field") or str(name).strip().lower().replace(" ", "_"))
        attributes[str(name).strip().casefold()] = GridAttribute(
            name=str(name).strip(), magento=str(spec["magento"]).strip(), custom_field=custom_field,
            values={str(k): str(v) for k, v in values.items()})
    parent_sku = str(data.get("parent_sku") or "{public_id}")
    return GridRules(attributes=attributes, parent_sku=parent_sku)


def custom_value(record: dict[str, Any], key: str) -> str:
    """An item's custom field value (nested ``custom`` or flat ``custom@key``), as text."""
    value = (record.get("custom") or {}).get(key)
    if value in (None, ""):
        value = record.get(f"custom@{key}")
    return "" if value is None else str(value).strip()


def unmapped_reason(grid: dict[str, Any], rules: GridRules, record: dict[str, Any]) -> str | None:
    """Why this item of ``grid`` cannot be a configurable product's child, or None when it can."""
    label = grid.get("public_id") or grid.get("id")
    names = [str(n) for n in grid.get("attribute_names") or [] if str(n).strip()]
    if not names:
        return (f"item belongs to Heartland grid {label}, which names no attributes: sent as a simple product; "
                "give the grid its attributes (e.g. Color, Size) in Heartland")
    missing = [n for n in names if rules.attribute(n) is None]
    if missing:
        listed = ", ".join(repr(n) for n in missing)
        return (f"item belongs to Heartland grid {label}, whose attribute {listed} is not mapped to a Magento "
                f"attribute: sent as a simple product; map it under attributes: in rules/{RULES} "
                f"(e.g. {missing[0]}: {{magento: <attribute code>}}) to make the grid a configurable product")
    for name in names:
        attribute = rules.attribute(name)
        assert attribute is not None
        if not custom_value(record, attribute.custom_field):
            return (f"item belongs to Heartland grid {label} but has no {attribute.name} value (custom field "
                    f"{attribute.custom_field}): sent as a simple product; set its {attribute.name} in Heartland")
    return None


def parent_product(grid: dict[str, Any], rules: GridRules) -> dict[str, Any]:
    """The configurable product a grid becomes."""
    fields = {"public_id": grid.get("public_id") or "", "id": grid.get("id") or "",
              "description": grid.get("description") or ""}
    try:
        sku = rules.parent_sku.format(**fields).strip()
    except (KeyError, IndexError, ValueError) as exc:
        raise DataError(f"rules/{RULES}: parent_sku {rules.parent_sku!r} cannot be filled from grid "
                        f"{grid.get('id')}: {exc}", hint="use {public_id}, {id} or {description}") from None
    if not sku:
        raise DataError(f"Heartland grid {grid.get('id')} gives an empty configurable SKU from {rules.parent_sku!r}",
                        hint=f"give the grid a public id in Heartland, or change parent_sku in rules/{RULES}")
    return {"sku": sku, "name": str(grid.get("description") or sku).strip(), "type_id": "configurable",
            "attribute_set_id": 4, "status": 1, "visibility": CATALOG_SEARCH,
            "price": float(grid.get("item_price") or 0)}


def child_product(product: dict[str, Any], option_ids: dict[str, str]) -> dict[str, Any]:
    """The item's simple product as a child: option ids for the grid's attributes, shown only through
    its parent."""
    attributes = {a["attribute_code"]: a["value"] for a in product.get("custom_attributes", [])}
    attributes.update(option_ids)
    return {**product, "visibility": NOT_VISIBLE_INDIVIDUALLY,
            "custom_attributes": [{"attribute_code": code, "value": value}
                                  for code, value in sorted(attributes.items())]}


def differs(existing: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether writing ``wanted`` would change the product Magento holds."""
    for key, value in wanted.items():
        if key == "custom_attributes":
            held = {a.get("attribute_code"): a.get("value") for a in existing.get("custom_attributes") or []}
            if any(str(held.get(a["attribute_code"], "")) != str(a["value"]) for a in value):
                return True
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                if abs(float(existing.get(key) or 0) - float(value)) > 1e-9:
                    return True
            except (TypeError, ValueError):
                return True
        elif existing.get(key) != value:
            return True
    return False


def values_of(product: dict[str, Any], codes: list[str]) -> list[str]:
    held = {a.get("attribute_code"): a.get("value") for a in product.get("custom_attributes") or []}
    return [str(held.get(code) or "") for code in codes]


class GridVariants:
    def __init__(self, runtime: Context) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self.magento = runtime.magento

    def rules(self) -> GridRules:
        return parse_rules(self.runtime.rules.load(RULES))

    @contextmanager
    def grid_lock(self, grid_id: Any) -> Iterator[None]:
        """One grid's items one at a time: its parent, options and links are shared."""
        with shared_record_lock(self.runtime.redis, f"{LOCK_PREFIX}{grid_id}", self.runtime.settings,
                                f"another item of Heartland grid {grid_id} is being synced right now"):
            yield

    def sync(self, record: dict[str, Any], product: dict[str, Any], binding: Binding | None, version: str,
             mapping_version: str, trace: Trace) -> Outcome | str:
        """Sync a grid item as a configurable product's child: the outcome, or the reason it stays a
        simple product (noted in the trace)."""
        grid_id = record["grid_id"]
        with self.grid_lock(grid_id):
            with trace.step("grid", f"Heartland grid {grid_id}") as step:
                try:
                    grid = self.runtime.heartland.item_grid(int(grid_id))
                except NotFoundInTargetError:
                    grid = {"id": grid_id, "attribute_names": []}
                rules = self.rules()
                reason = unmapped_reason(grid, rules, record)
                step["message"] = reason or (f"grid {grid.get('public_id')} varies on "
                                             f"{', '.join(grid.get('attribute_names') or [])}")
            if reason is not None:
                return reason
            return self._sync_child(record, product, binding, version, mapping_version, grid, rules, trace)

    def _sync_child(self, record: dict[str, Any], product: dict[str, Any], binding: Binding | None, version: str,
                    mapping_version: str, grid: dict[str, Any], rules: GridRules, trace: Trace) -> Outcome | str:
        attributes = [a for a in (rules.attribute(n) for n in grid["attribute_names"]) if a is not None]
        with trace.step("options", ", ".join(a.magento for a in attributes)) as step:
            resolved = {a.magento: self.option_id(a, a.label_for(custom_value(record, a.custom_field)))
                        for a in attributes}
            option_ids = {code: value for code, (value, _) in resolved.items()}
            attribute_ids = {code: attribute_id for code, (_, attribute_id) in resolved.items()}
            step["message"] = ", ".join(f"{code} {value}" for code, value in option_ids.items())
        child = child_product(product, option_ids)
        sku = str(child["sku"])
        parent = parent_product(grid, rules)
        parent_sku = str(parent["sku"])
        key = f"heartland:{grid['id']}"
        grid_binding = bindings.find(self.store, GRID_ENTITY, key, SYSTEM)
        linked = set((grid_binding.data or {}).get("children") or []) if grid_binding is not None else set()
        last_written = dict((binding.data or {}).get("written") or {}) if binding is not None else {}
        if binding is not None and last_written == child and sku in linked and grid_binding is not None \
                and grid_binding.external_ref == parent_sku:
            bindings.bind(self.store, entity=PRODUCT_ENTITY, key=binding_key(record["id"]), system=SYSTEM,
                          external_id=binding.external_id, external_ref=binding.external_ref, source_version=version)
            return Outcome("ignored", f"no changes to SKU {sku}, a child of configurable {parent_sku}, since the "
                           "last write", {"sku": sku, "parent_sku": parent_sku}, mapping_version)

        writes: list[str] = []
        with trace.step("lookup", f"configurable {parent_sku} and its children") as step:
            existing_parent = self.product_or_none(grid_binding.external_ref if grid_binding and
                                                   grid_binding.external_ref else parent_sku)
            if existing_parent is not None and existing_parent.get("type_id") != "configurable":
                raise DataError(f"Magento product {existing_parent.get('sku')} exists as a {existing_parent.get('type_id')} "
                                f"product, so Heartland grid {grid.get('public_id')} cannot become that configurable "
                                "product", hint=f"rename that Magento product, or change parent_sku in rules/{RULES}")
            children = (self.magento.configurable_children(str(existing_parent["sku"]))
                        if existing_parent is not None else [])
            step["message"] = (f"configurable {parent_sku}: {len(children)} children" if existing_parent is not None
                               else f"configurable {parent_sku}: not there yet")
        codes = list(option_ids)
        twin = next((c for c in children if c.get("sku") != sku and values_of(c, codes) == values_of(child, codes)),
                    None)
        if twin is not None:
            shown = "/".join(custom_value(record, a.custom_field) for a in attributes)
            reason = (f"item has the same {'/'.join(a.name for a in attributes)} ({shown}) as SKU {twin['sku']}, "
                      f"already a child of configurable {parent_sku}: sent as a simple product; give it other "
                      "values in Heartland")
            trace.note("grid", reason)
            return reason

        current_sku = binding.external_ref if binding is not None and binding.external_ref else sku
        with trace.step("deliver", f"child {sku} at /rest/{SCOPE}") as step:
            existing = self.product_or_none(current_sku)
            if existing is None:
                saved = self.magento.create_product(child, store_code=SCOPE)
                writes.append(f"created child {sku}")
            elif current_sku != sku or differs(existing, child):
                saved = self.magento.update_product(current_sku, child, store_code=SCOPE)
                writes.append(f"updated child {sku}")
            else:
                saved = existing
            step["message"] = writes[-1] if writes else f"child {sku} already as wanted"
        bindings.bind(self.store, entity=PRODUCT_ENTITY, key=binding_key(record["id"]), system=SYSTEM,
                      external_id=str(saved.get("id") or ""), external_ref=sku, source_version=version,
                      data={"written": child, "heartland_public_id": record.get("public_id"),
                            "parent_sku": parent_sku})

        with trace.step("parent", f"configurable {parent_sku}") as step:
            if existing_parent is None:
                saved_parent = self.magento.create_product(parent, store_code=SCOPE)
                writes.append(f"created configurable {parent_sku}")
            elif existing_parent.get("sku") != parent_sku or differs(existing_parent, parent):
                saved_parent = self.magento.update_product(str(existing_parent["sku"]), parent, store_code=SCOPE)
                writes.append(f"updated configurable {parent_sku}")
            else:
                saved_parent = existing_parent
            step["message"] = f"configurable {parent_sku} (id {saved_parent.get('id')})"
            bindings.bind(self.store, entity=GRID_ENTITY, key=key, system=SYSTEM,
                          external_id=str(saved_parent.get("id") or ""), external_ref=parent_sku,
                          source_version=str(grid.get("updated_at") or ""),
                          data={"written": parent, "heartland_public_id": grid.get("public_id")})

        with trace.step("vary", f"configurable {parent_sku} on {', '.join(codes)}") as step:
            present = {str(o.get("attribute_id")) for o in self.magento.configurable_options(parent_sku)}
            for position, attribute in enumerate(attributes):
                attribute_id = attribute_ids[attribute.magento]
                if attribute_id in present:
                    continue
                self.magento.add_configurable_option(parent_sku, attribute_id, attribute.name,
                                                     [option_ids[attribute.magento]], position=position)
                writes.append(f"{parent_sku} varies on {attribute.magento}")
            step["message"] = "; ".join(w for w in writes if "varies" in w) or "options already there"

        with trace.step("link", f"{sku} → {parent_sku}") as step:
            skus = {str(c.get("sku")) for c in children}
            if sku not in skus:
                self.magento.link_configurable_child(parent_sku, sku)
                writes.append(f"linked {sku} to {parent_sku}")
                skus.add(sku)
            step["message"] = writes[-1] if writes and writes[-1].startswith("linked") else "already linked"
            bindings.bind(self.store, entity=GRID_ENTITY, key=key, system=SYSTEM,
                          external_id=str(saved_parent.get("id") or ""), external_ref=parent_sku,
                          data={"children": sorted(skus | linked)})

        result = {"sku": sku, "magento_id": saved.get("id"), "parent_sku": parent_sku,
                  "created": existing is None}
        if not writes:
            return Outcome("ignored", f"SKU {sku} is already a child of configurable {parent_sku} in Magento; "
                           "nothing to write", result, mapping_version)
        return Outcome("done", f"Magento product {sku} as a child of configurable {parent_sku}: "
                       + "; ".join(writes), result, mapping_version)

    def option_id(self, attribute: GridAttribute, label: str) -> tuple[str, str]:
        """(option id, attribute id) of ``label`` in the Magento attribute; a missing label is added."""
        try:
            found = self.magento.product_attribute(attribute.magento)
        except NotFoundInTargetError:
            raise DataError(f"Magento has no product attribute {attribute.magento!r} (mapped from Heartland grid "
                            f"attribute {attribute.name})",
                            hint=f"create it in Magento (Stores → Attributes → Product) or fix rules/{RULES}") from None
        if found.get("frontend_input") != "select":
            raise DataError(f"Magento attribute {attribute.magento!r} is a {found.get('frontend_input')} attribute; "
                            "configurable products vary on select attributes only",
                            hint=f"map {attribute.name} to a select attribute in rules/{RULES}")
        attribute_id = str(found["attribute_id"])
        existing = self.labelled(attribute.magento, label)
        if existing is not None:
            return existing, attribute_id
        try:
            return self.magento.add_attribute_option(attribute.magento, label), attribute_id
        except DataError:
            # Another grid added the same label a moment ago: use it.
            existing = self.labelled(attribute.magento, label)
            if existing is None:
                raise
            return existing, attribute_id

    def labelled(self, code: str, label: str) -> str | None:
        wanted = label.casefold()
        return next((str(o["value"]) for o in self.magento.attribute_options(code)
                     if str(o.get("label") or "").strip().casefold() == wanted), None)

    def product_or_none(self, sku: str) -> dict[str, Any] | None:
        try:
            return self.magento.product(sku, store_code=SCOPE)
        except NotFoundInTargetError:
            return None
