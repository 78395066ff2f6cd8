"""Duplicate-customer resolution in the orders flow, end to end: the sandboxes over HTTP, the real app,
a real RQ worker, the shared Redis index and the trained model shipped in models/dedup."""

from __future__ import annotations

import time
from typing import Any

import requests
from click.testing import CliRunner

from service.cli.main import main
from service.flows.checks import duplicates
from service.store import bindings, customer_reviews, items
from tests.stack import HEARTLAND_TOKEN, Stack


def heartland_post(stack: Stack, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(f"{stack.heartland.url}/api/{path}", json=body, timeout=10,
                             headers={"Authorization": f"Bearer {HEARTLAND_TOKEN}"})
    assert response.status_code in (200, 201), response.text
    if response.content:
        return dict(response.json())
    return dict(stack.heartland_get(response.headers["Location"].split("/api/", 1)[1]))


def till_customer(stack: Stack, first: str, last: str, email: str | None, *, phone: str, line_1: str,
                  postcode: str) -> int:
    """A customer made at the till: in Heartland only, never synced by Tillbridge."""
    body: dict[str, Any] = {"first_name": first, "last_name": last}
    if email:
        body["email"] = email
    customer_id = int(heartland_post(stack, "customers", body)["id"])
    heartland_post(stack, f"customers/{customer_id}/addresses", {
        "first_name": first, "last_name": last, "line_1": line_1, "city": "Portland", "state": "OR",
        "postal_code": postcode, "country": "US", "phone": phone})
    return customer_id


def web_order(stack: Stack, email: str, first: str, last: str, *, phone: str, street: str,
              postcode: str) -> dict[str, Any]:
    address = {"firstname": first, "lastname": last, "street": [street], "city": "Portland",
               "region": "Oregon", "region_code": "OR", "region_id": 49, "postcode": postcode,
               "country_id": "US", "telephone": phone}
    return stack.checkout([{"sku": "TEE-1000", "qty": 1}], email=email, guest=True, firstname=first,
                          lastname=last, address=address)


def customers_named(stack: Stack, last: str) -> list[dict[str, Any]]:
    return list(stack.heartland_get("customers", _filter=f'{{"last_name":"{last}"}}', per_page=100)["results"])


def synced_order(stack: Stack, order: dict[str, Any]) -> dict[str, Any]:
    key = f"magento:default:{order['entity_id']}"

    def synced() -> bool:
        dead = items.search(stack.runtime.store, state="dead")
        assert not dead, f"dead items: {[(i.label, i.reason) for i in dead]}"
        done = items.search(stack.runtime.store, flow="orders", state="done")
        return bindings.find(stack.runtime.store, "order", key, "heartland") is not None and any(
            i.entity_key == f"orders:{key}" for i in done)

    stack.wait_for(synced, timeout=60, what=f"order #{order['increment_id']} in Heartland")
    binding = bindings.find(stack.runtime.store, "order", key, "heartland")
    assert binding is not None
    return dict(stack.heartland_get(f"sales/orders/{binding.external_id}"))


def dedup_notes(stack: Stack, order: dict[str, Any]) -> list[Any]:
    key = f"orders:magento:default:{order['entity_id']}"
    item = next(i for i in items.search(stack.runtime.store, flow="orders", state="done") if i.entity_key == key)
    return [s for s in items.steps(stack.runtime.store, item.id) if s.step == "dedup"]


def test_jonathan_online_is_jon_at_the_till_linked_without_a_new_customer(stack: Stack) -> None:
    jon = till_customer(stack, "Jon", "Smith", None, phone="(503) 555-0142", line_1="12 Oak Street",
                        postcode="97201")
    # `tillbridge customers index`: the first run indexes what Heartland already has.
    result = CliRunner().invoke(main, ["customers", "index"], env={k: str(v) for k, v in stack.settings.items()})
    assert result.exit_code == 0, result.output
    total = int(stack.heartland_get("customers", per_page=1)["total"])
    assert result.output.startswith(f"{total} Heartland customers indexed")
    assert duplicates.for_runtime(stack.runtime).is_indexed(jon)
    before = len(customers_named(stack, "Smith"))
    stack.start_worker()
    order = web_order(stack, "jonathan.smith@example.com", "Jonathan", "Smith", phone="503-555-0142",
                      street="12 Oak St", postcode="97201")
    heartland_order = synced_order(stack, order)

    assert heartland_order["customer_id"] == jon
    assert len(customers_named(stack, "Smith")) == before, "a second Heartland customer was created"
    notes = dedup_notes(stack, order)
    assert len(notes) == 1
    assert notes[0].detail["kind"] == "match" and notes[0].detail["score"] >= 0.93
    assert notes[0].detail["candidate_id"] == f"heartland:{jon}"
    assert any("phone" in d for d in notes[0].detail["drivers"])
    assert f"Heartland customer {jon}" in notes[0].message
    assert 0 < notes[0].detail["resolve_ms"] < 5_000
    binding = bindings.find(stack.runtime.store, "customer", "email:jonathan.smith@example.com", "heartland")
    assert binding is not None and binding.external_id == str(jon)
    assert customer_reviews.counts(stack.runtime.store)["pending"] == 0

    # Jon again with his work email: another binding key for the same Heartland customer, which
    # holds one binding only; the order still goes to Jon, linked through resolution.
    work = synced_order(stack, web_order(stack, "jon@smith-plumbing.example", "Jon", "Smith", phone="5035550142",
                                         street="12 Oak Street", postcode="97201"))
    assert work["customer_id"] == jon
    assert len(customers_named(stack, "Smith")) == before
    assert bindings.find(stack.runtime.store, "customer", "email:jon@smith-plumbing.example", "heartland") is None
    assert not items.search(stack.runtime.store, state="dead")


def test_borderline_customer_is_queued_for_review_and_the_order_still_syncs(stack: Stack) -> None:
    maria = till_customer(stack, "Maria", "Garcia", None, phone="(503) 555-0177",
                          line_1="40 Elm Avenue", postcode="97205")
    duplicates.for_runtime(stack.runtime).backfill()
    lopez_before = {c["id"] for c in customers_named(stack, "Lopez")}
    stack.start_worker()
    # Married and moved house: the phone she gave at the till, a new surname and street, an email.
    order = web_order(stack, "marie.lopez@example.net", "Marie", "Lopez", phone="503-555-0177",
                      street="9 Pine Rd", postcode="97205")
    heartland_order = synced_order(stack, order)

    assert heartland_order["customer_id"] != maria
    created = {c["id"] for c in customers_named(stack, "Lopez")} - lopez_before
    assert created == {heartland_order["customer_id"]}
    pending = customer_reviews.search(stack.runtime.store, ["pending"])
    assert len(pending) == 1
    pair = pending[0]
    assert pair.right_id == str(maria) and pair.linked_id == str(heartland_order["customer_id"])
    assert pair.linked_created is True
    assert pair.left["last_name"] == "Lopez" and pair.right["last_name"] == "Garcia"
    assert pair.right["phone"] == "(503) 555-0177"
    assert 0.45 <= pair.score < 0.93 and pair.drivers
    assert pair.origin == f"Magento order #{order['increment_id']}"
    notes = dedup_notes(stack, order)
    assert [n.detail["kind"] for n in notes] == ["review", "review"]
    assert f"customer review #{pair.id}" in notes[1].message
    # The new customer is indexed: the same shopper again is a match now, not another review.
    again = duplicates.for_runtime(stack.runtime).resolve(pair.left, "email:someone-else@example.net")
    assert again.kind == "match" and again.candidate_id == f"heartland:{heartland_order['customer_id']}"


def test_after_a_merge_the_shoppers_next_orders_go_to_the_surviving_customer(stack: Stack) -> None:
    maria = till_customer(stack, "Maria", "Garcia", None, phone="(503) 555-0177", line_1="40 Elm Avenue",
                          postcode="97205")
    duplicates.for_runtime(stack.runtime).backfill()
    stack.start_worker()
    time.sleep(1.1)  # Magento stamps whole seconds: the web order must be newer than the till record
    first = synced_order(stack, web_order(stack, "marie.lopez@example.net", "Marie", "Lopez", phone="503-555-0177",
                                          street="9 Pine Rd", postcode="97205"))
    pair = customer_reviews.search(stack.runtime.store, ["pending"])[0]
    result = duplicates.merge_pair(stack.runtime, pair.id, actor="integrator-user")
    assert result.survivor_id == maria and result.bound

    second = synced_order(stack, web_order(stack, "marie.lopez@example.net", "Marie", "Lopez",
                                           phone="503-555-0177", street="9 Pine Rd", postcode="97205"))
    assert first["customer_id"] != maria
    assert second["customer_id"] == maria
    survivor = stack.heartland_get(f"customers/{maria}")
    assert (survivor["last_name"], survivor["email"]) == ("Lopez", "marie.lopez@example.net")
    # The web address came along with the order; the till address stays.
    lines = {a["line_1"] for a in stack.heartland_get(f"customers/{maria}/addresses")["results"]}
    assert lines == {"40 Elm Avenue", "9 Pine Rd"}
    assert customer_reviews.counts(stack.runtime.store)["pending"] == 0
