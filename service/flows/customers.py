"""Customers, both ways: Magento customer ⇄ Heartland customer with addresses and phones.

Neither side owns a customer outright: rules/customers.yaml says, field by field, which side owns
it, or that the newest record (updated_at) wins a field both sides changed since they last agreed.
One customer's two directions run one at a time (a Redis lock on the email).

Steps for a Magento ``customer.*`` event:
  1. check         the event's updated_at against the Magento version last synced: older is
                   stale, equal is already synced (both ignored, with the reason)
  2. fetch         the customer as Magento holds it now (events arrive out of order)
  3. normalize     Magento customer → canonical Customer (customers.magento_to_canonical)
  4. echo          equal to the hash of what we last wrote into Magento: ignored, "echo of our own write"
  5. resolve       Heartland customer by binding, else duplicate resolution (match: link it;
                   review: create one and queue the pair; create), else by email when resolution
                   is off, else created (customers.canonical_to_heartland)
  6. survive       the fields to write per rules/customers.yaml
  7. deliver       customer fields, then each address (line_1/line_2, phone, region code)
  8. confirm       bindings under magento:<store>:<id> for both systems: versions synced, the
                   hash of what we wrote (kept only while both sides agree in full), the address
                   id map and the values both sides last agreed on

Steps for a Heartland customer hint (``{"kind": "customer", "id": …}``, from the Heartland webhook
or a poll): re-read by id; stale and echo checks as above; the customer of guest orders is left
alone (no Magento account); the Magento customer by binding, else by email, else created; survive;
PUT (addresses in full: Magento replaces the list; addresses Heartland lacks are kept); confirm.

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

from service.canonical.customer import SURVIVING_FIELDS, Customer, CustomerAddress, CustomerSchema
from service.engine.locks import shared_record_lock
from service.engine.outcome import Outcome
from service.engine.polling import covers
from service.engine.trace import Trace
from service.flows.checks import duplicates
from service.flows.registry import flow
from service.kernel.errors import DataError, NotFoundInTargetError
from service.rules.templates import MappingError, Template
from service.store import bindings, items
from service.store.tables import Binding, SyncItem

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
    base (a customer linked for the first time) every differing field is a conflict.
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
class CustomersFlow:
    name = "customers"
    direction = "Magento ⇄ Heartland"

    def __init__(self, runtime: Context) -> None:
        self.runtime = runtime
        self.store = runtime.store

    # -- templates and records --------------------------------------------------------------------
    def template(self, name: str) -> Template:
        from service.flows.templates import lookup_for, template_spec

        return Template(template_spec(self.runtime, name), lookup=lookup_for(self.runtime.rules))

    def rules(self) -> dict[str, Any]:
        return dict(self.runtime.rules.load(RULES_FILE))

    def normalize(self, raw: dict[str, Any], template_name: str, store_code: str, label: str) -> Customer:
        try:
            mapped = self.template(template_name).apply(raw, {"store_code": store_code})
            customer: Customer = CustomerSchema().load(mapped)
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
    def run(self, item: SyncItem, trace: Trace) -> Outcome:
        heartland_side = is_heartland_hint(item.payload)
        record = (item.payload.get("record") if heartland_side else item.payload.get("data")) or {}
        # One customer's two directions run one at a time: the event our own write causes on the
        # other side then finds the binding and the hash of that write, however many workers run.
        with self.customer_lock(str(record.get("email") or "")):
            if heartland_side:
                return self.from_heartland(item.payload, trace)
            return self.from_magento(item.payload, trace)

    @contextmanager
    def customer_lock(self, email: str) -> Iterator[None]:
        if not email.strip():
            yield
            return
        with shared_record_lock(self.runtime.redis, f"{LOCK_PREFIX}{email.strip().lower()}", self.runtime.settings,
                                f"customer {email} is being synced in the other direction right now"):
            yield

    # -- Magento → Heartland ----------------------------------------------------------------------
    def from_magento(self, envelope: dict[str, Any], trace: Trace) -> Outcome:
        store_code = str(envelope.get("store_code") or "default")
        event = dict(envelope.get("data") or {})
        magento_id = event.get("id", event.get("entity_id"))
        if magento_id in (None, ""):
            raise DataError(f"Magento {envelope.get('event')} event without the customer's id",
                            hint="send the customer as GET /V1/customers/{id} returns it")
        key = customer_key(store_code, magento_id)
        to_heartland = bindings.find(self.store, "customer", key, "heartland")
        to_magento = bindings.find(self.store, "customer", key, "magento")
        skip = self.stale("magento", magento_id, str(event.get("updated_at") or ""), to_heartland)
        if skip:
            trace.note("check", skip)
            return Outcome.ignored(skip)
        # The event may be older than the customer now is (events arrive out of order): what is
        # synced is the customer as Magento holds it when the job runs.
        with trace.step("fetch", f"Magento customer {magento_id}"):
            raw = self.runtime.magento.customer(int(magento_id))
        with trace.step("normalize") as step:
            incoming = self.magento_customer(raw, store_code)
            step["message"] = f"{incoming.email}, {len(incoming.addresses)} addresses"
        with trace.step("check") as step:
            skip = self.echo(incoming, to_magento)
            step["message"] = skip or f"Magento version {incoming.updated_at or '?'} is new"
        if skip:
            return Outcome.ignored(skip)

        heartland = self.runtime.heartland
        created = False
        link = None
        heartland_id = int(to_heartland.external_id) if to_heartland else None
        with trace.step("resolve") as step:
            if heartland_id is None:
                link = duplicates.link_customer(self.runtime, dedup_record(incoming), key,
                                                   f"Magento customer {magento_id}")
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
            step["message"] = f"Heartland customer {heartland_id} ({'created' if created else 'known'})"

        data = dict(to_heartland.data or {}) if to_heartland else {}
        address_ids: dict[str, int] = {str(k): int(v) for k, v in (data.get("address_ids") or {}).items()}
        current = self.heartland_customer(self.heartland_record(heartland_id), store_code)
        with trace.step("survive") as step:
            if created:
                take, why = {"addresses"}, {"addresses": "taken: new Heartland customer"}
            else:
                take, why = survive(incoming, current, data.get("base"), self.rules())
            step["message"] = "; ".join(f"{k} {v}" for k, v in why.items()) or "both sides agree"
            step["detail"]["fields"] = why
        with trace.step("deliver") as step:
            writes = self.write_heartland(heartland_id, incoming, current, take, address_ids)
            step["message"] = ", ".join(writes) or "nothing to write"
        after = self.heartland_customer(self.heartland_record(heartland_id), store_code) if writes else current
        with trace.step("confirm"):
            data.update({"address_ids": address_ids, "base": agreed(data.get("base"), after, incoming)})
            if writes:
                remember_write(data, after, incoming)
            self.bind(key, "heartland", heartland_id, incoming.updated_at, data)
            magento_data = dict(to_magento.data or {}) if to_magento else {}
            self.bind(key, "magento", magento_id, to_magento.source_version if to_magento else "", magento_data)
        state = "created" if created else ("updated" if writes else "already up to date")
        return Outcome.done(f"Heartland customer {heartland_id} {state}", heartland_id=heartland_id,
                            created=created, writes=writes, fields=why)

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
    def from_heartland(self, hint: dict[str, Any], trace: Trace) -> Outcome:
        heartland_id = int(hint["id"])
        with trace.step("fetch", f"Heartland customer {heartland_id}"):
            try:
                record = self.heartland_record(heartland_id)
            except NotFoundInTargetError:
                return Outcome.ignored(f"Heartland customer {heartland_id} no longer exists")
        to_heartland = bindings.find_external(self.store, "customer", "heartland", str(heartland_id))
        store_code = to_heartland.key.split(":")[1] if to_heartland and to_heartland.key.startswith("magento:") \
            else "default"
        with trace.step("normalize") as step:
            incoming = self.heartland_customer(record, store_code)
            step["message"] = f"{incoming.email}, {len(incoming.addresses)} addresses"
        key = to_heartland.key if to_heartland else ""
        to_magento = bindings.find(self.store, "customer", key, "magento") if key else None
        with trace.step("check") as step:
            hinted = str((hint.get("record") or {}).get("updated_at") or "")
            skip = (self.stale("heartland", heartland_id, hinted or incoming.updated_at, to_magento)
                    or self.echo(incoming, to_heartland))
            step["message"] = skip or f"Heartland version {incoming.updated_at or '?'} is new"
        if skip:
            return Outcome.ignored(skip)

        if to_heartland is not None and not key.startswith("magento:"):
            return Outcome.ignored(f"Heartland customer {heartland_id} is the customer of Magento guest orders "
                                   f"({key}); guests have no Magento account to update and none is opened")
        if not incoming.email and to_heartland is None:
            return Outcome.ignored(f"Heartland customer {heartland_id} has no email and no Magento account: "
                                   "Magento needs an email to open one")
        magento = self.runtime.magento
        magento_id: int | None = int(to_magento.external_id) if to_magento else None
        if magento_id is None and key.startswith("magento:"):
            magento_id = int(key.rsplit(":", 1)[1])
        raw: dict[str, Any] | None = None
        with trace.step("resolve") as step:
            if magento_id is not None:
                raw = magento.customer(magento_id)
            else:
                raw = magento.customer_by_email(incoming.email)
                magento_id = int(raw["id"]) if raw else None
            step["message"] = (f"Magento customer {magento_id}" if magento_id is not None
                               else f"no Magento customer with {incoming.email}: creating one")
        data = dict(to_heartland.data or {}) if to_heartland else {}
        address_ids: dict[str, int] = {str(k): int(v) for k, v in (data.get("address_ids") or {}).items()}
        created = raw is None
        if raw is None:
            with trace.step("deliver", "create the Magento customer"):
                body = self.magento_body(incoming, None, address_ids)
                raw = magento.create_customer(body)
            take, why = set(SURVIVING_FIELDS), {"all": "taken: new Magento customer"}
            writes = ["customer created"]
        else:
            current = self.magento_customer(raw, store_code)
            with trace.step("survive") as step:
                take, why = survive(incoming, current, data.get("base"), self.rules())
                step["message"] = "; ".join(f"{k} {v}" for k, v in why.items()) or "both sides agree"
                step["detail"]["fields"] = why
            writes = sorted(take)
            with trace.step("deliver") as step:
                if take:
                    merged = self.merged(incoming, current, take)
                    body = self.magento_body(merged, raw, address_ids, with_addresses="addresses" in take)
                    raw = magento.update_customer(int(raw["id"]), body)
                step["message"] = ("Magento customer " + ", ".join(writes)) if writes else "nothing to write"
        magento_id = int(raw["id"])
        after = self.magento_customer(raw, store_code)
        key = key or customer_key(store_code, magento_id)
        with trace.step("confirm"):
            for address in after.addresses:  # Magento ids of the addresses we just wrote, by place
                match = next((a for a in incoming.addresses if a.key() == address.key()), None)
                if match is not None:
                    address_ids[address.source_id] = int(match.source_id)
            data.update({"address_ids": address_ids, "base": agreed(data.get("base"), after, incoming)})
            self.bind(key, "heartland", heartland_id, to_heartland.source_version if to_heartland else "", data)
            magento_data = dict(to_magento.data or {}) if to_magento else {}
            if writes:
                remember_write(magento_data, after, incoming)
            self.bind(key, "magento", magento_id, incoming.updated_at, magento_data)
        state = "created" if created else ("updated" if writes else "already up to date")
        return Outcome.done(f"Magento customer {magento_id} {state}", magento_id=magento_id, created=created,
                            writes=writes, fields=why)

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
