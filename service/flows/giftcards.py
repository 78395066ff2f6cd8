"""Gift cards, both ways: Heartland gift card ⇄ Magento gift card account (the module's route).

Neither side owns the balance, and neither side's balance ever overwrites the other: each side's
change log is the truth. In Heartland that is ``gift_card_adjustments``; in Magento it is the gift
card account history, read through the Tillbridge module's ``GET /V1/tillbridge/giftcard-history``
(checkout use, admin edits and adjustments alike). Each change on one side becomes one adjustment
on the other, keyed by the change it copies: ``heartland-adj:<adjustment id>`` in Magento (the
module's idempotency key) and ``magento-adj:<history id>`` in Heartland (the adjustment's custom
key field). A retry never applies twice, and a change that carries one of our keys is our own write
coming back: an echo, never copied again. Concurrent changes on both sides are deltas, so both
apply and the balances end equal.

Trigger: polling only. Heartland sends no gift-card webhook (reference §3.12), and the module emits
no gift-card event, so the scheduler reads Heartland adjustments and new cards
(``heartland:gift_card_adjustments``) and Magento's history (``magento:giftcards``) since their
cursors, and records one item per card (entity key ``giftcards:<fingerprint of the number>``, so
both directions of one card run one at a time under the entity lock).

Steps for one card (whichever side's change started it, both directions are reconciled;
``tillbridge flows show giftcards``):
  card      the number: Heartland card by id, or the code of the Magento history entry
  rules     rules/giftcards.yaml: is this card synced (number_prefixes)?
  read      both cards, then both change logs (each side's balance is the balance after its
            newest change, so a change landing mid-read cannot look like drift)
  open      a card only one side has is opened on the other with the balance it opened with
            (create_in_magento / create_in_heartland), bound before the create
  link      both sides without a binding: linked, changes before the link stay on their side
  mirror    each change since the link with no copy on the other side yet (and not our own
            copy, nor a Heartland ``local_reasons`` correction) is applied there as an
            adjustment with its key; Heartland reasons from ``heartland_reasons``
  confirm   bindings for both systems (card ids; where the link began on each side); a copy the
            other side refused (it would go below zero): review
  check     both balances must now agree; a difference no change explains is drift: review,
            with both balances

A run that failed after ``open`` or ``mirror`` resumes after it; one that ended in review keeps
nothing, so a person's retry reads both sides afresh and copies what is still missing (every copy
is found again by its key).

Gift card numbers are bearer credentials: items, bindings and labels carry a fingerprint of the
number and its last four characters, never the number.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.engine.outcome import Outcome
from service.engine.steps import Run, Step, StepFlow, check_steps
from service.engine.trace import Trace
from service.flows.registry import flow
from service.kernel.errors import DataError, NotFoundInTargetError
from service.kernel.numbers import whole_number
from service.store import bindings, items
from service.store.tables import SyncItem

if TYPE_CHECKING:
    from service.engine.polling import Poller
    from service.flows.context import Context

RULES_FILE = "giftcards.yaml"
HEARTLAND_POLL = "heartland:gift_card_adjustments"
MAGENTO_POLL = "magento:giftcards"
ENTITY = "giftcard"
FROM_HEARTLAND = "heartland-adj:"  # our key on a Magento adjustment copying a Heartland one
FROM_MAGENTO = "magento-adj:"  # our key on a Heartland adjustment copying a Magento change
ECHO_REASON = "echo of our own adjustment"
HEARTLAND_DIRECTION = "heartland→magento"
MAGENTO_DIRECTION = "magento→heartland"
CENT = 0.005


def normalise(number: Any) -> str:
    return "".join(str(number or "").split()).upper()


def card_key(number: Any) -> str:
    """The entity key of a card: a fingerprint of its number, the same from either side."""
    digest = hashlib.sha256(f"tillbridge-giftcard:{normalise(number)}".encode()).hexdigest()
    return f"giftcards:{digest[:24]}"


def masked(number: Any) -> str:
    text = normalise(number)
    return f"gift card …{text[-4:]}" if text else "gift card (no number)"


def money(value: Any) -> float:
    return round(float(value or 0), 2)


@dataclass(frozen=True)
class Change:
    """One balance change on one side, as the flow compares them."""

    side: str  # heartland | magento
    id: int
    amount: float
    balance_after: float
    key: str  # the idempotency key it carries ("" for none)
    label: str  # the Magento history action or reason, for the copy's description
    reason_id: int = 0  # the Heartland adjustment's reason

    @property
    def copy_key(self) -> str:
        return f"{FROM_HEARTLAND if self.side == 'heartland' else FROM_MAGENTO}{self.id}"

    @property
    def ours(self) -> bool:
        return self.key.startswith(FROM_MAGENTO if self.side == "heartland" else FROM_HEARTLAND)


@dataclass
class Side:
    """One side of a card: the card record (None when absent), its changes and its balance."""

    name: str
    card: dict[str, Any] | None = None
    changes: list[Change] = field(default_factory=list)
    opening: float = 0.0  # the balance it had before its first change

    @property
    def balance(self) -> float:
        if self.changes:
            return self.changes[-1].balance_after
        return money((self.card or {}).get("balance"))

    def keys(self) -> set[str]:
        return {c.key for c in self.changes if c.key}


@dataclass(frozen=True)
class GiftCardRules:
    prefixes: tuple[str, ...]
    create_in_magento: bool
    create_in_heartland: bool
    credit_reason: int
    debit_reason: int
    local_reasons: frozenset[int]
    reason_names: dict[int, str]

    def synced(self, number: str) -> bool:
        return not self.prefixes or normalise(number).startswith(self.prefixes)


def resolve_rules(raw: Any, reasons: Sequence[dict[str, Any]]) -> GiftCardRules:
    """rules/giftcards.yaml against Heartland's gift-card adjustment reasons (by name or id)."""
    where = f"rules/{RULES_FILE}"
    if not isinstance(raw, dict):
        raise DataError(f"{where} must be a mapping", hint="see the comments in the shipped rules/giftcards.yaml")
    by_ref: dict[str, int] = {}
    for reason in reasons:
        for ref in (reason.get("id"), reason.get("name")):
            if ref is not None and str(ref).strip():
                by_ref[str(ref).strip().casefold()] = int(reason["id"])

    def reason_id(ref: Any, what: str) -> int:
        found = by_ref.get(str(ref).strip().casefold()) if ref is not None else None
        if found is None:
            known = ", ".join(sorted(str(r.get("name")) for r in reasons))
            raise DataError(f"{where}: {what} {ref!r} is not a Heartland gift-card adjustment reason",
                            hint=f"known reasons: {known}")
        return found

    chosen = raw.get("heartland_reasons") or {}
    if not isinstance(chosen, dict):
        raise DataError(f"{where}: heartland_reasons must be a mapping", hint="give credit: and debit: reasons")
    credit = reason_id(chosen.get("credit"), "heartland_reasons.credit")
    debit = reason_id(chosen.get("debit"), "heartland_reasons.debit")
    local = frozenset(reason_id(ref, "local_reasons entry") for ref in raw.get("local_reasons") or [])
    if {credit, debit} & local:
        raise DataError(f"{where}: a reason in heartland_reasons is also in local_reasons",
                        hint="Tillbridge's own adjustments must carry a reason that is copied")
    return GiftCardRules(
        prefixes=tuple(normalise(p) for p in raw.get("number_prefixes") or [] if normalise(p)),
        create_in_magento=bool(raw.get("create_in_magento", True)),
        create_in_heartland=bool(raw.get("create_in_heartland", True)),
        credit_reason=credit, debit_reason=debit, local_reasons=local,
        reason_names={int(r["id"]): str(r.get("name") or r["id"]) for r in reasons})


# -- polling ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CardChange:
    """A card one poll saw change: where, and the newest change id seen there."""

    side: str
    key: str  # card_key(number)
    number_tail: str  # masked(number)
    ref: int  # Heartland card id, or the Magento history id to find the code by
    version: int  # newest change id seen on that side (0: a new card without changes)


def heartland_changes(adjustments: Iterable[dict[str, Any]], cards: Iterable[dict[str, Any]]) -> list[CardChange]:
    """Polled Heartland adjustments and new cards → the newest change per card."""
    newest: dict[int, CardChange] = {}
    for card in cards:
        newest[int(card["id"])] = CardChange("heartland", card_key(card["number"]), masked(card["number"]),
                                             int(card["id"]), 0)
    for adj in sorted(adjustments, key=lambda a: int(a["id"])):
        card_id = int(adj["gift_card_id"])
        number = adj.get("gift_card_number") or (adj.get("gift_card") or {}).get("number")
        newest[card_id] = CardChange("heartland", card_key(number), masked(number), card_id, int(adj["id"]))
    return list(newest.values())


def magento_changes(history: Iterable[dict[str, Any]]) -> list[CardChange]:
    newest: dict[str, CardChange] = {}
    for entry in sorted(history, key=lambda e: int(e["id"])):
        code = normalise(entry["code"])
        newest[code] = CardChange("magento", card_key(code), masked(code), int(entry["id"]), int(entry["id"]))
    return list(newest.values())


def record_changes(session: Session, changes: Sequence[CardChange]) -> list[int]:
    """One item per changed card, unless one waiting to run or one at this version covers it
    (the overlap window re-reads changes; a waiting run reads both logs when it starts)."""
    keys = sorted({c.key for c in changes})
    known: dict[tuple[str, str], list[SyncItem]] = {}
    for start in range(0, len(keys), 500):
        rows = session.scalars(select(SyncItem).where(SyncItem.flow == GiftCardsFlow.name,
                                                      SyncItem.entity_key.in_(keys[start:start + 500])))
        for row in rows:
            known.setdefault((row.entity_key, row.direction), []).append(row)
    created = []
    for change in changes:
        direction = HEARTLAND_DIRECTION if change.side == "heartland" else MAGENTO_DIRECTION
        earlier = known.get((change.key, direction), [])
        if any(i.state == "received" or _version(i.source_version) >= change.version for i in earlier):
            continue
        payload: dict[str, Any] = {"source": change.side}
        payload["gift_card_id" if change.side == "heartland" else "history_id"] = change.ref
        item = items.create(session, flow=GiftCardsFlow.name, direction=direction, entity_key=change.key,
                            label=f"{change.number_tail} ({change.side.capitalize()} poll)", payload=payload,
                            source_version=str(change.version))
        known.setdefault((change.key, direction), []).append(item)
        created.append(int(item.id))
    return created


def _version(text: str) -> int:
    number = whole_number(text, max_digits=30)
    return number if number is not None else 0


# -- the flow -----------------------------------------------------------------------------------------
@dataclass
class Mirror:
    applied: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    copies: list[dict[str, Any]] = field(default_factory=list)  # {"to": side, "key": copy key, "amount": …}


def balance_now(side: Side, copies: Sequence[dict[str, Any]]) -> float:
    """The side's balance with the copies made to it that its read did not show yet (a run resuming
    after the mirror read the side after the copies, so they are in its balance already)."""
    shown = side.keys()
    return money(side.balance + sum(float(c["amount"]) for c in copies
                                    if c["to"] == side.name and c["key"] not in shown))


@flow
class GiftCardsFlow(StepFlow):
    name = "giftcards"
    direction = "Heartland ⇄ Magento"
    given = ("payload",)

    def __init__(self, runtime: Context) -> None:
        self.runtime = runtime
        self.store = runtime.store
        both = "heartland, magento"
        self.steps = (
            Step("card", self.step_card, "the card's number, from the side whose change started the run",
                 reads=("payload",), writes=("number",)),
            Step("rules", self.step_rules, f"is this card synced? (rules/{RULES_FILE} number_prefixes)",
                 reads=("number",), writes=("rules", "key")),
            Step("read", self.step_read, "both cards and both change logs; the card's bindings",
                 reads=("number", "key"), writes=("hl", "mg", "linked", "data")),
            Step("open", self.step_open, "a card only one side has, opened on the other with its opening balance",
                 reads=("number", "key", "rules", "hl", "mg", "linked", "data"), writes=("opened", "data"),
                 effect=both, idempotency="bound before the create; the next read finds the card by its number",
                 binding="giftcard <fingerprint> → the side it came from"),
            Step("link", self.step_link, "both sides without a binding: linked; earlier changes stay on their side",
                 reads=("number", "key", "hl", "mg", "linked", "opened"), binding="giftcard <fingerprint> → both",
                 decides=True),
            Step("mirror", self.step_mirror, "each change with no copy on the other side yet, copied there",
                 reads=("number", "hl", "mg", "data", "rules"), writes=("applied", "refused", "copies"),
                 effect=both, idempotency=f"each copy carries its key ({FROM_HEARTLAND}<id> in Magento, "
                                          f"{FROM_MAGENTO}<id> in Heartland), looked for before it is made"),
            Step("confirm", self.step_confirm, "the bindings of both sides; a refused copy: review",
                 reads=("number", "key", "hl", "mg", "data", "applied", "refused"),
                 binding="giftcard <fingerprint> → heartland, magento"),
            Step("check", self.step_check, "both balances agree; a difference no change explains: review",
                 reads=("number", "payload", "hl", "mg", "data", "opened", "applied", "copies")),
        )
        check_steps(self.steps, self.given)

    def rules(self) -> GiftCardRules:
        return resolve_rules(self.runtime.rules.load(RULES_FILE), self.runtime.heartland.gift_card_reasons())

    # -- trigger --------------------------------------------------------------------------------------
    def pollers(self) -> list[Poller]:
        from service.engine.polling import Poller

        heartland, magento = self.runtime.heartland, self.runtime.magento

        def read_heartland(since: datetime) -> list[CardChange]:
            moment = since.astimezone(UTC).replace(microsecond=0).isoformat()
            adjustments = heartland.iterate("gift_card_adjustments", {"created_at": {"$gte": moment}},
                                            include=["gift_card"])
            # A card sold with an opening balance may have no adjustment yet.
            cards = heartland.iterate("gift_cards", {"created_at": {"$gte": moment}}, only=["id", "number"])
            return heartland_changes(list(adjustments), list(cards))

        def read_magento(since: datetime) -> list[CardChange]:
            moment = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
            return magento_changes(magento.giftcard_history(since=moment))

        return [Poller(resource=HEARTLAND_POLL, read=read_heartland, record=record_changes),
                Poller(resource=MAGENTO_POLL, read=read_magento, record=record_changes)]

    # -- one card -------------------------------------------------------------------------------------
    def run(self, item: SyncItem, trace: Trace) -> Outcome:
        outcome = super().run(item, trace)
        if outcome.state == "review":
            # Every effect is found again by its key or binding: a person's retry reads both sides
            # afresh and copies what is still missing, rather than resuming after this run's mirror.
            trace.progress.clear()
        return outcome

    def start(self, run: Run) -> None:
        run["payload"] = run.item.payload

    def step_card(self, run: Run) -> Outcome | None:
        payload = run["payload"]
        number = run["number"] = self.number(payload)
        run.say(f"{masked(number)} ({payload.get('source')} change)")
        if number is None:
            return Outcome.ignored(f"the {payload.get('source')} gift card of this change no longer exists")
        return None

    def step_rules(self, run: Run) -> Outcome | None:
        number = run["number"]
        rules = run["rules"] = self.rules()
        run["key"] = card_key(number)
        if not rules.synced(number):
            return Outcome.ignored(f"{masked(number)} is not synced: its number does not start with "
                                   f"{', '.join(rules.prefixes)} (rules/{RULES_FILE} number_prefixes)")
        run.say("synced" + (f": its number starts with {', '.join(rules.prefixes)}" if rules.prefixes else ""))
        return None

    def step_read(self, run: Run) -> Outcome | None:
        number, key = run["number"], run["key"]
        to_heartland = bindings.find(self.store, ENTITY, key, "heartland")
        to_magento = bindings.find(self.store, ENTITY, key, "magento")
        hl, mg = run["hl"], run["mg"] = self.read_heartland(number, to_heartland), self.read_magento(number)
        run.say(f"Heartland {self.describe_side(hl)}; Magento {self.describe_side(mg)}")
        run["linked"] = to_heartland is not None or to_magento is not None
        run["data"] = {**((to_magento.data or {}) if to_magento else {}),
                       **((to_heartland.data or {}) if to_heartland else {})}
        if hl.card is None and mg.card is None:
            return Outcome.ignored(f"{masked(number)} exists on neither side any more")
        return None

    def step_open(self, run: Run) -> Outcome | None:
        number, hl, mg = run["number"], run["hl"], run["mg"]
        run["opened"] = ""  # the side this run opened the card on, if it did
        if hl.card is not None and mg.card is not None:
            run.say("on both sides")
            return None
        rules: GiftCardRules = run["rules"]
        source, target = (hl, mg) if mg.card is None else (mg, hl)
        if run["linked"] and run["data"].get("opening_in") != target.name:
            return Outcome.review(f"{masked(number)} was linked, but {target.name.capitalize()} no longer has "
                                  f"it: re-create it there with the {source.name.capitalize()} balance "
                                  f"({source.balance:.2f}), or disable the {source.name.capitalize()} card")
        allowed = rules.create_in_magento if target.name == "magento" else rules.create_in_heartland
        if not allowed:
            return Outcome.ignored(f"{masked(number)} exists in {source.name.capitalize()} only, and "
                                   f"rules/{RULES_FILE} create_in_{target.name} is false")
        data = run["data"] = {"heartland_from": 0, "magento_from": 0, "opening_in": target.name}
        # Bound before the create: a crash after it finds the binding, opens it and copies the changes.
        self.bind(run["key"], source, data)
        self.open(number, source, target, rules)
        run["opened"] = f"opened in {target.name.capitalize()} with {source.opening:.2f}"
        run.say(f"opened in {target.name.capitalize()} with {source.opening:.2f}, the balance "
                f"the {source.name.capitalize()} card opened with")
        return None

    def step_link(self, run: Run) -> Outcome | None:
        number, hl, mg = run["number"], run["hl"], run["mg"]
        if run["linked"] or run["opened"]:
            run.say("linked already" if run["linked"] else "opened by this run")
            return None
        data = {"heartland_from": max((c.id for c in hl.changes), default=0),
                "magento_from": max((c.id for c in mg.changes), default=0)}
        run.say(f"{masked(number)} exists on both sides: linked; changes before now stay on their side")
        self.bind(run["key"], hl, data)
        self.bind(run["key"], mg, data)
        if abs(hl.balance - mg.balance) > CENT:
            return self.drift(number, hl, mg, "linked with different balances")
        return Outcome.done(f"{masked(number)} linked at {hl.balance:.2f}", linked=True, balance=hl.balance)

    def step_mirror(self, run: Run) -> None:
        done = self.mirror(run["number"], run["hl"], run["mg"], run["data"], run["rules"])
        run["applied"], run["refused"], run["copies"] = done.applied, done.refused, done.copies
        run.say("; ".join(done.applied + done.refused) or "nothing to copy")

    def step_confirm(self, run: Run) -> Outcome | None:
        number, data = run["number"], run["data"]
        self.bind(run["key"], run["hl"], data)
        self.bind(run["key"], run["mg"], data)
        if run["refused"]:
            return Outcome.review(f"{masked(number)}: " + "; ".join(run["refused"]), applied=run["applied"],
                                  refused=run["refused"])
        run.say("both sides bound")
        return None

    def step_check(self, run: Run) -> Outcome:
        number, hl, mg, applied = run["number"], run["hl"], run["mg"], run["applied"]
        heartland_now, magento_now = balance_now(hl, run["copies"]), balance_now(mg, run["copies"])
        run.say(f"Heartland {heartland_now:.2f}, Magento {magento_now:.2f}")
        if abs(heartland_now - magento_now) > CENT:
            return self.drift(number, hl, mg, "balances differ after copying every change",
                              heartland_now, magento_now, applied)
        if run["opened"]:
            copied = f"; {len(applied)} adjustment(s) copied" if applied else ""
            return Outcome.done(f"{masked(number)} {run['opened']}{copied}, balance {heartland_now:.2f}", created=True,
                                applied=applied, balance=heartland_now)
        if not applied:
            if self.echo(run["payload"], hl, mg, run["data"]):
                return Outcome.ignored(f"{ECHO_REASON}: {masked(number)} already in step at {heartland_now:.2f}")
            return Outcome.ignored(f"{masked(number)} already in step at {heartland_now:.2f}", balance=heartland_now)
        return Outcome.done(f"{masked(number)}: {len(applied)} adjustment(s) copied, balance {heartland_now:.2f}",
                            applied=applied, balance=heartland_now)

    def number(self, payload: dict[str, Any]) -> str | None:
        if payload.get("source") == "heartland":
            try:
                return str(self.runtime.heartland.gift_card(int(payload["gift_card_id"]))["number"])
            except NotFoundInTargetError:
                return None
        history_id = int(payload["history_id"])
        found = next(iter(self.runtime.magento.giftcard_history(after_id=history_id - 1, page_size=1)), None)
        if found is None or int(found["id"]) != history_id:
            return None
        return str(found["code"])

    def echo(self, payload: dict[str, Any], hl: Side, mg: Side, data: dict[str, Any]) -> bool:
        """Whether the change that started this run is our own write: the newest change on its side
        carries our key, or it is a card we opened there and nothing has changed it since."""
        side = hl if payload.get("source") == "heartland" else mg
        if side.changes:
            return side.changes[-1].ours
        return data.get("opening_in") == side.name

    def describe_side(self, side: Side) -> str:
        if side.card is None:
            return "no card"
        return f"{side.balance:.2f} after {len(side.changes)} change(s)"

    # -- reads ----------------------------------------------------------------------------------------
    def read_heartland(self, number: str, bound: Any) -> Side:
        heartland = self.runtime.heartland
        side = Side("heartland")
        card: dict[str, Any] | None = None
        if bound is not None:
            try:
                card = heartland.gift_card(int(bound.external_id))
            except NotFoundInTargetError:
                card = None
        if card is None:
            card = heartland.find_gift_card(number)
        if card is None:
            return side
        side.card = dict(card)
        # The card first, then its adjustments: with no adjustments then, the card's balance is its
        # opening balance; with some, each carries the balance after it.
        for adj in sorted(heartland.gift_card_adjustments(int(card["id"])), key=lambda a: int(a["id"])):
            side.changes.append(Change(
                "heartland", int(adj["id"]), money(adj["amount"]), money(adj["balance_after"]),
                str((adj.get("custom") or {}).get(heartland.key_field) or ""), "", int(adj.get("reason_id") or 0)))
        first = side.changes[0] if side.changes else None
        side.opening = money(first.balance_after - first.amount) if first else money(card.get("balance"))
        return side

    def read_magento(self, number: str) -> Side:
        magento = self.runtime.magento
        side = Side("magento")
        try:
            card = magento.giftcard(number)
        except NotFoundInTargetError:
            return side
        side.card = dict(card)
        entries = sorted(magento.giftcard_history(code=str(card["code"])), key=lambda e: int(e["id"]))
        created = next((e for e in entries if e.get("action") == "created"), None)
        for entry in entries:
            if entry is created:
                continue
            side.changes.append(Change("magento", int(entry["id"]), money(entry["balance_delta"]),
                                       money(entry["balance_amount"]), str(entry.get("idempotency_key") or ""),
                                       str(entry.get("reason") or entry.get("action") or "")))
        if created is not None:
            side.opening = money(created["balance_amount"])
        elif side.changes:
            side.opening = money(side.changes[0].balance_after - side.changes[0].amount)
        else:
            side.opening = money(card.get("balance"))
        return side

    # -- writes ---------------------------------------------------------------------------------------
    def open(self, number: str, source: Side, target: Side, rules: GiftCardRules) -> None:
        if target.name == "magento":
            card = self.runtime.magento.create_giftcard(number, source.opening)
        else:
            if not normalise(number).isalnum():
                raise DataError(f"{masked(number)}: Heartland gift card numbers hold only letters and digits",
                                hint="give the Magento gift card a code of letters and digits, or set "
                                     f"create_in_heartland: false in rules/{RULES_FILE}")
            card = self.runtime.heartland.create_gift_card({"number": number, "balance": source.opening})
        target.card = dict(card)
        target.opening = source.opening

    def mirror(self, number: str, hl: Side, mg: Side, data: dict[str, Any], rules: GiftCardRules) -> Mirror:
        done = Mirror()
        in_magento, in_heartland = mg.keys(), hl.keys()
        for change in hl.changes:
            if (change.id <= int(data.get("heartland_from") or 0) or change.ours or change.copy_key in in_magento
                    or change.reason_id in rules.local_reasons):
                continue
            reason = f"Heartland {rules.reason_names.get(change.reason_id, 'adjustment')} (adjustment {change.id})"
            self.copy(change, done, lambda c=change, r=reason: self.runtime.magento.adjust_giftcard(
                number, c.amount, c.copy_key, r))
        card_id = int((hl.card or {})["id"])
        for change in mg.changes:
            if change.id <= int(data.get("magento_from") or 0) or change.ours or change.copy_key in in_heartland:
                continue
            reason_id = rules.credit_reason if change.amount > 0 else rules.debit_reason
            self.copy(change, done, lambda c=change, r=reason_id: self.runtime.heartland.adjust_gift_card(
                card_id, c.amount, r, key=c.copy_key, description=f"Magento {c.label} (history {c.id})"[:255]))
        return done

    def copy(self, change: Change, done: Mirror, write: Any) -> None:
        target = "magento" if change.side == "heartland" else "heartland"
        what = f"{change.amount:+.2f} from {change.side.capitalize()} {change.id}"
        try:
            write()
        except DataError as exc:  # refused as data, typically a balance that would go below zero
            done.refused.append(f"{target.capitalize()} refused {what}: {exc}")
            return
        done.copies.append({"to": target, "key": change.copy_key, "amount": change.amount})
        done.applied.append(f"{what} → {target.capitalize()} as {change.copy_key}")

    def drift(self, number: str, hl: Side, mg: Side, why: str, heartland: float | None = None,
              magento: float | None = None, applied: list[str] | None = None) -> Outcome:
        h = hl.balance if heartland is None else heartland
        m = mg.balance if magento is None else magento
        return Outcome.review(
            f"{masked(number)} drift: {why}: Heartland {h:.2f}, Magento {m:.2f} (difference {h - m:+.2f}); no "
            f"adjustment explains it. Correct one side, e.g. a Heartland adjustment with a local reason "
            f"(rules/{RULES_FILE} local_reasons), which is not copied",
            heartland=h, magento=m, applied=applied or [])

    def bind(self, key: str, side: Side, data: dict[str, Any]) -> None:
        if side.card is None:
            return
        bindings.bind(self.store, entity=ENTITY, key=key, system=side.name, external_id=str(side.card["id"]),
                      source_version=str(max((c.id for c in side.changes), default=0)), data=dict(data))
