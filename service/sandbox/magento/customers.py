"""Customers as CustomerRepository keeps them: unique email per website, addresses inside the
customer, and the update semantics of ``PUT /V1/customers/{id}`` (reference §3.6):

* ``addresses`` omitted: the existing addresses and the default billing/shipping stay;
* ``addresses`` present: it is the new list: an entry with a known ``id`` replaces that address,
  one without ``id`` is added, and every existing address not in the list is deleted.

Other top-level fields given replace the stored ones; fields not given are kept (the repository
merges the previous data). The path id wins over ``customer.id``.
"""

from __future__ import annotations

import re
from typing import Any

from service.sandbox import seed as seed_data
from service.sandbox.magento.errors import MagentoError, no_such_entity
from service.sandbox.magento.state import DEFAULT_STORE_ID, WEBSITE_ID, MagentoState, index_customer, now_text

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
REGIONS_BY_ID = {rid: code for code, rid in seed_data.REGION_IDS.items()}
REGION_NAMES = {code: name for _, code, name, _ in seed_data.CITIES}
ADDRESS_REQUIRED = ("firstname", "lastname", "street", "city", "country_id", "telephone", "postcode")
GRID_FIELDS = {"billing_postcode": "postcode", "billing_city": "city", "billing_telephone": "telephone",
               "billing_country_id": "country_id", "billing_firstname": "firstname", "billing_lastname": "lastname",
               "billing_company": "company"}


def get_customer(state: MagentoState, customer_id: int) -> dict[str, Any]:
    customer = state.customers.get(customer_id)
    if customer is None:
        raise no_such_entity("customerId", customer_id)
    return customer


def search_value(customer: Any, name: str) -> Any:
    """Field values for searches, including the grid's ``entity_id`` and ``billing_*`` columns."""
    if name == "entity_id":
        return customer.get("id")
    if name in GRID_FIELDS:
        address = default_address(customer, "default_billing")
        value = address.get(GRID_FIELDS[name]) if address else None
        return value
    if name == "billing_region":
        address = default_address(customer, "default_billing")
        return (address.get("region") or {}).get("region") if address else None
    return customer.get(name)


SEARCH_EXTRA_FIELDS = {"entity_id", "billing_region", *GRID_FIELDS}


def default_address(customer: Any, which: str) -> dict[str, Any] | None:
    wanted = str(customer.get(which) or "")
    for address in customer.get("addresses") or []:
        if str(address.get("id")) == wanted:
            return dict(address)
    return None


def _validate(customer: dict[str, Any]) -> None:
    for name in ("firstname", "lastname", "email"):
        if not str(customer.get(name) or "").strip():
            raise MagentoError('"%fieldName" is a required value.', {"fieldName": name.capitalize()})
    if not EMAIL.match(customer["email"]):
        raise MagentoError('"%fieldName" is an invalid email address.', {"fieldName": "Email"})


def _address(state: MagentoState, customer_id: int, raw: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    address = dict(raw)
    for name in ADDRESS_REQUIRED:
        value = address.get(name)
        if value in (None, "", []) or (name == "street" and not any(str(s).strip() for s in value or [])):
            raise MagentoError('"%fieldName" is required. Enter and try again.', {"fieldName": name})
    address["id"] = existing["id"] if existing else state.counters.next("customer_address")
    address["customer_id"] = customer_id
    address["street"] = [str(s) for s in address["street"]]
    raw_region = address.get("region")
    region: dict[str, Any] = raw_region if isinstance(raw_region, dict) else {}
    region_id = address.get("region_id") or region.get("region_id")
    code = region.get("region_code") or REGIONS_BY_ID.get(int(region_id or 0), "")
    if region_id:
        address["region_id"] = int(region_id)
    address["region"] = {
        "region_code": code,
        "region": region.get("region") or REGION_NAMES.get(code, code),
        "region_id": int(region_id or 0),
    }
    address.setdefault("default_billing", False)
    address.setdefault("default_shipping", False)
    return address


def _apply_addresses(state: MagentoState, customer: dict[str, Any], raw_addresses: list[dict[str, Any]]) -> None:
    current = {str(a["id"]): a for a in customer.get("addresses") or []}
    kept: list[dict[str, Any]] = []
    for raw in raw_addresses:
        existing = current.get(str(raw.get("id"))) if raw.get("id") is not None else None
        if raw.get("id") is not None and existing is None:
            raise no_such_entity("addressId", raw.get("id"))
        kept.append(_address(state, customer["id"], raw, existing))
    customer["addresses"] = kept
    ids = {str(a["id"]) for a in kept}
    for which in ("default_billing", "default_shipping"):
        flagged = next((a for a in kept if a.get(which)), None)
        if flagged is not None:
            customer[which] = str(flagged["id"])
        elif str(customer.get(which)) not in ids:
            customer.pop(which, None)
    for address in kept:
        address["default_billing"] = str(address["id"]) == str(customer.get("default_billing"))
        address["default_shipping"] = str(address["id"]) == str(customer.get("default_shipping"))


def _check_email_free(state: MagentoState, email: str, website_id: int, customer_id: int | None) -> None:
    owner = state.customer_ids_by_email.get((website_id, email.lower()))
    if owner is not None and owner != customer_id:
        raise MagentoError("A customer with the same email address already exists in an associated website.")


def create_customer(state: MagentoState, raw: dict[str, Any]) -> dict[str, Any]:
    customer = {k: v for k, v in raw.items() if k not in ("id", "addresses", "default_billing", "default_shipping")}
    customer.setdefault("website_id", WEBSITE_ID)
    customer.setdefault("store_id", DEFAULT_STORE_ID)
    customer.setdefault("group_id", 1)
    _validate(customer)
    customer["email"] = customer["email"].strip()
    _check_email_free(state, customer["email"], int(customer["website_id"]), None)
    stamp = now_text()
    customer["id"] = state.counters.next("customer")
    customer["created_at"] = stamp
    customer["updated_at"] = stamp
    customer.setdefault("created_in", "Default Store View")
    customer.setdefault("disable_auto_group_change", 0)
    customer.setdefault("extension_attributes", {"is_subscribed": False})
    customer["addresses"] = []
    _apply_addresses(state, customer, list(raw.get("addresses") or []))
    index_customer(state, customer)
    return customer


def update_customer(state: MagentoState, customer_id: int, raw: dict[str, Any]) -> dict[str, Any]:
    stored = get_customer(state, customer_id)
    updated = dict(stored)
    for key, value in raw.items():
        if key in ("id", "addresses", "created_at", "updated_at"):
            continue
        updated[key] = value
    _validate(updated)
    website_id = int(updated.get("website_id") or WEBSITE_ID)
    _check_email_free(state, updated["email"], website_id, customer_id)
    if "addresses" in raw and raw["addresses"] is not None:
        _apply_addresses(state, updated, list(raw["addresses"]))
    updated["updated_at"] = now_text()
    old_key = (int(stored.get("website_id") or WEBSITE_ID), stored["email"].lower())
    if state.customer_ids_by_email.get(old_key) == customer_id:
        del state.customer_ids_by_email[old_key]
    index_customer(state, updated)
    return updated
