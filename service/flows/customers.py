"""Customers, both ways: Magento customer ⇄ Heartland customer with addresses and phones.

Neither side owns a customer outright: rules/customers.yaml says, field by field, which side owns
it, or that the newest record (updated_at) wins a field both sides changed since they last agreed.
One customer's two directions run one at a time (a Redis lock on the email).

Steps for a Magento ``customer.*`` event (route "Magento → Heartland"; ``tillbridge flows show
customers``):
  stale?      the event's updated_at against the Magento version last synced: older is stale,
              equal is already synced (both ignored, with the reason)
  fetch       the customer as Magento holds it now (events arrive out of order)
  normalize   Magento customer → canonical Customer (customers.magento_to_canonical)
  echo?       equal to the hash of what we last wrote into Magento: ignored, "echo of our own write"
  resolve     Heartland customer by binding, else duplicate resolution (match: link it; review:
              create one and queue the pair; create), else by email when resolution is off, else
              created (customers.canonical_to_heartland)
  current     the Heartland customer as it is, with its addresses
  survive     the fields to write per rules/customers.yaml
  deliver     customer fields, then each address (line_1/line_2, phone, region code)
  re-read     the Heartland customer as written
  confirm     bindings under magento:<store>:<id> for both systems: versions synced, the hash of
              what we wrote (kept only while both sides agree in full), the address id map and
              the values both sides last agreed on

Steps for a Heartland customer hint (``{"kind": "customer", "id": …}``, from the Heartland webhook
or a poll; route "Heartland → Magento"): fetch (re-read by id), bindings, normalize, stale?, echo?,
account? (the customer of guest orders, or one without email, opens no Magento account), resolve
(the Magento customer by binding, else by email), survive, deliver (created, or PUT with addresses
in full: Magento replaces the list; addresses Heartland lacks are kept), confirm.

A run that fails after an effect (a 503 on an address) resumes after it: a customer created in
Heartland is not looked for or created again.

Polling backstop (webhooks get lost): :meth:`CustomersFlow.pollers` reads Heartland and Magento
customers changed since a cursor and records the same items a webhook would.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.canonical.customer import CUSTOMER_SCHEMA, SURVIVING_FIELDS, Customer, CustomerAddress
from service.engine.locks import shared_record_lock
from service.engine.outcome import Outcome
from service.engine.polling import covers
from service.engine.steps import Run, Step
from service.flows.checks import duplicates
from service.flows.registry import flow
from service.flows.routes import RoutedFlow, hold
from service.kernel.errors import DataError, NotFoundInTargetError
from service.rules.templates import MappingError, Template
from service.store import bindings, items
from service.store.tables import Binding

if TYPE_CHECKING:
    from service.engine.polling import Poller
    from service.flows.context import Context

MAGENTO_TO_CANONICAL = "mappings/customers.magento_to_canonical.yaml"
HEARTLAND_TO_CANONICAL = "mappings/customers.heartland_to_canonical.yaml"
CANONICAL_TO_HEARTLAND = "mappings/customers.canonical_to_heartland.yaml"
CANONICAL_TO_MAGENTO = "mappings/customers.canonical_to_magento.yaml"
RULES_FILE = "customers.yaml"
HEARTLAND_POLL = "heartland:customers"
MAGENTO_POLL = "magento:customers"
ECHO_REASON = "echo of our own write"
FROM_MAGENTO = "Magento → Heartland"
FROM_HEARTLAND = "Heartland → Magento"
LOCK_PREFIX = "tillbridge:lock:customer-email:"
#: Magento refuses an address without these (CustomerRepository validation).
MAGENTO_ADDRESS_REQUIRED = ("firstname", "lastname", "street", "city", "country_id", "telephone", "postcode")


def customer_key(store_code: str, magento_id: Any) -> str:
    """The binding key of a customer: the same one the orders flow binds a Magento account under."""
    return f"magento:{store_code}:{magento_id}"


def is_heartland_hint(payload: dict[str, Any]) -> bool:
    return payload.get("source") == "heartland" or (payload.get("kind") == "customer" and "event" not in payload)


def survive(incoming: Customer, target: Customer, base: dict[str, Any] | None,
            rules: dict[str, Any]) -> tuple[set[str], dict[str, str]]:
    """The fields to take from ``incoming`` into ``target``, and why each differing field went its way.

    A field a side owns (rules: ``magento`` or ``heartland``) always takes that side's value. For a
    ``newest`` field, one only one side changed since ``base`` (the values both sides last agreed
    on) keeps that side's value, and one both changed goes to the record updated last. Without a
    base (a customer linked for the first time) a field only one side has keeps that side's value,
    and every other differing field is a conflict.
    """
    policy = dict(rules.get("survivorship") or {})
    tie = str(rules.get("tie") or "magento")
    source, other = incoming.values(), target.values()
    take: set[str] = set()
    why: dict[str, str] = {}
    for name in SURVIVING_FIELDS:
        if source[name] == other[name]:
            continue
        if name == "email" and not source[name]:
            why[name] = f"kept: {incoming.source} has no email"
            continue
        rule = str(policy.get(name, "newest"))
        if rule in (incoming.source, target.source):
            if rule == incoming.source:
                take.add(name)
            why[name] = f"{'taken' if rule == incoming.source else 'kept'}: {rule} owns it"
            continue
        if rule != "newest":
            raise DataError(f"rules/{RULES_FILE}: survivorship of {name} is {rule!r}",
                            hint="use magento, heartland or newest")
        if base is None and not (source[name] and other[name]):
            # First link: a side with nothing (no addresses yet, say a customer we created a moment
            # ago) holds no value to defend; the side that has one keeps it, however new the other.
            if source[name]:
                take.add(name)
            why[name] = f"{'taken' if source[name] else 'kept'}: only {incoming.source if source[name] else target.source} has it"
            continue
        source_changed = base is None or source[name] != base.get(name)
        target_changed = base is None or other[name] != base.get(name)
        if not source_changed:
            why[name] = f"kept: only {target.source} changed it"
            continue
        if not target_changed:
            take.add(name)
            why[name] = f"taken: only {incoming.source} changed it"
            continue
        mine, theirs = duplicates.utc_text(incoming.updated_at), duplicates.utc_text(target.updated_at)
        wins = mine > theirs or (mine == theirs and tie == incoming.source)
        verdict = f"newest wins ({incoming.source} {mine or '?'} vs {target.source} {theirs or '?'})"
        if wins:
            take.add(name)
        why[name] = f"conflict, {'taken' if wins else 'kept'}: {verdict}"
    return take, why


def agreed(base: dict[str, Any] | None, one: Customer, other: Customer) -> dict[str, Any]:
    """The values both sides now hold alike; a field they still differ on keeps its last agreed value."""
    mine, theirs = one.values(), other.values()
    return {name: mine[name] if mine[name] == theirs[name] else (base or {}).get(name) for name in SURVIVING_FIELDS}


def remember_write(data: dict[str, Any], written: Customer, source: Customer) -> None:
    """Keep a hash of what we wrote, for echo suppression, only when both sides now agree in full.

    While they differ, the record we wrote still holds a change of its own for the other side: the
    next event from it is a real change, not an echo.
    """
    if written.values() == source.values():
        data["written"] = written.fingerprint()
    else:
        data.pop("written", None)


@flow
class CustomersFlow(RoutedFlow):
    name = "customers"
    direction = "Magento ⇄ Heartland"

    def __init__(self, runtime: Context) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self.declare({FROM_MAGENTO: self.magento_steps(), FROM_HEARTLAND: self.heartland_steps()},
                     given={FROM_MAGENTO: ("event", "store_code", "magento_id", "key"),
                            FROM_HEARTLAND: ("hint", "heartland_id")})

    # -- templates and records --------------------------------------------------------------------
    def template(self, name: str) -> Template:
        from service.flows.templates import lookup_for, template_spec

        return Template(template_spec(self.runtime, name), lookup=lookup_for(self.runtime.rules))

    def rules(self) -> dict[str, Any]:
        return dict(self.runtime.rules.load(RULES_FILE))

    def normalize(self, raw: dict[str, Any], template_name: str, store_code: str, label: str) -> Customer:
        try:
            mapped = self.template(template_name).apply(raw, {"store_code": store_code})
            customer: Customer = CUSTOMER_SCHEMA.load(mapped)
        except MappingError as exc:
            raise DataError(f"{label} cannot be mapped: {exc}", hint=f"fix the customer or rules/{template_name}",
                            details=exc.field_errors) from None
        except ValidationError as exc:
            raise DataError(f"{label} is not valid: {exc.messages}", hint=f"fix the customer or rules/{template_name}",
                            details=exc.messages) from None
        return customer

    def magento_customer(self, raw: dict[str, Any], store_code: str) -> Customer:
        return self.normalize(raw, MAGENTO_TO_CANONICAL, store_code, f"Magento customer {raw.get('id')}")

    def heartland_record(self, heartland_id: int) -> dict[str, Any]:
        heartland = self.runtime.heartland
        record = dict(heartland.customer(heartland_id))
        record["addresses"] = list(heartland.customer_addresses(heartland_id))
        return record

    def heartland_customer(self, record: dict[str, Any], store_code: str = "default") -> Customer:
        return self.normalize(record, HEARTLAND_TO_CANONICAL, store_code, f"Heartland customer {record.get('id')}")

    # -- the run ----------------------------------------------------------------------------------
    def route(self, run: Run) -> str:
        return FROM_HEARTLAND if is_heartland_hint(run.item.payload) else FROM_MAGENTO

    def start(self, run: Run) -> None:
        payload = run.item.payload
        heartland_side = is_heartland_hint(payload)
        record = (payload.get("record") if heartland_side else payload.get("data")) or {}
        # One customer's two directions run one at a time: the event our own write causes on the
        # other side then finds the binding and the hash of that write, however many workers run.
        hold(run, self.customer_lock(str(record.get("email") or "")))
        if heartland_side:
            run["hint"], run["heartland_id"] = payload, int(payload["id"])
            return
        store_code = run["store_code"] = str(payload.get("store_code") or "default")
        event = run["event"] = dict(payload.get("data") or {})
        magento_id = run["magento_id"] = event.get("id", event.get("entity_id"))
        if magento_id in (None, ""):
            raise DataError(f"Magento {payload.get('event')} event without the customer's id",
                            hint="send the customer as GET /V1/customers/{id} returns it")
        run["key"] = customer_key(store_code, magento_id)

    @contextmanager
    def customer_lock(self, email: str) -> Iterator[None]:
        if not email.strip():
            yield
            return
        with shared_record_lock(self.runtime.redis, f"{LOCK_PREFIX}{email.strip().lower()}", self.runtime.settings,
                                f"customer {email} is being synced in the other direction right now"):
            yield

    # -- Magento → Heartland ----------------------------------------------------------------------
    def magento_steps(self) -> tuple[Step, ...]:
        return (
            Step("stale?", self.step_magento_stale, "the event's updated_at against the Magento version last "
                 "synced: older is stale, equal already synced", reads=("event", "key", "magento_id"),
                 writes=("to_heartland", "to_magento")),
            Step("fetch", self.step_magento_fetch, "the customer as Magento holds it now (GET /V1/customers/{id})",
                 reads=("magento_id",), writes=("raw",)),
            Step("normalize", self.step_magento_normalize, f"Magento customer → canonical ({MAGENTO_TO_CANONICAL})",
                 reads=("raw", "store_code"), writes=("incoming",)),
            Step("echo?", self.step_magento_echo, "what we last wrote into Magento coming back is ignored",
                 reads=("incoming", "to_magento")),
            Step("resolve", self.step_heartland_customer, "the Heartland customer: binding, duplicate resolution, "
                 "email, else created", reads=("incoming", "key", "magento_id", "to_heartland"),
                 writes=("heartland_id", "created"), effect="heartland",
                 idempotency="the customer's binding, then the duplicate index (settled once the customer is "
                             "known), then the email"),
            Step("current", self.step_heartland_current, "the Heartland customer as it is, with its addresses",
                 reads=("heartland_id", "store_code", "to_heartland"), writes=("current", "data", "address_ids")),
            Step("survive", self.step_heartland_survive, f"the fields to write (rules/{RULES_FILE})",
                 reads=("incoming", "current", "data", "created"), writes=("take", "why")),
            Step("deliver", self.step_heartland_deliver, "customer fields, then each address",
                 reads=("heartland_id", "incoming", "current", "take", "address_ids"),
                 writes=("writes", "address_ids"), effect="heartland",
                 idempotency="fields are set to the surviving values; an address is matched by the id map, then "
                             "by its place, before one is added"),
            Step("re-read", self.step_heartland_reread, "the Heartland customer as written",
                 reads=("heartland_id", "store_code", "current", "writes"), writes=("after",)),
            Step("confirm", self.step_heartland_confirm, "bindings under magento:<store>:<id> for both systems",
                 reads=("key", "magento_id", "heartland_id", "incoming", "after", "data", "address_ids", "writes",
                        "to_magento", "created", "why"),
                 binding="customer magento:<store>:<id> → heartland and → magento"),
        )

    def step_magento_stale(self, run: Run) -> Outcome | None:
        key, event = run["key"], run["event"]
        to_heartland = run["to_heartland"] = bindings.find(self.store, "customer", key, "heartland")
        run["to_magento"] = bindings.find(self.store, "customer", key, "magento")
        skip = self.stale("magento", run["magento_id"], str(event.get("updated_at") or ""), to_heartland)
        return self.stale_outcome(run, skip, f"Magento version {event.get('updated_at') or '?'} is not synced yet")

    def step_magento_fetch(self, run: Run) -> None:
        # The event may be older than the customer now is (events arrive out of order): what is
        # synced is the customer as Magento holds it when the job runs.
        run["raw"] = self.runtime.magento.customer(int(run["magento_id"]))
        run.say(f"Magento customer {run['magento_id']}")

    def step_magento_normalize(self, run: Run) -> None:
        incoming = run["incoming"] = self.magento_customer(run["raw"], run["store_code"])
        run.say(f"{incoming.email}, {len(incoming.addresses)} addresses")

    def step_magento_echo(self, run: Run) -> Outcome | None:
        incoming: Customer = run["incoming"]
        skip = self.echo(incoming, run["to_magento"])
        run.say(skip or f"Magento version {incoming.updated_at or '?'} is new")
        return Outcome.ignored(skip) if skip else None

    def step_heartland_customer(self, run: Run) -> None:
        incoming: Customer = run["incoming"]
        to_heartland: Binding | None = run["to_heartland"]
        heartland = self.runtime.heartland
        created = False
        link = None
        heartland_id = int(to_heartland.external_id) if to_heartland else None
        if heartland_id is None:
            link = duplicates.link_customer(self.runtime, dedup_record(incoming), run["key"],
                                            f"Magento customer {run['magento_id']}")
            heartland_id = link.heartland_id
            if heartland_id is None and link.decision is None:
                matches = heartland.find_customers_by_email(incoming.email)
                if matches:  # Heartland does not keep emails unique: the oldest is the customer
                    heartland_id = int(min(matches, key=lambda c: int(c["id"]))["id"])
        if heartland_id is None:
            body = self.heartland_body(incoming)
            heartland_id = int(heartland.create_customer(body["customer"])["id"])
            created = True
        if link is not None:
            link.settle(heartland_id, created=created)
        run["heartland_id"], run["created"] = heartland_id, created
        run.say(f"Heartland customer {heartland_id} ({'created' if created else 'known'})")

    def step_heartland_current(self, run: Run) -> None:
        to_heartland: Binding | None = run["to_heartland"]
        data = run["data"] = dict(to_heartland.data or {}) if to_heartland else {}
        run["address_ids"] = {str(k): int(v) for k, v in (data.get("address_ids") or {}).items()}
        current = run["current"] = self.heartland_customer(self.heartland_record(run["heartland_id"]),
                                                           run["store_code"])
        run.say(f"{current.email}, {len(current.addresses)} addresses")

    def step_heartland_survive(self, run: Run) -> None:
        if run["created"]:
            take, why = {"addresses"}, {"addresses": "taken: new Heartland customer"}
        else:
            take, why = survive(run["incoming"], run["current"], run["data"].get("base"), self.rules())
        run["take"], run["why"] = take, why
        run.say("; ".join(f"{k} {v}" for k, v in why.items()) or "both sides agree")
        run.entry["detail"]["fields"] = why

    def step_heartland_deliver(self, run: Run) -> None:
        address_ids = dict(run["address_ids"])
        writes = self.write_heartland(run["heartland_id"], run["incoming"], run["current"], run["take"], address_ids)
        run["writes"], run["address_ids"] = writes, address_ids
        run.say(", ".join(writes) or "nothing to write")

    def step_heartland_reread(self, run: Run) -> None:
        if not run["writes"]:
            run["after"] = run["current"]
            run.say("nothing written")
            return
        after = run["after"] = self.heartland_customer(self.heartland_record(run["heartland_id"]), run["store_code"])
        run.say(f"{after.email}, {len(after.addresses)} addresses")

    def step_heartland_confirm(self, run: Run) -> Outcome:
        key, heartland_id, incoming = run["key"], run["heartland_id"], run["incoming"]
        data, writes, created = dict(run["data"]), run["writes"], run["created"]
        to_magento: Binding | None = run["to_magento"]
        data.update({"address_ids": run["address_ids"], "base": agreed(data.get("base"), run["after"], incoming)})
        if writes:
            remember_write(data, run["after"], incoming)
        self.bind(key, "heartland", heartland_id, incoming.updated_at, data)
        magento_data = dict(to_magento.data or {}) if to_magento else {}
        self.bind(key, "magento", run["magento_id"], to_magento.source_version if to_magento else "", magento_data)
        state = "created" if created else ("updated" if writes else "already up to date")
        run.say(f"Heartland customer {heartland_id} {state}")
        return Outcome.done(f"Heartland customer {heartland_id} {state}", heartland_id=heartland_id,
                            created=created, writes=writes, fields=run["why"])

    def heartland_body(self, customer: Customer) -> dict[str, Any]:
        record = asdict(customer)
        for address in record["addresses"]:
            # Heartland has two street lines: the rest of Magento's lines join the second.
            street = address["street"]
            address["street"] = [street[0], " ".join(street[1:])] if street else []
        try:
            return self.template(CANONICAL_TO_HEARTLAND).apply(
                record, {"first_name": customer.first_name, "last_name": customer.last_name})
        except MappingError as exc:
            raise DataError(str(exc), hint=f"fix rules/{CANONICAL_TO_HEARTLAND}", details=exc.field_errors) from None

    def write_heartland(self, heartland_id: int, incoming: Customer, current: Customer, take: set[str],
                        address_ids: dict[str, int]) -> list[str]:
        heartland = self.runtime.heartland
        body = self.heartland_body(incoming)
        writes: list[str] = []
        fields = {"first_name": "first_name", "last_name": "last_name", "email": "email"}
        changed = {target: body["customer"][target] for name, target in fields.items() if name in take}
        if changed:
            heartland.update_customer(heartland_id, changed)
            writes.append("customer " + ", ".join(sorted(changed)))
        by_id = {a.source_id: a for a in current.addresses}
        by_place = {a.key(): a for a in current.addresses}
        for address, address_body in zip(incoming.addresses, body["addresses"], strict=True):
            known = by_id.get(str(address_ids.get(address.source_id, "")))
            existing = known or by_place.get(address.key())
            if existing is not None:
                address_ids[address.source_id] = int(existing.source_id)
                if "addresses" in take and existing.row() != address.row():
                    heartland.update_customer_address(heartland_id, int(existing.source_id), address_body)
                    writes.append(f"address {existing.source_id}")
            elif "addresses" in take and (address.street or address.postcode):
                created = heartland.add_customer_address(heartland_id, address_body)
                address_ids[address.source_id] = int(created["id"])
                writes.append(f"new address {created['id']}")
        return writes

    # -- Heartland → Magento ----------------------------------------------------------------------
    def heartland_steps(self) -> tuple[Step, ...]:
        return (
            Step("fetch", self.step_heartland_fetch, "the Heartland customer with its addresses, re-read by id",
                 reads=("heartland_id",), writes=("record",)),
            Step("bindings", self.step_bindings, "the customer's bindings: its key, store and address id map",
                 reads=("heartland_id",), writes=("to_heartland", "to_magento", "key", "store_code", "data",
                                                  "address_ids")),
            Step("normalize", self.step_heartland_normalize,
                 f"Heartland customer → canonical ({HEARTLAND_TO_CANONICAL})", reads=("record", "store_code"),
                 writes=("incoming",)),
            Step("stale?", self.step_heartland_stale, "the hint's updated_at against the Heartland version last "
                 "synced", reads=("hint", "heartland_id", "incoming", "to_magento")),
            Step("echo?", self.step_heartland_echo, "what we last wrote into Heartland coming back is ignored",
                 reads=("incoming", "to_heartland")),
            Step("account?", self.step_account, "guests' customers and customers without email open no Magento "
                 "account", reads=("heartland_id", "incoming", "key", "to_heartland")),
            Step("resolve", self.step_magento_customer, "the Magento customer: binding, else by email",
                 reads=("incoming", "key", "to_magento"), writes=("raw", "magento_id")),
            Step("survive", self.step_magento_survive, f"the fields to write (rules/{RULES_FILE})",
                 reads=("incoming", "raw", "store_code", "data"), writes=("current", "take", "why")),
            Step("deliver", self.step_magento_deliver, "create the Magento customer, or update what survived",
                 reads=("incoming", "raw", "current", "take", "address_ids"),
                 writes=("written", "magento_id", "created", "writes"), effect="magento",
                 idempotency="the Magento customer is found by its binding, else by email, before one is created"),
            Step("confirm", self.step_magento_confirm, "bindings under magento:<store>:<id> for both systems",
                 reads=("heartland_id", "incoming", "written", "magento_id", "created", "writes", "why", "key",
                        "store_code", "data", "address_ids", "to_heartland", "to_magento"),
                 binding="customer magento:<store>:<id> → magento and → heartland"),
        )

    def step_heartland_fetch(self, run: Run) -> Outcome | None:
        heartland_id = run["heartland_id"]
        try:
            run["record"] = self.heartland_record(heartland_id)
        except NotFoundInTargetError:
            return Outcome.ignored(f"Heartland customer {heartland_id} no longer exists")
        run.say(f"Heartland customer {heartland_id}")
        return None

    def step_bindings(self, run: Run) -> None:
        to_heartland = run["to_heartland"] = bindings.find_external(self.store, "customer", "heartland",
                                                                    str(run["heartland_id"]))
        key = run["key"] = to_heartland.key if to_heartland else ""
        run["store_code"] = key.split(":")[1] if key.startswith("magento:") else "default"
        run["to_magento"] = bindings.find(self.store, "customer", key, "magento") if key else None
        data = run["data"] = dict(to_heartland.data or {}) if to_heartland else {}
        run["address_ids"] = {str(k): int(v) for k, v in (data.get("address_ids") or {}).items()}
        run.say(f"bound under {key}" if key else "not bound yet")

    def step_heartland_normalize(self, run: Run) -> None:
        incoming = run["incoming"] = self.heartland_customer(run["record"], run["store_code"])
        run.say(f"{incoming.email}, {len(incoming.addresses)} addresses")

    def step_heartland_stale(self, run: Run) -> Outcome | None:
        incoming: Customer = run["incoming"]
        hinted = str((run["hint"].get("record") or {}).get("updated_at") or "")
        skip = self.stale("heartland", run["heartland_id"], hinted or incoming.updated_at, run["to_magento"])
        return self.stale_outcome(run, skip, f"Heartland version {incoming.updated_at or '?'} is not synced yet")

    def step_heartland_echo(self, run: Run) -> Outcome | None:
        incoming: Customer = run["incoming"]
        skip = self.echo(incoming, run["to_heartland"])
        run.say(skip or f"Heartland version {incoming.updated_at or '?'} is new")
        return Outcome.ignored(skip) if skip else None

    def step_account(self, run: Run) -> Outcome | None:
        heartland_id, key, to_heartland = run["heartland_id"], run["key"], run["to_heartland"]
        if to_heartland is not None and not key.startswith("magento:"):
            return Outcome.ignored(f"Heartland customer {heartland_id} is the customer of Magento guest orders "
                                   f"({key}); guests have no Magento account to update and none is opened")
        if not run["incoming"].email and to_heartland is None:
            return Outcome.ignored(f"Heartland customer {heartland_id} has no email and no Magento account: "
                                   "Magento needs an email to open one")
        run.say(f"Magento account {key}" if key else "a Magento account by email")
        return None

    def step_magento_customer(self, run: Run) -> None:
        magento = self.runtime.magento
        key, to_magento = run["key"], run["to_magento"]
        incoming: Customer = run["incoming"]
        magento_id: int | None = int(to_magento.external_id) if to_magento else None
        if magento_id is None and key.startswith("magento:"):
            magento_id = int(key.rsplit(":", 1)[1])
        raw: dict[str, Any] | None
        if magento_id is not None:
            raw = magento.customer(magento_id)
        else:
            raw = magento.customer_by_email(incoming.email)
            magento_id = int(raw["id"]) if raw else None
        run["raw"], run["magento_id"] = raw, magento_id
        run.say(f"Magento customer {magento_id}" if magento_id is not None
                else f"no Magento customer with {incoming.email}: creating one")

    def step_magento_survive(self, run: Run) -> None:
        raw = run["raw"]
        if raw is None:
            run["current"], run["take"] = None, set(SURVIVING_FIELDS)
            why = run["why"] = {"all": "taken: new Magento customer"}
        else:
            current = run["current"] = self.magento_customer(raw, run["store_code"])
            take, why = survive(run["incoming"], current, run["data"].get("base"), self.rules())
            run["take"], run["why"] = take, why
        run.say("; ".join(f"{k} {v}" for k, v in why.items()) or "both sides agree")
        run.entry["detail"]["fields"] = why

    def step_magento_deliver(self, run: Run) -> None:
        magento = self.runtime.magento
        incoming: Customer = run["incoming"]
        raw, take, address_ids = run["raw"], run["take"], run["address_ids"]
        if raw is None:
            raw = magento.create_customer(self.magento_body(incoming, None, address_ids))
            writes, created = ["customer created"], True
            run.say(f"created Magento customer {raw['id']}")
        else:
            writes, created = sorted(take), False
            if take:
                merged = self.merged(incoming, run["current"], take)
                body = self.magento_body(merged, raw, address_ids, with_addresses="addresses" in take)
                raw = magento.update_customer(int(raw["id"]), body)
            run.say(("Magento customer " + ", ".join(writes)) if writes else "nothing to write")
        run["written"], run["magento_id"] = dict(raw), int(raw["id"])
        run["created"], run["writes"] = created, writes

    def step_magento_confirm(self, run: Run) -> Outcome:
        incoming: Customer = run["incoming"]
        magento_id, created, writes = run["magento_id"], run["created"], run["writes"]
        to_heartland: Binding | None = run["to_heartland"]
        to_magento: Binding | None = run["to_magento"]
        after = self.magento_customer(run["written"], run["store_code"])
        key = run["key"] or customer_key(run["store_code"], magento_id)
        address_ids, data = dict(run["address_ids"]), dict(run["data"])
        for address in after.addresses:  # Magento ids of the addresses we just wrote, by place
            match = next((a for a in incoming.addresses if a.key() == address.key()), None)
            if match is not None:
                address_ids[address.source_id] = int(match.source_id)
        data.update({"address_ids": address_ids, "base": agreed(data.get("base"), after, incoming)})
        self.bind(key, "heartland", run["heartland_id"], to_heartland.source_version if to_heartland else "", data)
        magento_data = dict(to_magento.data or {}) if to_magento else {}
        if writes:
            remember_write(magento_data, after, incoming)
        self.bind(key, "magento", magento_id, incoming.updated_at, magento_data)
        state = "created" if created else ("updated" if writes else "already up to date")
        run.say(f"Magento customer {magento_id} {state}")
        return Outcome.done(f"Magento customer {magento_id} {state}", magento_id=magento_id, created=created,
                            writes=writes, fields=run["why"])

    def merged(self, incoming: Customer, current: Customer, take: set[str]) -> Customer:
        """The Magento customer as it should be: ``current`` with the fields ``incoming`` won."""
        values = asdict(current)
        for name in take:
            values[name] = getattr(incoming, name)
        values["addresses"] = list(incoming.addresses if "addresses" in take else current.addresses)
        return Customer(**values)

    def magento_body(self, customer: Customer, raw: dict[str, Any] | None, address_ids: dict[str, int],
                     *, with_addresses: bool = True) -> dict[str, Any]:
        record = asdict(customer)
        try:
            body = self.template(CANONICAL_TO_MAGENTO).apply(
                record, {"first_name": customer.first_name, "last_name": customer.last_name})
        except MappingError as exc:
            raise DataError(str(exc), hint=f"fix rules/{CANONICAL_TO_MAGENTO}", details=exc.field_errors) from None
        if not with_addresses:
            body.pop("addresses", None)
            return body
        stored = {str(a["id"]): dict(a) for a in (raw or {}).get("addresses") or []}
        by_heartland = {str(h): m for m, h in address_ids.items()}
        stored_canonical = self.magento_customer(raw, customer.store_code).addresses if raw else []
        by_place = {a.key(): a.source_id for a in stored_canonical}
        used: set[str] = set()
        addresses: list[dict[str, Any]] = []
        for address, address_body in zip(customer.addresses, body["addresses"], strict=True):
            magento_address_id = (address.source_id if address.source_id in stored and customer.source == "magento"
                                  else by_heartland.get(address.source_id) or by_place.get(address.key()))
            existing = stored.get(str(magento_address_id)) if magento_address_id else None
            if existing is not None and str(existing["id"]) not in used:
                used.add(str(existing["id"]))
                address_body["id"] = int(existing["id"])
                address_body["default_billing"] = bool(existing.get("default_billing"))
                address_body["default_shipping"] = bool(existing.get("default_shipping"))
                for name in MAGENTO_ADDRESS_REQUIRED:  # Heartland may lack what Magento requires
                    if address_body.get(name) in (None, "", []):
                        address_body[name] = existing.get(name)
            if not address_body.get("region", {}).get("region_code"):
                address_body.pop("region", None)
            if all(address_body.get(name) not in (None, "", []) for name in MAGENTO_ADDRESS_REQUIRED):
                addresses.append({k: v for k, v in address_body.items() if v not in (None, "")})
        if raw is None and addresses and not any(a.get("default_billing") for a in addresses):
            addresses[0]["default_billing"] = addresses[0]["default_shipping"] = True
        body["addresses"] = addresses
        return body

    # -- polling backstop ----------------------------------------------------------------------------
    def pollers(self) -> list[Poller]:
        """Heartland and Magento customers changed since each cursor, as sync items of this flow."""
        from service.engine.polling import Poller

        def read_heartland(since: datetime) -> Iterator[dict[str, Any]]:
            moment = since.astimezone(UTC).replace(microsecond=0).isoformat()
            return self.runtime.heartland.iterate_customers(updated_since=moment)

        def read_magento(since: datetime) -> Iterator[dict[str, Any]]:
            # Magento filters updated_at in its own text form, UTC.
            from service.flows.order_polling import store_code_of

            moment = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
            # The store code the module's event carries (the customer's store view), so a poll and
            # its event are one item.
            codes: dict[int, str] | None = None
            for c in self.runtime.magento.iter_customers([("updated_at", moment, "gteq")]):
                codes = self.runtime.magento.store_codes() if codes is None else codes
                yield {**c, STORE_CODE_KEY: store_code_of(c, codes, "customer")}

        return [Poller(resource=HEARTLAND_POLL, read=read_heartland, record=record_heartland_changes),
                Poller(resource=MAGENTO_POLL, read=read_magento, record=record_magento_changes)]

    # -- checks and bindings ----------------------------------------------------------------------
    def stale(self, side: str, record_id: Any, version: str, synced: Binding | None) -> str:
        """Why an event at ``version`` is not a change to sync: older than, or the same as, the version
        of this side last synced (``synced.source_version``); "" when it is newer."""
        if synced is None or not synced.source_version or not version:
            return ""
        mine, last = duplicates.utc_text(version), duplicates.utc_text(synced.source_version)
        if not mine or not last or mine > last:
            return ""
        name = f"{side.capitalize()} customer {record_id}"
        if mine == last:
            return f"{name} already synced at this version ({version})"
        return f"stale: {name} updated_at {version} is older than the version already synced ({synced.source_version})"

    @staticmethod
    def stale_outcome(run: Run, skip: str, fresh: str) -> Outcome | None:
        """Ignored for ``skip`` (stale, or already synced), unless an earlier run of this item made
        effects and left work undone.

        Such a run created (or linked) the customer and failed before its addresses were written;
        meanwhile another item (a poll of the customer it created) may have bound both sides at
        this version without writing them. The version being synced then says nothing of this
        item's own work: it resumes after its effects and finishes it.
        """
        if skip and run.trace.progress:
            run.say(f"{skip}, but an earlier run of this item left its work unfinished: resuming it")
            return None
        run.say(skip or fresh)
        return Outcome.ignored(skip) if skip else None

    def echo(self, incoming: Customer, written: Binding | None) -> str:
        """ECHO_REASON when ``incoming`` is what we last wrote into its side (the binding of that side)."""
        data = (written.data or {}) if written is not None else {}
        # Hints of our intermediate writes (Heartland takes one call per address) wait on the
        # customer lock and re-read the record, so they see the final write and match it too.
        if data.get("written") and data["written"] == incoming.fingerprint():
            return ECHO_REASON
        return ""

    def bind(self, key: str, system: str, external_id: Any, version: str, data: dict[str, Any]) -> None:
        try:
            bindings.bind(self.store, entity="customer", key=key, system=system, external_id=str(external_id),
                          source_version=version, data=data)
        except IntegrityError:
            # Another key (a guest's email, a merged duplicate) holds this customer's binding: it
            # stays linked through duplicate resolution instead.
            holder = bindings.find_external(self.store, "customer", system, str(external_id))
            duplicates.tracing_note(f"{system} customer {external_id} is bound to "
                                       f"{holder.key if holder else 'another record'}; {key} is not bound again")


STORE_CODE_KEY = "_tillbridge_store_code"  # a polled Magento customer's store code, resolved from its store_id


def record_heartland_changes(session: Session, records: Sequence[dict[str, Any]]) -> list[int]:
    """Sync items for polled Heartland customers, shaped as the Heartland webhook records them; a
    change an item already covers (webhook, or an earlier poll's overlap) gets none."""
    return _record_polled(session, records, lambda r: (
        f"customers:heartland:customer:{r['id']}", "heartland→magento",
        f"Heartland customer {r.get('email') or r['id']} (poll)", {"kind": "customer", "id": r["id"], "record": dict(r)}))


def record_magento_changes(session: Session, records: Sequence[dict[str, Any]]) -> list[int]:
    """Sync items for polled Magento customers, shaped as Magento's customer.updated event."""
    def shaped(r: dict[str, Any]) -> tuple[str, str, str, dict[str, Any]]:
        store_code = str(r.get(STORE_CODE_KEY) or "default")
        data = {k: v for k, v in r.items() if k != STORE_CODE_KEY}
        return (f"customers:magento:{store_code}:{r['id']}", "magento→heartland",
                f"Magento customer {r.get('email') or r['id']} (poll)",
                {"event": "customer.updated", "occurred_at": str(r.get("updated_at") or ""),
                 "store_code": store_code, "data": data})

    return _record_polled(session, records, shaped)


def _record_polled(session: Session, records: Sequence[dict[str, Any]],
                   shape: Callable[[dict[str, Any]], tuple[str, str, str, dict[str, Any]]]) -> list[int]:
    shaped = {key: (record, direction, label, payload)
              for record in records if record.get("id") not in (None, "")
              for key, direction, label, payload in [shape(record)]}
    newest = items.latest_by_key(session, "customers", list(shaped), by="version")
    created = []
    for key, (record, direction, label, payload) in shaped.items():
        version = str(record.get("updated_at") or "")
        last = newest.get(key)
        if last is not None and covers(last, version):
            continue
        created.append(int(items.create(session, flow="customers", direction=direction, entity_key=key, label=label,
                                        payload=payload, source_version=version).id))
    return created


def dedup_record(customer: Customer) -> dict[str, str]:
    """A canonical customer as duplicate resolution compares it: the default billing address and phone."""
    address = next((a for a in customer.addresses if a.default_billing), None) or \
        (customer.addresses[0] if customer.addresses else CustomerAddress())
    return {
        "first_name": customer.first_name, "middle_name": "", "last_name": customer.last_name,
        "email": customer.email, "phone": address.phone,
        "street": ", ".join(line.strip() for line in address.street if line.strip()),
        "city": address.city, "region": address.region_code or address.region, "postcode": address.postcode,
        "country": address.country, "dob": "",
        "magento_id": customer.source_id if customer.source == "magento" else "",
        "heartland_id": customer.source_id if customer.source == "heartland" else "",
        "source": customer.source, "updated_at": duplicates.utc_text(customer.updated_at),
    }
