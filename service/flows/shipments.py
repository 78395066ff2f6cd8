"""Shipments, Heartland → Magento. Magento owns the order; Heartland owns its fulfilment.

A Heartland web order is fulfilled by invoicing it (reference §3.8): each completed invoice is one
Magento shipment of the invoiced lines, with the invoice's tracking numbers as tracks, and the
customer notified by Magento's shipment email. Whether the order is then complete is Magento's
rule (everything invoiced and shipped), not ours: Tillbridge never invoices in Magento.

Trigger: Heartland's ``sales_transaction_completed`` webhook for an invoice (the hint
``{"kind": "transaction", "id", "record"}``), and the poller as its backstop: complete invoices
updated since the cursor, recorded unless an item already covers that version of the invoice.

Steps for one invoice (declared in :class:`ShipmentsFlow`; ``tillbridge flows show shipments``):
  fetch        the invoice, re-read by id
  invoice?     not an invoice, not complete (its completion brings it back), or of no sales order:
               ignored
  tracks       its tracking numbers as Magento tracks (rules/shipments.yaml)
  shipped?     bound already: route "an invoice shipped already", whose one step (track) adds the
               tracking numbers typed in since as tracks, else the item is ignored
  order        the Magento order of the invoice's Heartland order: the orders flow's binding, else
               the order's Tillbridge reference (``custom@tillbridge_ref``); neither: an order
               Tillbridge did not create, ignored with the reason
  lookup       a Magento shipment of that order carrying our comment (recovers a crash between
               create and bind)
  shippable?   a Magento order on hold, cancelled or closed goes to review
  lines        invoice lines → Magento order items by SKU (Heartland Item #), with the quantity
               still to ship; a line Magento cannot ship goes to review, saying what to fix
  deliver      POST /V1/order/{id}/ship: items, tracks, notify, our comment (or the shipment found)
  late tracks  tracks typed in after an earlier run made the shipment
  state        the Magento order's state now (read before the binding, so a failed read is retried)
  confirm      the binding of the invoice to the shipment, with the tracking numbers sent
A run that fails after ``deliver`` resumes after it: the shipment is not made again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.engine.outcome import Outcome
from service.engine.steps import Run, Step
from service.engine.trace import Trace
from service.flows.registry import flow
from service.flows.routes import RoutedFlow, known_after
from service.kernel.errors import DataError
from service.store import bindings, items
from service.store.tables import Binding, SyncItem

if TYPE_CHECKING:
    from service.engine.polling import Poller
    from service.flows.context import Context

RULES_FILE = "shipments.yaml"
POLL_RESOURCE = "heartland:invoices"
ENTITY = "shipment"
ORDER_REF_FIELD = "tillbridge_ref"  # the orders flow's reference on the Heartland sales order
NOT_SHIPPABLE = ("canceled", "closed", "holded", "payment_review")
# How an invoice in review is tried again: the poller records any newer version of it.
INVOICE = "an invoice"
SHIPPED = "an invoice shipped already"
COMES_BACK = "any later edit of the invoice in Heartland brings it back here"


def entity_key(invoice_id: Any) -> str:
    """The sync item key of an invoice: the one the Heartland webhook gives its transaction hints."""
    return f"shipments:heartland:transaction:{invoice_id}"


def binding_key(invoice_id: Any) -> str:
    return f"heartland:invoice:{invoice_id}"


def comment_text(invoice_number: str) -> str:
    """Our comment on the Magento shipment; a lookup by it finds a shipment we created."""
    return f"Heartland invoice #{invoice_number}"


def moment(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def is_newer(version: str, than: str) -> bool:
    """Whether the invoice version (its ``updated_at``) ``version`` is later than ``than``."""
    mine, theirs = moment(version), moment(than)
    if mine is None or theirs is None:
        return bool(version) and version != than
    return mine > theirs


# -- tracking ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Track:
    number: str
    carrier_code: str
    title: str

    def payload(self) -> dict[str, str]:
        return {"track_number": self.number, "carrier_code": self.carrier_code, "title": self.title}


def tracks_of(invoice: dict[str, Any], rules: dict[str, Any]) -> list[Track]:
    """The invoice's tracking numbers (custom fields named in rules/shipments.yaml) as Magento tracks."""
    custom = invoice.get("custom") or {}
    numbers = [n for n in re.split(r"[,;\s]+", str(custom.get(rules.get("tracking_number_field") or "") or "")) if n]
    if not numbers:
        return []
    typed = str(custom.get(rules.get("carrier_field") or "") or "").strip()
    carriers = {str(k).strip().casefold(): v for k, v in (rules.get("carriers") or {}).items()}
    known = carriers.get(typed.casefold())
    if isinstance(known, dict) and known.get("code"):
        code, title = str(known["code"]), str(known.get("title") or typed or known["code"])
    else:
        code = str(rules.get("unknown_carrier_code") or "custom")
        title = typed or str(rules.get("unknown_carrier_title") or "Carrier")
    return [Track(n, code, title) for n in dict.fromkeys(numbers)]


# -- lines -------------------------------------------------------------------------------------------

def qty_to_ship(item: dict[str, Any]) -> float:
    """What Magento still lets us ship of an order item (Order\\Item::getQtyToShip)."""
    return max(0.0, float(item.get("qty_ordered") or 0) - float(item.get("qty_shipped") or 0)
               - float(item.get("qty_refunded") or 0) - float(item.get("qty_canceled") or 0))


def shipment_items(invoice_lines: Sequence[dict[str, Any]], order: dict[str, Any],
                   ) -> tuple[dict[int, float], list[str]]:
    """Invoice lines → {Magento order item id: qty}, and what stops each line that cannot ship.

    A line's SKU is its Heartland Item #. Only items without a parent take a quantity (a configurable
    product ships through its parent line, which carries the child's SKU); a SKU on several Magento
    lines fills them in order.
    """
    left: dict[int, float] = {}
    by_sku: dict[str, list[dict[str, Any]]] = {}
    for item in order.get("items") or []:
        if item.get("parent_item_id"):
            continue
        by_sku.setdefault(str(item.get("sku") or "").strip(), []).append(item)
        left[int(item["item_id"])] = qty_to_ship(item)
    wanted: dict[int, float] = {}
    problems: list[str] = []
    for n, line in enumerate(invoice_lines, start=1):
        if line.get("type", "ItemLine") != "ItemLine":
            continue
        sku = str(line.get("item_public_id") or "").strip()
        qty = float(line.get("qty") or 0)
        if qty <= 0:
            continue
        candidates = by_sku.get(sku, [])
        if not candidates:
            problems.append(f"line {n}: Heartland item {sku or line.get('item_id')!r} is not on the Magento order "
                            f"(no order item with SKU {sku!r})")
            continue
        for item in candidates:
            item_id = int(item["item_id"])
            take = min(qty, left[item_id])
            if take > 0:
                wanted[item_id] = wanted.get(item_id, 0.0) + take
                left[item_id] -= take
                qty -= take
        if qty > 1e-9:
            problems.append(f"line {n}: {float(line.get('qty') or 0):g} × {sku} invoiced, but Magento has only "
                            f"{float(line.get('qty') or 0) - qty:g} left to ship")
    return wanted, problems


# -- the poller's records ----------------------------------------------------------------------------

def record_changes(session: Session, invoices: Sequence[dict[str, Any]]) -> list[int]:
    """Items for polled complete invoices, shaped as the Heartland webhook records them; returns ids.

    The overlap window reads invoices again and the webhook may have brought them already: an
    invoice is recorded only when no item of it exists at a later version (its ``updated_at``), nor
    one at this version with the same custom values. Heartland stamps whole seconds: a tracking
    number typed in the second the invoice completed leaves ``updated_at`` as it was.
    """
    keys = [entity_key(r["id"]) for r in invoices]
    seen: dict[str, list[tuple[str, Any]]] = {}
    for row in session.scalars(select(SyncItem).where(SyncItem.flow == ShipmentsFlow.name,
                                                      SyncItem.entity_key.in_(keys))):
        seen.setdefault(row.entity_key, []).append(
            (row.source_version, ((row.payload or {}).get("record") or {}).get("custom")))
    created = []
    for record in invoices:
        version = str(record.get("updated_at") or "")
        if any(is_newer(known, version) or (not is_newer(version, known) and custom == record.get("custom"))
               for known, custom in seen.get(entity_key(record["id"]), [])):
            continue
        item = items.create(session, flow=ShipmentsFlow.name, direction=ShipmentsFlow.direction,
                            entity_key=entity_key(record["id"]), source_version=version,
                            label=f"Heartland invoice {record.get('public_id') or record['id']} (poll)",
                            payload={"kind": "transaction", "id": record["id"], "record": dict(record)})
        created.append(int(item.id))
    return created


@flow
class ShipmentsFlow(RoutedFlow):
    name = "shipments"
    direction = "Heartland → Magento"
    given = ("invoice_id",)

    def __init__(self, runtime: Context) -> None:
        self.runtime = runtime
        self.store = runtime.store
        invoice = (
            Step("fetch", self.step_fetch, "the Heartland invoice, re-read by id", reads=("invoice_id",),
                 writes=("invoice", "number", "label")),
            Step("invoice?", self.step_invoice, "only a complete invoice of a sales order ships",
                 reads=("invoice", "number", "label")),
            Step("tracks", self.step_tracks, f"the invoice's tracking numbers as tracks (rules/{RULES_FILE})",
                 reads=("invoice",), writes=("rules", "tracks", "version")),
            Step("shipped?", self.step_shipped, f"an invoice shipped already follows route {SHIPPED!r}",
                 reads=("invoice_id",), writes=("shipped",)),
            Step("order", self.step_order, "the Magento order: the orders flow's binding, else the Heartland "
                 f"order's custom@{ORDER_REF_FIELD}", reads=("invoice", "number", "label"),
                 writes=("order", "order_id", "magento_label")),
            Step("lookup", self.step_lookup, "a Magento shipment of the order carrying our comment (recovers a "
                 "crash between create and bind)", reads=("order_id", "number"), writes=("existing",)),
            Step("shippable?", self.step_shippable, "a held, cancelled or closed Magento order waits in review",
                 reads=("order", "order_id", "existing", "number", "label", "magento_label")),
            Step("lines", self.step_lines, "invoice lines → Magento order items by SKU, with the qty left to ship",
                 reads=("invoice_id", "order", "order_id", "existing", "number", "label", "magento_label"),
                 writes=("wanted",)),
            Step("deliver", self.step_deliver, "POST /V1/order/{id}/ship: items, tracks, notify, our comment",
                 reads=("order_id", "existing", "wanted", "tracks", "rules", "number"),
                 writes=("shipment_id", "increment", "sent", "found"), effect="magento",
                 idempotency='the shipment with the comment "Heartland invoice #<number>" is looked up first'),
            Step("late tracks", self.step_late_tracks, "tracks typed in after an earlier run made the shipment",
                 reads=("order_id", "tracks", "shipment_id", "sent"), writes=("sent",), effect="magento",
                 idempotency="tracks already on the shipment are not added again"),
            Step("state", self.step_state, "the Magento order's state once shipped (Magento's rule decides it)",
                 reads=("order_id", "magento_label"), writes=("order_state",)),
            Step("confirm", self.step_confirm, "the binding of the invoice to the shipment",
                 reads=("invoice_id", "invoice", "order_id", "magento_label", "number", "version", "existing",
                        "shipment_id", "increment", "sent", "found", "order_state"),
                 binding=f"{ENTITY} heartland:invoice:<id> → magento"),
        )
        shipped = (
            Step("track", self.step_track, "tracking numbers typed in since the shipment go on it as tracks",
                 reads=("shipped", "label", "tracks", "version"), effect="magento",
                 idempotency="tracks already on the shipment are not added again",
                 binding=f"{ENTITY} heartland:invoice:<id> → magento (its tracks)", decides=True),
        )
        self.declare({INVOICE: invoice, SHIPPED: shipped},
                     {INVOICE: self.given, SHIPPED: known_after(invoice, "shipped?", self.given)})

    def rules(self) -> dict[str, Any]:
        raw = self.runtime.rules.load(RULES_FILE)
        if not isinstance(raw, dict):
            raise DataError(f"rules/{RULES_FILE} must be a mapping",
                            hint="see the comments in the shipped rules/shipments.yaml")
        return dict(raw)

    # -- trigger ---------------------------------------------------------------------------------------
    def pollers(self) -> list[Poller]:
        from service.engine.polling import Poller

        def read(since: datetime) -> Iterator[dict[str, Any]]:
            # updated_at, not completed_at: a tracking number typed in after completion is news too.
            stamp = since.astimezone(UTC).replace(microsecond=0).isoformat()
            return self.runtime.heartland.iterate(
                "sales/invoices", {"status": "complete", "updated_at": {"$gte": stamp}})

        return [Poller(resource=POLL_RESOURCE, read=read, record=record_changes)]

    # -- the steps of one invoice ----------------------------------------------------------------------
    def start(self, run: Run) -> None:
        run["invoice_id"] = int(run.item.payload["id"])

    def step_fetch(self, run: Run) -> None:
        invoice = run["invoice"] = self.runtime.heartland.invoice(run["invoice_id"])
        number = run["number"] = str(invoice.get("public_id") or run["invoice_id"])
        run["label"] = f"Heartland invoice #{number}"
        run.say(f"Heartland invoice #{number} is {invoice.get('status')}")

    def step_invoice(self, run: Run) -> Outcome | None:
        invoice, label, number = run["invoice"], run["label"], run["number"]
        if invoice.get("type", "Invoice") != "Invoice":
            return Outcome.ignored(f"Heartland transaction {invoice['id']} is a {invoice.get('type')}, not an invoice")
        if invoice.get("status") != "complete":
            return Outcome.ignored(f"{label} is {invoice.get('status')}; it ships in Magento once it is complete",
                                   invoice_number=number)
        if not invoice.get("order_id"):
            return Outcome.ignored(f"{label} belongs to no sales order, so to no Magento order", invoice_number=number)
        run.say(f"complete, of Heartland order {invoice['order_id']}")
        return None

    def step_tracks(self, run: Run) -> None:
        rules = run["rules"] = self.rules()
        tracks = run["tracks"] = tracks_of(run["invoice"], rules)
        run["version"] = str(run["invoice"].get("updated_at") or "")
        run.say(", ".join(f"{t.number} ({t.title})" for t in tracks) or "no tracking number")

    def step_shipped(self, run: Run) -> Outcome | None:
        shipped = run["shipped"] = bindings.find(self.store, ENTITY, binding_key(run["invoice_id"]), "magento")
        if shipped is None:
            run.say("not shipped in Magento yet")
            return None
        run.say(f"Magento shipment {shipped.external_id}")
        return self.follow(SHIPPED, run)

    def step_track(self, run: Run) -> Outcome:
        return self.add_new_tracks(run["shipped"], run["label"], run["tracks"], run["version"], run.trace)

    def step_order(self, run: Run) -> Outcome | None:
        found = self.magento_order_for(int(run["invoice"]["order_id"]))
        if isinstance(found, str):
            run.say(found)
            return Outcome.ignored(f"{run['label']}: {found}", invoice_number=run["number"])
        run["order"], run["order_id"] = found, int(found["entity_id"])
        run["magento_label"] = f"Magento order #{found.get('increment_id')}"
        run.say(f"{run['magento_label']} ({found.get('state')})")
        return None

    def step_lookup(self, run: Run) -> None:
        text = comment_text(run["number"])
        existing = run["existing"] = self.shipment_with_comment(run["order_id"], text)
        run.say(f"Magento shipment #{existing.get('increment_id')} from an earlier run" if existing
                else f"no shipment of order {run['order_id']} with comment {text!r}")

    def step_shippable(self, run: Run) -> Outcome | None:
        order = run["order"]
        if run["existing"] is None and order.get("state") in NOT_SHIPPABLE:
            return Outcome.review(f"{run['label']} fulfils {run['magento_label']}, which is {order.get('state')} in "
                                  f"Magento: unhold it (or ship it by hand) in Magento; {COMES_BACK}",
                                  magento_order_id=run["order_id"], invoice_number=run["number"])
        run.say(f"{run['magento_label']} is {order.get('state')}")
        return None

    def step_lines(self, run: Run) -> Outcome | None:
        if run["existing"] is not None:
            run["wanted"] = {}
            run.say("shipped by an earlier run")
            return None
        lines = self.runtime.heartland.invoice_lines(run["invoice_id"])
        wanted, problems = shipment_items(lines, run["order"])
        run["wanted"] = wanted
        run.say(", ".join(f"item {k} × {v:g}" for k, v in wanted.items()) or "nothing to ship")
        if problems:
            return Outcome.review(
                f"{run['label']} cannot ship in {run['magento_label']}: " + "; ".join(problems)
                + f". Correct the invoice in Heartland (or ship these lines by hand in Magento); {COMES_BACK}",
                magento_order_id=run["order_id"], invoice_number=run["number"], problems=problems)
        if not wanted:
            return Outcome.ignored(f"{run['label']} has no item lines to ship", invoice_number=run["number"])
        return None

    def step_deliver(self, run: Run) -> None:
        existing: dict[str, Any] | None = run["existing"]
        if existing is not None:
            run["shipment_id"] = int(existing["entity_id"])
            run["increment"] = str(existing.get("increment_id") or existing["entity_id"])
            run["sent"] = [str(t.get("track_number")) for t in existing.get("tracks") or []]
            run["found"] = True
            run.say(f"found Magento shipment #{run['increment']} from an earlier run")
            return
        tracks: list[Track] = run["tracks"]
        wanted: dict[int, float] = run["wanted"]
        shipment_id = self.runtime.magento.ship(
            run["order_id"], wanted, tracks=[t.payload() for t in tracks],
            notify=bool(run["rules"].get("notify_customer", True)), comment=comment_text(run["number"]))
        run["shipment_id"], run["increment"] = int(shipment_id), str(shipment_id)
        run["sent"], run["found"] = [t.number for t in tracks], False
        run.say(f"shipped {sum(wanted.values()):g} item(s), {len(tracks)} track(s): Magento shipment {shipment_id}")

    def step_late_tracks(self, run: Run) -> None:
        sent: list[str] = list(run["sent"])
        # Tracks the run that made the shipment could not know of (typed in since) still go on.
        late = [t for t in run["tracks"] if t.number not in sent]
        for track in late:
            self.runtime.magento.add_track(run["shipment_id"], run["order_id"], track.number, track.carrier_code,
                                           track.title)
            sent.append(track.number)
        run["sent"] = sent
        run.say(", ".join(t.number for t in late) if late else "none")

    def step_state(self, run: Run) -> None:
        # Read before the binding: a run that fails here resumes after the shipment and still binds it.
        state = run["order_state"] = str(self.runtime.magento.order(run["order_id"]).get("state") or "")
        run.say(f"{run['magento_label']} is {state} in Magento")

    def step_confirm(self, run: Run) -> Outcome:
        shipment_id, order_id, sent = run["shipment_id"], run["order_id"], run["sent"]
        bindings.bind(self.store, entity=ENTITY, key=binding_key(run["invoice_id"]), system="magento",
                      external_id=str(shipment_id), external_ref=run["increment"], source_version=run["version"],
                      data={"magento_order_id": order_id, "heartland_order_id": int(run["invoice"]["order_id"]),
                            "tracks": sent})
        state, magento_label = run["order_state"], run["magento_label"]
        run.say(f"shipment {shipment_id} bound, tracking {', '.join(sent) or 'none'}")
        return Outcome.done(
            f"Magento shipment {shipment_id} for {magento_label}"
            + (f", tracking {', '.join(sent)}" if sent else ", no tracking number")
            + f"; the order is {state}",
            shipment_id=shipment_id, magento_order_id=order_id, invoice_number=run["number"], tracks=sent,
            order_state=state, resumed=run["found"] or run["existing"] is not None)

    # -- steps -----------------------------------------------------------------------------------------
    def add_new_tracks(self, shipped: Binding, label: str, tracks: Sequence[Track], version: str,
                       trace: Trace) -> Outcome:
        """An invoice already shipped: tracking numbers typed in since go on its shipment as tracks."""
        data = shipped.data or {}
        sent = [str(n) for n in data.get("tracks") or []]
        new = [t for t in tracks if t.number not in sent]
        if not new:
            return Outcome.ignored(f"{label} is already shipped in Magento (shipment {shipped.external_id})",
                                   shipment_id=int(shipped.external_id))
        shipment_id, order_id = int(shipped.external_id), int(data["magento_order_id"])
        with trace.step("track", ", ".join(t.number for t in new)):
            # A track added by a run that failed before binding is on the shipment already.
            on_shipment = {str(t.get("track_number")) for t in self.runtime.magento.shipment(shipment_id).get("tracks")
                           or []}
            for track in new:
                if track.number not in on_shipment:
                    self.runtime.magento.add_track(shipment_id, order_id, track.number, track.carrier_code,
                                                   track.title)
                sent.append(track.number)
            bindings.bind(self.store, entity=ENTITY, key=shipped.key, system="magento", external_id=shipped.external_id,
                          source_version=version, data={"tracks": sent})
        return Outcome.done(f"tracking {', '.join(t.number for t in new)} added to Magento shipment {shipment_id}",
                            shipment_id=shipment_id, magento_order_id=order_id, tracks=sent)

    def magento_order_for(self, heartland_order_id: int) -> dict[str, Any] | str:
        """The Magento order a Heartland order came from, or why there is none."""
        magento = self.runtime.magento
        bound = bindings.find_external(self.store, "order", "heartland", str(heartland_order_id))
        if bound is not None:
            _, _, entity_id = bound.key.rpartition(":")
            return magento.order(int(entity_id))
        # The orders flow may have created the Heartland order and not bound it yet (it completes
        # that on its retry): its reference on the order names the Magento order.
        sales_order = self.runtime.heartland.sales_order(heartland_order_id)
        ref = str((sales_order.get("custom") or {}).get(ORDER_REF_FIELD) or "")
        source, _, number = ref.rpartition(":")
        if not source.startswith("magento:") or not number:
            return (f"Heartland order #{sales_order.get('public_id') or heartland_order_id} did not come from "
                    "Magento through Tillbridge (no order binding, no Tillbridge reference); not shipped in Magento")
        found = magento.order_by_increment_id(number)
        if found is None:
            return f"Heartland order #{sales_order.get('public_id')} names Magento order #{number}, which Magento lacks"
        return found

    def shipment_with_comment(self, order_id: int, text: str) -> dict[str, Any] | None:
        found = self.runtime.magento.search_shipments([("order_id", order_id)], page_size=100)
        for shipment in found.get("items") or []:
            if any((c.get("comment") or "") == text for c in shipment.get("comments") or []):
                return dict(shipment)
        return None
