"""Products, Heartland → Magento. Heartland owns the product; Item # (public_id) is the Magento SKU.

Steps for one Heartland item hint (a webhook delivery or a poll):
  1. version    a hint whose ``updated_at`` is older than the version last synced (an event that
                arrived out of order) is ignored as stale, with reason, before any call to Heartland
  2. fetch      re-read the item from Heartland by id; the hint itself is never trusted; a re-read
                item older than the version last synced is ignored as stale, with reason
  3. transform  Heartland item → Magento product through products.heartland_to_magento (the
                mapping page's active version, else rules/mappings/); selling price below the
                original price becomes Magento's special price
  4. unchanged? the product we would write equals the one we last wrote (kept on the binding):
                ignored, so a replayed or echoed event, or a poll that saw a change its webhook
                already brought, costs no Magento write
  5. deliver    at global scope (/rest/all/…): binding's SKU first, else a lookup by SKU (recovers
                a crash between create and bind), then update or create
  6. confirm    the binding (entity product) with the Heartland version, what was written and
                what Magento answered it holds

Magento's ``product.saved`` events: Heartland owns what Tillbridge writes, so an edit made in
Magento to one of those fields is set back by a run of the Heartland item (rules/products.yaml
``magento_edits: restore``; ``keep`` leaves it until Heartland's next change). The echo of our own
write matches what Magento answered to it and is ignored; a product we never wrote is the shop's.

Polling backstop (webhooks get lost): :meth:`ProductsFlow.pollers` reads Heartland items updated
since the cursor (``heartland:items``) and records the same items a webhook would (entity key
``products:heartland:item:<id>``, version ``updated_at``), skipping a change an item at that version
or later already covers.

Items in a Heartland grid whose attributes are all mapped in rules/grids.yaml become children of
the grid's Magento configurable product (service/flows/grids.py); the items of other grids are sent
as simple products, with the reason (the attribute to map, and where) in the trace.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from service.connectors.heartland.client import normalise_webhook_payload
from service.engine.outcome import Outcome
from service.engine.polling import covers, is_older
from service.engine.trace import Trace
from service.flows.grids import GridVariants, binding_key
from service.flows.registry import flow
from service.kernel.errors import DataError, NotFoundInTargetError
from service.rules.templates import MappingError, Template
from service.store import bindings, items
from service.store.tables import SyncItem

if TYPE_CHECKING:
    from service.engine.polling import Poller
    from service.flows.context import Context

log = logging.getLogger(__name__)

TEMPLATE = "mappings/products.heartland_to_magento.yaml"
RULES_FILE = "products.yaml"
SCOPE = "all"  # global values: the product is the same in every store view
ENTITY = "product"
SYSTEM = "magento"
POLL_RESOURCE = "heartland:items"


def entity_key(heartland_id: Any) -> str:
    """The sync item's key, the one the Heartland webhook gives an item hint (heartland_hooks)."""
    return f"products:heartland:item:{heartland_id}"


def record_item_changes(session: Session, records: Sequence[dict[str, Any]]) -> list[int]:
    """Sync items for polled Heartland items, shaped as the Heartland webhook records them; returns
    the ids to enqueue. A change already covered (an item for that Heartland item at this
    ``updated_at`` or later, from a webhook or an earlier poll's overlap) gets none."""
    by_key = {entity_key(r["id"]): r for r in records if r.get("id") not in (None, "")}
    newest = items.latest_by_key(session, ProductsFlow.name, list(by_key), by="version")
    created = []
    for key, record in by_key.items():
        version = str(record.get("updated_at") or "")
        last = newest.get(key)
        if last is not None and covers(last, version):
            continue
        item = items.create(session, flow=ProductsFlow.name, direction="heartland→magento", entity_key=key,
                            label=f"Heartland item #{record.get('public_id') or record['id']} (poll)",
                            payload={"kind": "item", "id": record["id"], "record": dict(record)},
                            source_version=version)
        created.append(int(item.id))
    return created


def _same_value(have: Any, want: Any) -> bool:
    if have in (None, "") or want in (None, ""):
        return have in (None, "") and want in (None, "")
    if isinstance(have, bool) or isinstance(want, bool):
        return int(have) == int(want)
    try:
        return abs(float(have) - float(want)) < 1e-6
    except (TypeError, ValueError):
        return str(have).strip() == str(want).strip()


def differing_fields(current: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """The fields (custom attributes by code) where Magento's product does not hold what the
    products flow writes."""
    differ = []
    for key, value in wanted.items():
        if key == "custom_attributes":
            have = {a.get("attribute_code"): a.get("value") for a in current.get("custom_attributes") or []}
            differ += [str(a["attribute_code"]) for a in value
                       if not _same_value(have.get(a["attribute_code"]), a.get("value"))]
        elif not _same_value(current.get(key), value):
            differ.append(key)
    return differ


def held_fields(saved: dict[str, Any], written: dict[str, Any]) -> dict[str, Any]:
    """What Magento holds, after a write, of the fields that write set (its answer to the write):
    a later product.saved is compared with this, so Magento's own normalising of a value never
    looks like an edit made in Magento."""
    have = {a.get("attribute_code"): a.get("value") for a in saved.get("custom_attributes") or []}
    held = {k: saved.get(k) for k in written if k != "custom_attributes"}
    held["custom_attributes"] = [{"attribute_code": a["attribute_code"], "value": have.get(a["attribute_code"])}
                                 for a in written.get("custom_attributes") or []]
    return held


def same_product(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether Magento's product already holds every value the products flow would write."""
    return not differing_fields(current, wanted)


def magento_product(mapped: dict[str, Any], last_written: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Magento product payload from the template's output.

    A special price we wrote before and no longer want is cleared with an empty value; one we
    never wrote is left out, so a merchant's own special price on a product we never priced stays.
    """
    product = {k: v for k, v in mapped.items()
               if k not in ("attributes", "heartland_price", "heartland_original_price") and v is not None}
    price = float(mapped.get("heartland_price") or 0.0)
    original = mapped.get("heartland_original_price")
    attributes = {code: str(value) for code, value in (mapped.get("attributes") or {}).items()
                  if value not in (None, "")}
    if original is not None and float(original) > price:
        product["price"] = float(original)
        attributes["special_price"] = f"{price:.2f}"
    else:
        product["price"] = price
        written = {a["attribute_code"] for a in (last_written or {}).get("custom_attributes", [])}
        if "special_price" in written:
            # Kept as an empty value from then on, so the next comparison sees no change.
            attributes["special_price"] = ""
    product["custom_attributes"] = [{"attribute_code": code, "value": value}
                                    for code, value in sorted(attributes.items())]
    return product


@flow
class ProductsFlow:
    name = "products"
    direction = "Heartland → Magento"

    def __init__(self, runtime: Context) -> None:
        self.runtime = runtime
        self.store = runtime.store

    def template(self) -> Template:
        from service.flows.templates import lookup_for, template_spec

        return Template(template_spec(self.runtime, TEMPLATE), lookup=lookup_for(self.runtime.rules))

    def from_magento(self, envelope: dict[str, Any], trace: Trace) -> Outcome:
        """A Magento ``product.saved``. Heartland owns the products Tillbridge writes: our own write
        coming back is ignored; a change made in Magento to a field Tillbridge writes is set back to
        Heartland's value (rules/products.yaml ``magento_edits: restore``) by a run of the Heartland
        item, under its lock and with its current values, or kept until Heartland's next change
        (``keep``). A product Tillbridge does not write is the shop's own."""
        data = envelope.get("data") or {}
        sku = data.get("sku")
        binding = (bindings.find_external(self.store, ENTITY, SYSTEM, str(data["id"]))
                   if data.get("id") not in (None, "") else None)
        if binding is None:
            return Outcome.ignored(f"Magento product {sku} is not one Tillbridge writes from Heartland: the shop's own")
        written = dict((binding.data or {}).get("written") or {})
        differ = differing_fields(data, dict((binding.data or {}).get("held") or {}) or written)
        if not differ:
            return Outcome.ignored(f"Magento product {sku} holds what Tillbridge last wrote (our own write coming "
                                   "back, or a change to fields Heartland does not own)", sku=sku)
        changed = ", ".join(differ)
        mode = str((self.runtime.rules.load(RULES_FILE) or {}).get("magento_edits", "restore"))
        if mode == "keep":
            return Outcome.ignored(f"Magento product {sku}: {changed} changed in Magento; kept until Heartland's "
                                   f"next change (rules/{RULES_FILE} magento_edits: keep)", sku=sku, fields=differ)
        heartland_id = binding.key.partition(":")[2]
        with self.store.session() as session:
            restore = items.create(session, flow=self.name, direction="heartland→magento",
                                   entity_key=entity_key(heartland_id),
                                   label=f"Heartland item #{written.get('sku') or heartland_id} (restore)",
                                   payload={"kind": "item", "id": int(heartland_id), "restore": True},
                                   source_version=binding.source_version or "")
        self.runtime.enqueue([int(restore.id)])
        trace.note("restore", f"item {restore.id} sets {changed} back to Heartland's values")
        return Outcome.done(f"Magento product {sku}: {changed} changed in Magento; Heartland owns products, so "
                            f"item {restore.id} sets them back", sku=sku, fields=differ, restore_item=int(restore.id))

    def pollers(self) -> list[Poller]:
        """Heartland items updated since the cursor, as the sync items their webhooks would make."""
        from service.engine.polling import Poller

        def read(since: datetime) -> Iterator[dict[str, Any]]:
            moment = since.astimezone(UTC).replace(microsecond=0).isoformat()
            return self.runtime.heartland.iterate_items(updated_since=moment)

        return [Poller(resource=POLL_RESOURCE, read=read, record=record_item_changes)]

    def run(self, item: SyncItem, trace: Trace) -> Outcome:
        if "event" in item.payload:
            return self.from_magento(item.payload, trace)
        heartland_id = item.payload.get("id")
        if heartland_id in (None, ""):
            raise DataError(f"item {item.id} names no Heartland item id",
                            hint="retry after editing the payload: {\"id\": <Heartland item id>}")
        key = binding_key(heartland_id)
        binding = bindings.find(self.store, ENTITY, key, SYSTEM)
        hinted = str(item.source_version or "")
        if binding is not None and is_older(hinted, binding.source_version):
            return Outcome.ignored(f"stale: this change to Heartland item {heartland_id} (updated_at {hinted}) is "
                                   f"older than the version already synced ({binding.source_version})",
                                   sku=binding.external_ref)
        with trace.step("fetch", f"Heartland item {heartland_id}"):
            try:
                record = normalise_webhook_payload(self.runtime.heartland.item(int(heartland_id)))
            except NotFoundInTargetError:
                return Outcome.ignored(f"Heartland item {heartland_id} no longer exists; nothing to sync")
        version = str(record.get("updated_at") or "")
        if binding is not None and is_older(version, binding.source_version):
            return Outcome.ignored(f"stale: Heartland item {heartland_id} at {version} is older than the version "
                                   f"already synced ({binding.source_version})", sku=binding.external_ref)
        last_written: dict[str, Any] = dict((binding.data or {}).get("written") or {}) if binding else {}

        template = self.template()
        mapping_version = f"{template.name}@{template.version}"
        with trace.step("transform") as step:
            try:
                mapped = template.apply(record)
            except MappingError as exc:
                raise DataError(f"Heartland item {heartland_id} cannot be mapped: {exc}",
                                hint=f"fix the item in Heartland or the template rules/{TEMPLATE}",
                                details=exc.field_errors) from None
            product = magento_product(mapped, last_written)
            step["message"] = f"SKU {product['sku']}, price {product['price']:.2f}"
        notes: list[str] = []
        if record.get("grid_id"):
            variant = GridVariants(self.runtime).sync(record, product, binding, version, mapping_version, trace)
            if isinstance(variant, Outcome):
                return variant
            log.info("Heartland item %s: %s", heartland_id, variant)
            notes.append(variant)

        restore = bool(item.payload.get("restore"))
        if binding is not None and last_written == product and not restore:
            bindings.bind(self.store, entity=ENTITY, key=key, system=SYSTEM, external_id=binding.external_id,
                          external_ref=binding.external_ref, source_version=version)
            return Outcome("ignored", f"no changes to SKU {product['sku']} since the last write: Heartland item "
                           f"{heartland_id} at {version} is already in Magento",
                           {"sku": product["sku"]}, mapping_version)

        magento = self.runtime.magento
        sku = str(product["sku"])
        current_sku = binding.external_ref if binding is not None and binding.external_ref else sku
        with trace.step("lookup", f"Magento product {current_sku}") as step:
            try:
                existing: dict[str, Any] | None = magento.product(current_sku, store_code=SCOPE)
            except NotFoundInTargetError:
                existing = None
            step["message"] = f"Magento product {current_sku}: {'found' if existing else 'not there yet'}"
        if restore and existing is not None and last_written == product:
            # Heartland has not changed since the last write: is Magento still as that write left it?
            held = dict((binding.data or {}).get("held") or {}) if binding else {}
            differ = differing_fields(existing, held or product)
            if not differ:
                return Outcome("ignored", f"Magento product {sku} already holds Heartland item {heartland_id}'s values",
                               {"sku": sku}, mapping_version)
            notes.append(f"{', '.join(differ)} changed in Magento, set back to Heartland's values "
                         "(Heartland owns products)")
        with trace.step("deliver", f"{'update' if existing else 'create'} {sku} at /rest/{SCOPE}") as step:
            if existing is not None:
                saved = magento.update_product(current_sku, product, store_code=SCOPE)
            else:
                saved = magento.create_product(product, store_code=SCOPE)
            step["message"] = f"{'updated' if existing else 'created'} Magento product {sku} (id {saved.get('id')})"
        with trace.step("confirm", f"binding Heartland item {heartland_id} → {sku}"):
            bindings.bind(self.store, entity=ENTITY, key=key, system=SYSTEM, external_id=str(saved.get("id") or ""),
                          external_ref=sku, source_version=version,
                          data={"written": product, "held": held_fields(saved, product),
                                "heartland_public_id": record.get("public_id")})
        reason = f"Magento product {sku} {'updated' if existing else 'created'}"
        if notes:
            reason += "; " + "; ".join(notes)
        return Outcome("done", reason, {"sku": sku, "magento_id": saved.get("id"), "created": existing is None},
                       mapping_version)
