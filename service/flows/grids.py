"""Heartland item grids → Magento configurable products, for the products flow.

A Heartland grid groups the items of one style that differ by the grid's attributes
(``attribute_names``, e.g. Color and Size); each item keeps its values in custom fields. When every
attribute of an item's grid is mapped in rules/grids.yaml, the item becomes a child of the grid's
configurable product. :meth:`GridVariants.steps` are the products flow's steps for that part (its
list: ``tillbridge flows show products``); for an item that is no grid's child each of them says so
and goes on. From ``grid`` to the end of the run the grid's lock is held:

  grid              re-read the grid from Heartland; every attribute mapped, the item has a value
                    for each; else the reason it stays a simple product
  options           each value's Magento option id: the attribute's options are read, a missing
                    label added
  same child?       the child we would write equals the one we last wrote and the grid's binding
                    lists it as linked: ignored, so a replayed event costs no Magento write
  siblings          the configurable product and its children; a linked sibling with the same
                    values: the item stays a simple product, with reason
  child             the simple product with the option ids, "Not Visible Individually": read by SKU,
                    written only when it differs, bound (entity product)
  parent            the configurable product (SKU from rules/grids.yaml): the grid's binding, else a
                    lookup by SKU (recovers a crash between create and bind); created, or updated
                    when it differs; bound (entity product_grid)
  vary              the parent's configurable options: read, the missing attributes added
  link              the parent's children: read, the child linked when missing; the grid's binding
                    lists its linked children; the run ends here for a child

Every step reads before it writes, so a replay writes nothing twice; a run that failed after some of
them resumes after the last one that completed (service/engine/steps.py). An unmapped attribute, an
item without a value or a sibling with the same values: the products flow sends the item as a
simple product, with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from service.engine.locks import shared_record_lock
from service.engine.outcome import Outcome
from service.engine.steps import Run, Step
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

    def steps(self) -> tuple[Step, ...]:
        """The products flow's steps for a grid's child. They read what the products flow's earlier
        steps wrote: the Heartland item (``record``, ``version``), the simple product the item maps
        to (``product``, ``mapping_version``), its binding and the run's ``held`` locks."""
        # Each effect step also writes ``as_child``: a run resuming after it then takes the path the
        # run that completed it took, even if the grid changed in between.
        return (
            Step("grid", self.step_grid, "the item's Heartland grid: every attribute mapped in rules/grids.yaml?",
                 reads=("record", "held"), writes=("as_child", "grid", "grid_rules", "grid_note")),
            Step("options", self.step_options, "each grid value's Magento option id; a missing label added",
                 reads=("as_child", "record", "grid", "grid_rules"), writes=("as_child", "option_ids", "attribute_ids"),
                 effect="magento", idempotency="the attribute's options are read before a label is added"),
            Step("same child?", self.step_child_unchanged, "the child as last written and linked: ignored",
                 reads=("as_child", "record", "product", "binding", "version", "mapping_version", "grid",
                        "grid_rules", "option_ids"),
                 binding="product heartland:<item id> → magento (its version)", decides=True),
            Step("siblings", self.step_siblings, "the configurable product and its children; a sibling with "
                 "the same values keeps the item simple", reads=("as_child", "record", "product", "grid", "grid_rules",
                                                                 "option_ids"),
                 writes=("as_child", "grid_note", "existing_parent", "children")),
            Step("child", self.step_child, 'the child simple product, "Not Visible Individually"',
                 reads=("as_child", "record", "product", "binding", "version", "grid", "grid_rules", "option_ids"),
                 writes=("as_child", "child_id", "child_created", "child_write"), effect="magento",
                 idempotency="read by SKU first, written only when it differs",
                 binding="product heartland:<item id> → magento"),
            Step("parent", self.step_parent, "the grid's configurable product",
                 reads=("as_child", "grid", "grid_rules", "existing_parent"), writes=("as_child", "parent_write"),
                 effect="magento", idempotency="the grid's binding, else a lookup by SKU; updated only when it differs",
                 binding="product_grid heartland:<grid id> → magento"),
            Step("vary", self.step_vary, "the configurable product's options: the missing attributes added",
                 reads=("as_child", "grid", "grid_rules", "option_ids", "attribute_ids"),
                 writes=("as_child", "vary_writes"), effect="magento",
                 idempotency="the configurable options are read before one is added"),
            Step("link", self.step_link, "the child linked to the configurable product; the run ends for a child",
                 reads=("as_child", "record", "product", "grid", "grid_rules", "option_ids", "children", "child_id",
                        "child_created", "child_write", "parent_write", "vary_writes", "mapping_version"),
                 effect="magento", idempotency="the configurable's children are read before the child is linked",
                 binding="product_grid heartland:<grid id> → magento (its children)"),
        )

    # -- the steps ---------------------------------------------------------------------------------
    def step_grid(self, run: Run) -> None:
        record = run["record"]
        run["as_child"], run["grid"], run["grid_rules"], run["grid_note"] = False, None, None, ""
        grid_id = record.get("grid_id")
        if not grid_id:
            run.say("not in a Heartland grid: a simple product")
            return
        held: ExitStack = run["held"]
        held.enter_context(self.grid_lock(grid_id))  # released when the run ends
        try:
            grid = self.runtime.heartland.item_grid(int(grid_id))
        except NotFoundInTargetError:
            grid = {"id": grid_id, "attribute_names": []}
        rules = self.rules()
        reason = unmapped_reason(grid, rules, record)
        if reason is not None:
            run["grid_note"] = reason
            run.say(reason)
            return
        run["as_child"], run["grid"], run["grid_rules"] = True, grid, rules
        run.say(f"grid {grid.get('public_id')} varies on {', '.join(grid.get('attribute_names') or [])}")

    def step_options(self, run: Run) -> None:
        run["option_ids"], run["attribute_ids"] = {}, {}
        if not run["as_child"]:
            run.say("not a grid's child")
            return
        record = run["record"]
        attributes = self.attributes(run)
        resolved = {a.magento: self.option_id(a, a.label_for(custom_value(record, a.custom_field)))
                    for a in attributes}
        run["option_ids"] = {code: value for code, (value, _) in resolved.items()}
        run["attribute_ids"] = {code: attribute_id for code, (_, attribute_id) in resolved.items()}
        run.say(", ".join(f"{code} {value}" for code, value in run["option_ids"].items()))

    def step_child_unchanged(self, run: Run) -> Outcome | None:
        if not run["as_child"]:
            run.say("not a grid's child")
            return None
        binding: Binding | None = run["binding"]
        child, parent_sku = self.child(run), self.parent_sku(run)
        grid_binding = self.grid_binding(run)
        linked = set((grid_binding.data or {}).get("children") or []) if grid_binding is not None else set()
        last_written = dict((binding.data or {}).get("written") or {}) if binding is not None else {}
        sku = str(child["sku"])
        if binding is not None and last_written == child and sku in linked and grid_binding is not None \
                and grid_binding.external_ref == parent_sku:
            bindings.bind(self.store, entity=PRODUCT_ENTITY, key=binding_key(run["record"]["id"]), system=SYSTEM,
                          external_id=binding.external_id, external_ref=binding.external_ref,
                          source_version=run["version"])
            return Outcome("ignored", f"no changes to SKU {sku}, a child of configurable {parent_sku}, since the "
                           "last write", {"sku": sku, "parent_sku": parent_sku}, run["mapping_version"])
        run.say(f"child {sku} differs from the last write, or is not linked yet")
        return None

    def step_siblings(self, run: Run) -> None:
        run["existing_parent"], run["children"] = None, []
        if not run["as_child"]:
            run.say("not a grid's child")
            return
        grid, record = run["grid"], run["record"]
        child, parent_sku = self.child(run), self.parent_sku(run)
        grid_binding = self.grid_binding(run)
        existing_parent = self.product_or_none(grid_binding.external_ref if grid_binding and grid_binding.external_ref
                                               else parent_sku)
        if existing_parent is not None and existing_parent.get("type_id") != "configurable":
            raise DataError(f"Magento product {existing_parent.get('sku')} exists as a {existing_parent.get('type_id')} "
                            f"product, so Heartland grid {grid.get('public_id')} cannot become that configurable "
                            "product", hint=f"rename that Magento product, or change parent_sku in rules/{RULES}")
        children = (self.magento.configurable_children(str(existing_parent["sku"]))
                    if existing_parent is not None else [])
        run["existing_parent"], run["children"] = existing_parent, children
        run.say(f"configurable {parent_sku}: {len(children)} children" if existing_parent is not None
                else f"configurable {parent_sku}: not there yet")
        sku, codes = str(child["sku"]), list(run["option_ids"])
        twin = next((c for c in children if c.get("sku") != sku and values_of(c, codes) == values_of(child, codes)),
                    None)
        if twin is not None:
            attributes = self.attributes(run)
            shown = "/".join(custom_value(record, a.custom_field) for a in attributes)
            reason = (f"item has the same {'/'.join(a.name for a in attributes)} ({shown}) as SKU {twin['sku']}, "
                      f"already a child of configurable {parent_sku}: sent as a simple product; give it other "
                      "values in Heartland")
            run["as_child"], run["grid_note"] = False, reason
            run.say(reason)

    def step_child(self, run: Run) -> None:
        run["child_id"], run["child_created"], run["child_write"] = None, False, ""
        if not run["as_child"]:
            run.say("not a grid's child")
            return
        binding: Binding | None = run["binding"]
        record = run["record"]
        child, parent_sku = self.child(run), self.parent_sku(run)
        sku = str(child["sku"])
        current_sku = binding.external_ref if binding is not None and binding.external_ref else sku
        existing = self.product_or_none(current_sku)
        if existing is None:
            saved = self.magento.create_product(child, store_code=SCOPE)
            run["child_write"] = f"created child {sku}"
        elif current_sku != sku or differs(existing, child):
            saved = self.magento.update_product(current_sku, child, store_code=SCOPE)
            run["child_write"] = f"updated child {sku}"
        else:
            saved = existing
        run["child_id"], run["child_created"] = saved.get("id"), existing is None
        bindings.bind(self.store, entity=PRODUCT_ENTITY, key=binding_key(record["id"]), system=SYSTEM,
                      external_id=str(saved.get("id") or ""), external_ref=sku, source_version=run["version"],
                      data={"written": child, "heartland_public_id": record.get("public_id"),
                            "parent_sku": parent_sku})
        run.say(run["child_write"] or f"child {sku} already as wanted")

    def step_parent(self, run: Run) -> None:
        run["parent_write"] = ""
        if not run["as_child"]:
            run.say("not a grid's child")
            return
        grid, existing_parent = run["grid"], run["existing_parent"]
        parent = parent_product(grid, run["grid_rules"])
        parent_sku = str(parent["sku"])
        if existing_parent is None:
            saved_parent = self.magento.create_product(parent, store_code=SCOPE)
            run["parent_write"] = f"created configurable {parent_sku}"
        elif existing_parent.get("sku") != parent_sku or differs(existing_parent, parent):
            saved_parent = self.magento.update_product(str(existing_parent["sku"]), parent, store_code=SCOPE)
            run["parent_write"] = f"updated configurable {parent_sku}"
        else:
            saved_parent = existing_parent
        run.say(f"configurable {parent_sku} (id {saved_parent.get('id')})")
        bindings.bind(self.store, entity=GRID_ENTITY, key=binding_key(grid["id"]), system=SYSTEM,
                      external_id=str(saved_parent.get("id") or ""), external_ref=parent_sku,
                      source_version=str(grid.get("updated_at") or ""),
                      data={"written": parent, "heartland_public_id": grid.get("public_id")})

    def step_vary(self, run: Run) -> None:
        run["vary_writes"] = []
        if not run["as_child"]:
            run.say("not a grid's child")
            return
        parent_sku, option_ids, attribute_ids = self.parent_sku(run), run["option_ids"], run["attribute_ids"]
        present = {str(o.get("attribute_id")) for o in self.magento.configurable_options(parent_sku)}
        added = []
        for position, attribute in enumerate(self.attributes(run)):
            attribute_id = attribute_ids[attribute.magento]
            if attribute_id in present:
                continue
            self.magento.add_configurable_option(parent_sku, attribute_id, attribute.name,
                                                 [option_ids[attribute.magento]], position=position)
            added.append(f"{parent_sku} varies on {attribute.magento}")
        run["vary_writes"] = added
        run.say("; ".join(added) or "options already there")

    def step_link(self, run: Run) -> Outcome | None:
        if not run["as_child"]:
            run.say("not a grid's child")
            return None
        grid = run["grid"]
        sku, parent_sku = str(self.child(run)["sku"]), self.parent_sku(run)
        writes = [w for w in (run["child_write"], run["parent_write"], *run["vary_writes"]) if w]
        skus = {str(c.get("sku")) for c in run["children"]}
        if sku not in skus:
            self.magento.link_configurable_child(parent_sku, sku)
            writes.append(f"linked {sku} to {parent_sku}")
            skus.add(sku)
        run.say(writes[-1] if writes and writes[-1].startswith("linked") else "already linked")
        # The grid's binding as it is now: written by the parent step, of this run or an earlier one.
        grid_binding = self.grid_binding(run)
        linked = set((grid_binding.data or {}).get("children") or []) if grid_binding is not None else set()
        bindings.bind(self.store, entity=GRID_ENTITY, key=binding_key(grid["id"]), system=SYSTEM,
                      external_id=grid_binding.external_id if grid_binding is not None else "",
                      external_ref=parent_sku, data={"children": sorted(skus | linked)})
        result = {"sku": sku, "magento_id": run["child_id"], "parent_sku": parent_sku,
                  "created": run["child_created"]}
        if not writes:
            return Outcome("ignored", f"SKU {sku} is already a child of configurable {parent_sku} in Magento; "
                           "nothing to write", result, run["mapping_version"])
        return Outcome("done", f"Magento product {sku} as a child of configurable {parent_sku}: "
                       + "; ".join(writes), result, run["mapping_version"])

    # -- what the steps share ----------------------------------------------------------------------
    def attributes(self, run: Run) -> list[GridAttribute]:
        rules: GridRules = run["grid_rules"]
        return [a for a in (rules.attribute(n) for n in run["grid"]["attribute_names"]) if a is not None]

    def child(self, run: Run) -> dict[str, Any]:
        return child_product(run["product"], run["option_ids"])

    def parent_sku(self, run: Run) -> str:
        return str(parent_product(run["grid"], run["grid_rules"])["sku"])

    def grid_binding(self, run: Run) -> Binding | None:
        return bindings.find(self.store, GRID_ENTITY, binding_key(run["grid"]["id"]), SYSTEM)

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
