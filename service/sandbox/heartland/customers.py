"""Customers and their addresses (phones live on addresses, not on the customer)."""

from __future__ import annotations

from typing import Any

from service.sandbox.heartland.customfields import check_custom_values
from service.sandbox.heartland.state import Record, State
from service.sandbox.heartland.validation import Checker, custom_values

ADDRESS_TEXT = ("line_1", "line_2", "city", "state", "postal_code", "country", "phone", "company")


def _customer_fields(state: State, check: Checker, customer: Record | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in ("first_name", "last_name"):
        if customer is None or check.has(name):
            fields[name] = check.string(name, required=True)
    if check.has("email"):
        fields["email"] = check.email("email")
    if check.has("active"):
        fields["active"] = check.boolean("active")
    if check.has("public_id"):
        public_id = check.string("public_id")
        if public_id:
            owners = state.customers.ids_where("public_id", public_id) or set()
            if owners - ({customer["id"]} if customer else set()):
                check.add("public_id", "has already been taken")
            fields["public_id"] = public_id
    return fields


def create_customer(state: State, body: Any) -> Record:
    check = Checker(body)
    fields = _customer_fields(state, check, None)
    custom = custom_values(body)
    check_custom_values(state, check, "customer", custom, state.customers)
    check.done()
    now = state.now()
    customer: Record = {
        "public_id": fields.pop("public_id", None) or state.next_public_id("customers", state.customers, 10001),
        "first_name": fields["first_name"], "last_name": fields["last_name"],
        "email": fields.get("email"), "active": fields.get("active", True) is not False,
        "custom": custom or {}, "uuid": state.new_uuid(), "created_at": now, "updated_at": now,
    }
    state.customers.add(customer)
    state.emit("customer_created", customer)
    return customer


def update_customer(state: State, customer: Record, body: Any) -> Record:
    check = Checker(body)
    fields = _customer_fields(state, check, customer)
    custom = custom_values(body)
    check_custom_values(state, check, "customer", custom, state.customers, customer)
    check.done()
    if custom is not None:
        fields["custom"] = {**customer["custom"], **custom}
    fields["updated_at"] = state.now()
    state.customers.update(customer, fields)
    state.emit("customer_updated", customer)
    return customer


def render_customer(customer: Record) -> Record:
    out = dict(customer)
    out["custom"] = dict(customer["custom"])
    out["name"] = f"{customer['first_name']} {customer['last_name']}".strip()
    return out


def _address_fields(check: Checker, address: Record | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in ("first_name", "last_name"):
        if address is None or check.has(name):
            fields[name] = check.string(name, required=True)
    for name in ADDRESS_TEXT:
        if address is None or check.has(name):
            fields[name] = check.string(name)
    country = fields.get("country")
    if country is not None and len(country) < 2:
        check.add("country", "must be a 2-letter code or a country name")
    return fields


def add_address(state: State, customer: Record, body: Any) -> Record:
    check = Checker(body)
    fields = _address_fields(check, None)
    check.done()
    now = state.now()
    address = state.addresses.add({"customer_id": customer["id"], **fields, "created_at": now, "updated_at": now})
    _touch_customer(state, customer)
    return address


def update_address(state: State, customer: Record, address: Record, body: Any) -> Record:
    check = Checker(body)
    fields = _address_fields(check, address)
    check.done()
    fields["updated_at"] = state.now()
    state.addresses.update(address, fields)
    _touch_customer(state, customer)
    return address


def remove_address(state: State, customer: Record, address: Record) -> None:
    state.addresses.remove(address)
    _touch_customer(state, customer)


def _touch_customer(state: State, customer: Record) -> None:
    # An address change is a change of the customer (updated_at moves, customer_updated fires), so
    # pollers and webhook receivers see it.
    state.customers.update(customer, {"updated_at": state.now()})
    state.emit("customer_updated", customer)
