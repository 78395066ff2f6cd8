"""Products, Heartland → Magento. Heartland owns the product; Item # (public_id) is the Magento SKU.

Steps for one Heartland item hint (``tillbridge flows show products``):
  magento edit?  a Magento ``product.saved`` takes its own path (below) and ends the run there
  stale?         a hint whose ``updated_at`` is older than the version last synced (an event that
                 arrived out of order) is ignored as stale, with reason, before any call to Heartland
  fetch          re-read the item from Heartland by id; the hint itself is never trusted; a re-read
                 item older than the version last synced is ignored as stale, with reason
  transform      Heartland item → Magento product through products.heartland_to_magento (the
                 mapping page's active version, else rules/mappings/); selling price below the
                 original price becomes Magento's special price
  grid … link    an item of a mapped Heartland grid becomes a child of the grid's configurable
                 product, and its run ends there (service/flows/grids.py)
  unchanged?     the product we would write equals the one we last wrote (kept on the binding):
                 ignored, so a replayed or echoed event, or a poll that saw a change its webhook
                 already brought, costs no Magento write
  quality        price, cost and weight against the SKU's own history, its category's and
                 rules/quality.yaml (service/flows/checks/quality.py): a price ×100, a zero price
                 on an active product or a bulk change of many prices waits in /reviews/quality
  lookup         the Magento product by the binding's SKU, else by SKU (recovers a crash between
                 create and bind)
  restore?       a restore run for an item Heartland has not changed since: Magento still as the
                 last write left it is ignored
  deliver        at global scope (/rest/all/…): update or create
  confirm        the binding (entity product) with the Heartland version, what was written and
                 what Magento answered it holds; the SKU's quality history (one upsert)

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
as simple products, with the reason (the attribute to map, and where) in the trace and the outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from service.ai.quality.stats import known_values
from service.connectors.heartland.client import normalise_webhook_payload
from service.engine.outcome import Outcome
from service.engine.polling import covers, is_older
from service.engine.steps import Run, Step, StepFlow, check_steps, run_steps
from service.engine.trace import Trace
from service.flows.checks.quality import Checked, QualityGuard
from service.flows.grids import GridVariants, binding_key
from service.flows.registry import flow
from service.kernel.errors import DataError, NotFoundInTargetError
from service.rules.templates import MappingError, Template
from service.store import bindings, items
from service.store.tables import Binding, SyncItem

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


def checked_values(record: dict[str, Any]) -> dict[str, float]:
    """The Heartland item's fields the quality step checks (rules/quality.yaml)."""
    return known_values({"price": record.get("price"), "cost": record.get("cost"), "weight": record.get("weight")})


def written_values(written: dict[str, Any]) -> dict[str, float]:
    """The Heartland price and weight a product we last wrote came from (a special price is the
    Heartland selling price): what the quality step compares with before the SKU has history."""
    if not written:
        return {}
    special = next((a.get("value") for a in written.get("custom_attributes") or []
                    if a.get("attribute_code") == "special_price"), "")
    return known_values({"price": special if special not in (None, "") else written.get("price"),
                         "weight": written.get("weight")})


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
class ProductsFlow(StepFlow):
    name = "products"
    direction = "Heartland → Magento"
    given = ("envelope", "heartland_id", "hinted", "restore", "held")

    def __init__(self, runtime: Context) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self.grids = GridVariants(runtime)
        self.quality = QualityGuard(runtime, self.name, entity_key(""))
        self.steps = (
            Step("magento edit?", self.step_magento_edit, "a Magento product.saved: our echo, kept, or set back",
                 reads=("envelope", "heartland_id")),
            Step("stale?", self.step_stale, "a hint older than the version last synced is ignored",
                 reads=("heartland_id", "hinted"), writes=("key", "binding", "last_written")),
            Step("fetch", self.step_fetch, "the item as Heartland has it; older than the version synced: ignored",
                 reads=("heartland_id", "binding"), writes=("record", "version")),
            Step("transform", self.step_transform, f"Heartland item → Magento product ({TEMPLATE})",
                 reads=("heartland_id", "record", "last_written"), writes=("product", "mapping_version")),
            *self.grids.steps(),
            Step("unchanged?", self.step_unchanged, "the product as last written: ignored",
                 reads=("key", "binding", "last_written", "product", "version", "restore", "heartland_id",
                        "mapping_version"),
                 binding="product heartland:<item id> → magento (its version)", decides=True),
            Step("quality", self.step_quality, "price, cost and weight against the SKU's history and "
                 "rules/quality.yaml: hold for review, warn, or fix", reads=("heartland_id", "record", "last_written"),
                 writes=("quality",), decides=True),
            Step("lookup", self.step_lookup, "the Magento product: by the binding's SKU, else by SKU",
                 reads=("binding", "product"), writes=("sku", "current_sku", "existing")),
            Step("restore?", self.step_restore, "a restore: Magento still as the last write left it is ignored",
                 reads=("restore", "existing", "last_written", "binding", "product", "sku", "heartland_id",
                        "mapping_version"), writes=("restore_note",)),
            Step("deliver", self.step_deliver, f"update or create the product at /rest/{SCOPE}",
                 reads=("product", "sku", "current_sku", "existing", "version"),
                 writes=("magento_id", "created", "written", "held_fields", "delivered_version"), effect="magento",
                 idempotency="looked up by the binding's SKU, then by SKU, before it is created"),
            Step("confirm", self.step_confirm, "the binding, with what was written and what Magento holds",
                 reads=("key", "record", "heartland_id", "sku", "magento_id", "created", "written", "held_fields",
                        "delivered_version", "grid_note", "restore_note", "mapping_version", "quality"),
                 binding="product heartland:<item id> → magento"),
        )
        check_steps(self.steps, self.given)

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

    # -- the steps ---------------------------------------------------------------------------------
    def run(self, item: SyncItem, trace: Trace) -> Outcome:
        # A lock a step takes (the grid's, service/flows/grids.py) is held until the run ends.
        with ExitStack() as held:
            run = Run(item, trace, values={"held": held})
            self.start(run)
            return run_steps(self.steps, run)

    def start(self, run: Run) -> None:
        payload = run.item.payload
        run["envelope"] = payload
        run["heartland_id"] = payload.get("id")
        run["hinted"] = str(run.item.source_version or "")
        run["restore"] = bool(payload.get("restore"))

    def step_magento_edit(self, run: Run) -> Outcome | None:
        if "event" in run["envelope"]:
            return self.from_magento(run["envelope"], run.trace)
        heartland_id = run["heartland_id"]
        if heartland_id in (None, ""):
            raise DataError(f"item {run.item.id} names no Heartland item id",
                            hint="retry after editing the payload: {\"id\": <Heartland item id>}")
        run.say(f"a change to Heartland item {heartland_id}")
        return None

    def step_stale(self, run: Run) -> Outcome | None:
        heartland_id, hinted = run["heartland_id"], run["hinted"]
        key = run["key"] = binding_key(heartland_id)
        binding: Binding | None = bindings.find(self.store, ENTITY, key, SYSTEM)
        run["binding"] = binding
        run["last_written"] = dict((binding.data or {}).get("written") or {}) if binding else {}
        if binding is not None and is_older(hinted, binding.source_version):
            return Outcome.ignored(f"stale: this change to Heartland item {heartland_id} (updated_at {hinted}) is "
                                   f"older than the version already synced ({binding.source_version})",
                                   sku=binding.external_ref)
        run.say(f"synced at {binding.source_version}" if binding is not None else "not synced yet")
        return None

    def step_fetch(self, run: Run) -> Outcome | None:
        heartland_id, binding = run["heartland_id"], run["binding"]
        try:
            record = normalise_webhook_payload(self.runtime.heartland.item(int(heartland_id)))
        except NotFoundInTargetError:
            return Outcome.ignored(f"Heartland item {heartland_id} no longer exists; nothing to sync")
        version = str(record.get("updated_at") or "")
        run["record"], run["version"] = record, version
        if binding is not None and is_older(version, binding.source_version):
            return Outcome.ignored(f"stale: Heartland item {heartland_id} at {version} is older than the version "
                                   f"already synced ({binding.source_version})", sku=binding.external_ref)
        run.say(f"Heartland item {heartland_id} ({record.get('public_id')}) at {version}")
        return None

    def step_transform(self, run: Run) -> None:
        heartland_id = run["heartland_id"]
        template = self.template()
        run["mapping_version"] = f"{template.name}@{template.version}"
        try:
            mapped = template.apply(run["record"])
        except MappingError as exc:
            raise DataError(f"Heartland item {heartland_id} cannot be mapped: {exc}",
                            hint=f"fix the item in Heartland or the template rules/{TEMPLATE}",
                            details=exc.field_errors) from None
        product = run["product"] = magento_product(mapped, run["last_written"])
        run.say(f"SKU {product['sku']}, price {product['price']:.2f}")

    def step_unchanged(self, run: Run) -> Outcome | None:
        if run["grid_note"]:
            log.info("Heartland item %s: %s", run["heartland_id"], run["grid_note"])
        binding: Binding | None = run["binding"]
        product = run["product"]
        if binding is not None and run["last_written"] == product and not run["restore"]:
            bindings.bind(self.store, entity=ENTITY, key=run["key"], system=SYSTEM, external_id=binding.external_id,
                          external_ref=binding.external_ref, source_version=run["version"])
            return Outcome("ignored", f"no changes to SKU {product['sku']} since the last write: Heartland item "
                           f"{run['heartland_id']} at {run['version']} is already in Magento",
                           {"sku": product["sku"]}, run["mapping_version"])
        run.say("a restore" if run["restore"] else "changed since the last write" if binding else "never written")
        return None

    def step_quality(self, run: Run) -> Outcome | None:
        record = run["record"]
        checked = run["quality"] = self.quality.check(
            run, entity_key=entity_key(run["heartland_id"]), sku=str(record.get("public_id") or ""),
            category=str((record.get("custom") or {}).get("category") or ""), after=checked_values(record),
            before=written_values(run["last_written"]), active=record.get("active", True) is not False)
        return checked.outcome

    def step_lookup(self, run: Run) -> None:
        binding: Binding | None = run["binding"]
        sku = run["sku"] = str(run["product"]["sku"])
        current_sku = run["current_sku"] = binding.external_ref if binding is not None and binding.external_ref \
            else sku
        try:
            existing: dict[str, Any] | None = self.runtime.magento.product(current_sku, store_code=SCOPE)
        except NotFoundInTargetError:
            existing = None
        run["existing"] = existing
        run.say(f"Magento product {current_sku}: {'found' if existing else 'not there yet'}")

    def step_restore(self, run: Run) -> Outcome | None:
        run["restore_note"] = ""
        existing, product, binding = run["existing"], run["product"], run["binding"]
        if not (run["restore"] and existing is not None and run["last_written"] == product):
            run.say("not a restore of an unchanged item" if run["restore"] else "not a restore")
            return None
        # Heartland has not changed since the last write: is Magento still as that write left it?
        held = dict((binding.data or {}).get("held") or {}) if binding else {}
        differ = differing_fields(existing, held or product)
        if not differ:
            return Outcome("ignored", f"Magento product {run['sku']} already holds Heartland item "
                           f"{run['heartland_id']}'s values", {"sku": run["sku"]}, run["mapping_version"])
        run["restore_note"] = (f"{', '.join(differ)} changed in Magento, set back to Heartland's values "
                               "(Heartland owns products)")
        run.say(run["restore_note"])
        return None

    def step_deliver(self, run: Run) -> None:
        magento = self.runtime.magento
        product, sku, existing = run["product"], run["sku"], run["existing"]
        if existing is not None:
            saved = magento.update_product(run["current_sku"], product, store_code=SCOPE)
        else:
            saved = magento.create_product(product, store_code=SCOPE)
        # What was written, kept with the version it came from: a retry resuming after this step
        # binds what Magento got, even if Heartland's item changed in between (its own run follows).
        run["magento_id"], run["created"] = saved.get("id"), existing is None
        run["written"], run["held_fields"] = product, held_fields(saved, product)
        run["delivered_version"] = run["version"]
        run.say(f"{'updated' if existing else 'created'} Magento product {sku} (id {saved.get('id')}) "
                f"at /rest/{SCOPE}")

    def step_confirm(self, run: Run) -> Outcome:
        sku, record = run["sku"], run["record"]
        run.say(f"binding Heartland item {run['heartland_id']} → {sku}")
        bindings.bind(self.store, entity=ENTITY, key=run["key"], system=SYSTEM,
                      external_id=str(run["magento_id"] or ""), external_ref=sku,
                      source_version=run["delivered_version"],
                      data={"written": run["written"], "held": run["held_fields"],
                            "heartland_public_id": record.get("public_id")})
        checked: Checked = run["quality"]
        if run["delivered_version"] == run["version"]:  # what was checked is what was written
            self.quality.record(checked)
        reason = f"Magento product {sku} {'created' if run['created'] else 'updated'}"
        notes = [note for note in (run["grid_note"], run["restore_note"]) if note]
        if notes:
            reason += "; " + "; ".join(notes)
        return Outcome("done", reason, {"sku": sku, "magento_id": run["magento_id"], "created": run["created"]},
                       run["mapping_version"])
