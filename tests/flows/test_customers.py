"""Customers, both ways, end to end: sandboxes over HTTP, the real app, a real RQ worker and the
scheduler as subprocesses, on real Redis and a real database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from service.canonical.customer import Customer
from service.engine import polling
from service.flows.customers import (
    ECHO_REASON,
    HEARTLAND_POLL,
    STORE_CODE_KEY,
    customer_key,
    record_heartland_changes,
    record_magento_changes,
    survive,
)
from service.kernel.errors import DataError
from service.store import bindings, items
from service.store.tables import SyncItem
from tests.stack import HEARTLAND_TOKEN, MAGENTO_TOKEN, Stack, build_stack

MAGENTO_ID = 1
KEY = customer_key("default", MAGENTO_ID)


# -- survivorship on its own ---------------------------------------------------------------------------

RULES = {"survivorship": {"email": "magento", "first_name": "newest", "last_name": "newest",
                          "addresses": "newest"}, "tie": "magento"}


def customer(source: str, updated_at: str, **values: Any) -> Customer:
    fields = {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com", **values}
    return Customer(source=source, source_id="1", updated_at=updated_at, **fields)


def test_a_field_only_one_side_changed_keeps_that_sides_value() -> None:
    base = customer("magento", "").values()
    magento = customer("magento", "2026-11-27T10:00:00+00:00", first_name="Anne")
    heartland = customer("heartland", "2026-11-27T11:00:00+00:00", last_name="Leigh")
    take, why = survive(magento, heartland, base, RULES)
    assert take == {"first_name"}  # last_name: only Heartland changed it, though Magento is older
    assert why["last_name"] == "kept: only heartland changed it"


def test_a_field_both_sides_changed_goes_to_the_newest_and_owned_fields_to_their_owner() -> None:
    base = customer("magento", "").values()
    magento = customer("magento", "2026-11-27T10:00:00+00:00", first_name="Anne", email="ann@shop.example")
    heartland = customer("heartland", "2026-11-27T10:00:01+00:00", first_name="Annie", email="a@till.example")
    take, why = survive(magento, heartland, base, RULES)
    assert take == {"email"}
    assert why["first_name"].startswith("conflict, kept: newest wins")
    back, _ = survive(heartland, magento, base, RULES)
    assert back == {"first_name"}  # Heartland's newer name, never its email
    tied = customer("heartland", "2026-11-27T10:00:00+00:00", first_name="Annie")
    assert "first_name" in survive(magento, tied, base, RULES)[0]  # tie: rules say Magento


def test_a_heartland_customer_without_email_never_blanks_magentos() -> None:
    magento = customer("magento", "2026-11-27T10:00:00+00:00")
    heartland = customer("heartland", "2026-11-27T11:00:00+00:00", email="")
    assert "email" not in survive(heartland, magento, None, {"survivorship": {"email": "newest"}})[0]


def test_a_polled_change_an_item_already_covers_gets_no_second_item(runtime: Any) -> None:
    """Each poll re-reads its overlap window: a customer changed once is one item, not one per poll."""
    heartland = [{"id": 7, "email": "a@example.com", "updated_at": "2026-11-27T09:00:00+00:00"}]
    magento = [{"id": 9, "email": "b@example.com", "updated_at": "2026-11-27 09:00:00"}]
    store = runtime.store
    for _ in range(3):  # the same changes read by three polls
        with store.session() as s:
            record_heartland_changes(s, heartland)
            record_magento_changes(s, magento)
    assert len(items.search(store, flow="customers")) == 2
    with store.session() as s:  # a newer change of one of them: one more item
        assert len(record_heartland_changes(s, [{**heartland[0], "updated_at": "2026-11-27T09:05:00+00:00"}])) == 1
        assert record_magento_changes(s, [{**magento[0], "updated_at": "2026-11-27 08:59:00"}]) == []  # older
    assert len(items.search(store, flow="customers")) == 3
    # A customer of another store view is keyed by that store's code, as its event is.
    with store.session() as s:
        [item_id] = record_magento_changes(s, [{"id": 11, "email": "c@example.com", "store_id": 2,
                                                "updated_at": "2026-11-27 09:00:00", STORE_CODE_KEY: "fr"}])
    item = items.get(store, item_id)
    assert item is not None and item.entity_key == "customers:magento:fr:11"
    assert item.payload["store_code"] == "fr" and STORE_CODE_KEY not in item.payload["data"]


def test_an_unknown_rule_is_a_data_error_naming_the_rules_file() -> None:
    with pytest.raises(DataError, match="rules/customers.yaml"):
        survive(customer("magento", "", first_name="B"), customer("heartland", ""), None,
                {"survivorship": {"first_name": "sometimes"}})


# -- the two shops, as a merchant edits them -----------------------------------------------------------

def magento_put(stack: Stack, magento_id: int, customer: dict[str, Any]) -> dict[str, Any]:
    response = requests.put(f"{stack.magento.url}/rest/V1/customers/{magento_id}", json={"customer": customer},
                            headers={"Authorization": f"Bearer {MAGENTO_TOKEN}"}, timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


def heartland_put(stack: Stack, path: str, body: dict[str, Any]) -> None:
    response = requests.put(f"{stack.heartland.url}/api/{path}", json=body,
                            headers={"Authorization": f"Bearer {HEARTLAND_TOKEN}"}, timeout=10)
    assert response.status_code == 200, response.text


def heartland_hint(stack: Stack, heartland_id: int) -> int:
    """A Heartland customer hint, as the Heartland webhook (or a poll) records it, enqueued."""
    record = stack.heartland_get(f"customers/{heartland_id}")
    with stack.runtime.store.session() as session:
        item = items.create(session, flow="customers", direction="heartland→magento",
                            entity_key=f"customers:heartland:customer:{heartland_id}",
                            label=f"Heartland customer {heartland_id}",
                            payload={"kind": "customer", "id": heartland_id, "record": record},
                            source_version=str(record.get("updated_at") or ""))
        item_id = int(item.id)
    stack.runtime.enqueue([item_id])
    return item_id


def finished(stack: Stack, item_id: int) -> SyncItem | None:
    item = items.get(stack.runtime.store, item_id)
    return item if item is not None and item.state in items.TERMINAL_STATES else None


def wait_item(stack: Stack, item_id: int) -> SyncItem:
    stack.wait_for(lambda: finished(stack, item_id) is not None, timeout=30, what=f"item {item_id}")
    item = finished(stack, item_id)
    assert item is not None
    return item


def customer_items(stack: Stack) -> list[SyncItem]:
    return sorted(items.search(stack.runtime.store, flow="customers"), key=lambda i: i.id)


def wait_settled(stack: Stack, count: int) -> list[SyncItem]:
    def settled() -> bool:
        rows = customer_items(stack)
        return len(rows) >= count and all(i.state in items.TERMINAL_STATES for i in rows)

    stack.wait_for(settled, timeout=40, what=f"{count} customer items settled")
    rows = customer_items(stack)
    dead = [(i.label, i.reason) for i in rows if i.state == "dead"]
    assert not dead, dead
    return rows


def heartland_id(stack: Stack) -> int:
    binding = bindings.find(stack.runtime.store, "customer", KEY, "heartland")
    assert binding is not None, "the Magento customer has no Heartland binding"
    return int(binding.external_id)


def customer_writes(stack: Stack, hid: int) -> list[dict[str, Any]]:
    return [r for r in stack.requests_log(stack.heartland, f"/api/customers/{hid}") if r["method"] in ("PUT", "POST")]


def first_address(stack: Stack) -> dict[str, Any]:
    return dict(stack.magento_get(f"customers/{MAGENTO_ID}")["addresses"][0])


def sync_magento_edit(stack: Stack, **changes: Any) -> None:
    """Edit the Magento customer (its sandbox sends customer.updated) and wait for the sync."""
    before = len(customer_items(stack))
    current = stack.magento_get(f"customers/{MAGENTO_ID}")
    magento_put(stack, MAGENTO_ID, {"email": current["email"], "firstname": current["firstname"],
                                    "lastname": current["lastname"], **changes})
    wait_settled(stack, before + 1)


def moved_address(stack: Stack) -> dict[str, Any]:
    address = first_address(stack)
    return {"id": address["id"], "firstname": address["firstname"], "lastname": address["lastname"],
            "street": ["77 Harbour Street", "Suite 5"], "city": "Austin", "region": {"region_code": "TX"},
            "postcode": "73301", "country_id": "US", "telephone": "(512) 555-0199",
            "default_billing": True, "default_shipping": True}


# -- scenarios ----------------------------------------------------------------------------------------

def test_magento_customer_update_reaches_heartland_with_address_and_phone(stack: Stack) -> None:
    stack.start_worker()
    sync_magento_edit(stack, addresses=[moved_address(stack)])
    done = [i for i in customer_items(stack) if i.state == "done"]
    assert len(done) == 1, [(i.state, i.reason) for i in customer_items(stack)]
    hid = heartland_id(stack)
    customer = stack.heartland_get(f"customers/{hid}")
    magento = stack.magento_get(f"customers/{MAGENTO_ID}")
    assert customer["email"] == magento["email"].lower()
    assert (customer["first_name"], customer["last_name"]) == (magento["firstname"], magento["lastname"])
    rows = stack.heartland_get(f"customers/{hid}/addresses")["results"]
    moved = [r for r in rows if r["postal_code"] == "73301"]
    assert len(moved) == 1, rows
    assert (moved[0]["line_1"], moved[0]["line_2"]) == ("77 Harbour St", "Ste 5")
    assert (moved[0]["city"], moved[0]["state"], moved[0]["country"]) == ("Austin", "TX", "US")
    assert moved[0]["phone"] == "+15125550199"

    # The same event again changes nothing in Heartland: its version is already synced.
    writes = len(customer_writes(stack, hid))
    stack.send_event("customer.updated", magento)
    rows_after = wait_settled(stack, 2)
    assert rows_after[-1].state == "ignored" and "already synced" in rows_after[-1].reason
    assert len(customer_writes(stack, hid)) == writes


def test_heartland_change_reaches_magento_and_its_echo_is_ignored(stack: Stack) -> None:
    # Two workers: the echo may be picked up while the write that caused it is still confirming.
    stack.start_worker()
    stack.start_worker("worker-2")
    sync_magento_edit(stack, addresses=[moved_address(stack)])
    hid = heartland_id(stack)
    address = next(r for r in stack.heartland_get(f"customers/{hid}/addresses")["results"]
                   if r["postal_code"] == "73301")
    time.sleep(1.1)  # Magento keeps whole seconds: the change is newer than the last sync
    heartland_put(stack, f"customers/{hid}", {"last_name": "Okafor"})
    heartland_put(stack, f"customers/{hid}/addresses/{address['id']}", {"phone": "512-555-0142"})
    writes = len(customer_writes(stack, hid))

    hint = wait_item(stack, heartland_hint(stack, hid))
    assert hint.state == "done", hint.reason
    magento = stack.magento_get(f"customers/{MAGENTO_ID}")
    assert magento["lastname"] == "Okafor"
    assert [a["telephone"] for a in magento["addresses"]] == ["+15125550142"]
    assert magento["addresses"][0]["street"] == ["77 Harbour St", "Ste 5"]

    # Our PUT made the Magento sandbox send customer.updated: it is our own write coming back.
    rows = wait_settled(stack, 3)
    echo = rows[-1]
    assert echo.payload.get("event") == "customer.updated"
    assert (echo.state, echo.reason) == ("ignored", ECHO_REASON)
    assert len(customer_writes(stack, hid)) == writes, "the echo wrote to Heartland again"


def test_conflicting_edits_on_both_sides_follow_the_rules_file(stack: Stack) -> None:
    stack.start_worker()
    sync_magento_edit(stack, addresses=[moved_address(stack)])
    hid = heartland_id(stack)
    original_email = stack.magento_get(f"customers/{MAGENTO_ID}")["email"]
    stack.kill("worker")  # both sides are edited before either change is synced

    time.sleep(1.1)
    heartland_put(stack, f"customers/{hid}", {"first_name": "Hanna", "last_name": "Heartside",
                                              "email": "hanna.changed@example.com"})
    heartland_hint(stack, hid)
    time.sleep(1.1)
    current = stack.magento_get(f"customers/{MAGENTO_ID}")
    magento_put(stack, MAGENTO_ID, {"email": current["email"], "firstname": "Magda",
                                    "lastname": current["lastname"]})
    stack.wait_for(lambda: len(customer_items(stack)) >= 3, what="the Magento event recorded")
    stack.start_worker()
    wait_settled(stack, 3)
    # Settle any echoes of the writes the two changes made.
    time.sleep(1.0)
    wait_settled(stack, len(customer_items(stack)))

    magento = stack.magento_get(f"customers/{MAGENTO_ID}")
    heartland = stack.heartland_get(f"customers/{hid}")
    # first_name: newest wins, and Magento's edit came last.
    assert magento["firstname"] == heartland["first_name"] == "Magda"
    # last_name: only Heartland changed it, so it reaches Magento.
    assert magento["lastname"] == heartland["last_name"] == "Heartside"
    # email: Magento owns it (rules/customers.yaml); Heartland's edit is overruled on both sides.
    assert magento["email"] == original_email
    assert heartland["email"] == original_email.lower()


def test_out_of_order_magento_event_is_ignored(stack: Stack) -> None:
    stack.start_worker()
    old = stack.magento_get(f"customers/{MAGENTO_ID}")  # updated_at of the seed, long ago
    sync_magento_edit(stack, lastname="Newer")
    hid = heartland_id(stack)
    writes = len(customer_writes(stack, hid))

    stack.send_event("customer.updated", old)
    rows = wait_settled(stack, 2)
    late = rows[-1]
    assert late.state == "ignored" and late.reason.startswith("stale:"), late.reason
    assert stack.heartland_get(f"customers/{hid}")["last_name"] == "Newer"
    assert len(customer_writes(stack, hid)) == writes


def test_new_heartland_customer_is_created_in_magento_and_bound(stack: Stack) -> None:
    stack.start_worker()
    headers = {"Authorization": f"Bearer {HEARTLAND_TOKEN}"}
    created = requests.post(f"{stack.heartland.url}/api/customers", headers=headers, timeout=10,
                            json={"first_name": "Ines", "last_name": "Moreau", "email": "Ines.Moreau@example.org"})
    assert created.status_code == 201, created.text
    hid = int(created.headers["Location"].rstrip("/").rsplit("/", 1)[1])  # 201 with the Location only
    response = requests.post(f"{stack.heartland.url}/api/customers/{hid}/addresses", headers=headers, timeout=10,
                             json={"first_name": "Ines", "last_name": "Moreau", "line_1": "5 Rue Street",
                                   "line_2": "Apt 2", "city": "Portland", "state": "OR", "postal_code": "97201",
                                   "country": "US", "phone": "503 555 0123"})
    assert response.status_code == 201, response.text

    hint = wait_item(stack, heartland_hint(stack, hid))
    assert hint.state == "done", hint.reason
    found = stack.magento_get("customers/search", **{
        "searchCriteria[filterGroups][0][filters][0][field]": "email",
        "searchCriteria[filterGroups][0][filters][0][value]": "ines.moreau@example.org"})["items"]
    assert len(found) == 1
    magento = found[0]
    assert (magento["firstname"], magento["lastname"]) == ("Ines", "Moreau")
    [address] = magento["addresses"]
    assert address["street"] == ["5 Rue St", "Apt 2"]
    assert (address["city"], address["region"]["region_code"], address["postcode"]) == ("Portland", "OR", "97201")
    assert address["telephone"] == "+15035550123"
    assert address["default_billing"] and address["default_shipping"]
    binding = bindings.find_external(stack.runtime.store, "customer", "heartland", str(hid))
    assert binding is not None and binding.key == customer_key("default", magento["id"])

    # Creating it made Magento send customer.created: our own write, ignored; Heartland untouched.
    rows = wait_settled(stack, 2)
    assert (rows[-1].payload.get("event"), rows[-1].state, rows[-1].reason) == \
        ("customer.created", "ignored", ECHO_REASON)
    assert not [r for r in customer_writes(stack, hid) if r["method"] == "PUT"]


HOOK_TOKEN = "customers-hook-token-81d0-long-enough-for-a-real-deployment"


@pytest.fixture
def hooked_stack(settings: dict[str, Any], tmp_path: Path) -> Iterator[Stack]:
    s = build_stack({**settings, "TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN": HOOK_TOKEN}, tmp_path)
    try:
        s.register_heartland_webhook("customer_created", "customer_updated")
        yield s
    finally:
        s.stop()


def magento_writes(stack: Stack) -> int:
    return len([r for r in stack.requests_log(stack.magento, "/rest/V1/customers") if r["method"] in ("PUT", "POST")])


def test_both_directions_through_heartland_webhooks_without_ping_pong(hooked_stack: Stack) -> None:
    stack = hooked_stack
    stack.start_worker()
    stack.start_scheduler()
    before = magento_writes(stack)
    current = stack.magento_get(f"customers/{MAGENTO_ID}")
    magento_put(stack, MAGENTO_ID, {"email": current["email"], "firstname": current["firstname"],
                                    "lastname": current["lastname"], "addresses": [moved_address(stack)]})
    stack.wait_for(lambda: bindings.find(stack.runtime.store, "customer", KEY, "heartland") is not None,
                   what="the Heartland binding")
    hid = heartland_id(stack)
    stack.wait_for(lambda: any(i.payload.get("kind") == "customer" for i in customer_items(stack)),
                   what="Heartland's webhook for our writes")
    time.sleep(1.0)  # lets the sandbox deliver every hint of our writes
    rows = wait_settled(stack, len(customer_items(stack)))
    hints = [i for i in rows if i.payload.get("kind") == "customer"]
    assert hints and all(i.state == "ignored" and i.reason.startswith(ECHO_REASON) for i in hints), \
        [(i.state, i.reason) for i in hints]
    assert magento_writes(stack) == before + 1, "Tillbridge wrote our own Heartland write back to Magento"

    # A real Heartland edit comes in by webhook, reaches Magento, and Magento's event of it stops there.
    time.sleep(1.1)
    writes = len(customer_writes(stack, hid))
    count = len(rows)
    heartland_put(stack, f"customers/{hid}", {"last_name": "Whitfield"})
    stack.wait_for(lambda: stack.magento_get(f"customers/{MAGENTO_ID}")["lastname"] == "Whitfield",
                   what="the Heartland edit in Magento")
    stack.wait_for(lambda: len(customer_items(stack)) >= count + 2, what="Magento's event of our write")
    time.sleep(1.0)
    rows = wait_settled(stack, len(customer_items(stack)))
    assert [(i.state, i.reason) for i in rows[count:]][-1] == ("ignored", ECHO_REASON)
    assert len(customer_writes(stack, hid)) == writes + 1  # only the merchant's own edit


# -- duplicate resolution (the model shipped in models/dedup) --------------------------------------------

def heartland_post(stack: Stack, path: str, body: dict[str, Any]) -> int:
    response = requests.post(f"{stack.heartland.url}/api/{path}", json=body, timeout=10,
                             headers={"Authorization": f"Bearer {HEARTLAND_TOKEN}"})
    assert response.status_code == 201, response.text
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def till_customer(stack: Stack, first: str, last: str, *, phone: str, line_1: str, postcode: str) -> int:
    """A customer made at the till: in Heartland only, without an email, never synced."""
    customer_id = heartland_post(stack, "customers", {"first_name": first, "last_name": last})
    heartland_post(stack, f"customers/{customer_id}/addresses", {
        "first_name": first, "last_name": last, "line_1": line_1, "city": "Portland", "state": "OR",
        "postal_code": postcode, "country": "US", "phone": phone})
    return customer_id


def magento_signup(stack: Stack, email: str, first: str, last: str, *, phone: str, street: str,
                   postcode: str) -> int:
    """A shopper opens an account in Magento (its sandbox sends customer.created)."""
    address = {"firstname": first, "lastname": last, "street": [street], "city": "Portland",
               "region": {"region_code": "OR", "region": "Oregon", "region_id": 49}, "region_id": 49,
               "postcode": postcode, "country_id": "US", "telephone": phone,
               "default_billing": True, "default_shipping": True}
    response = requests.post(f"{stack.magento.url}/rest/V1/customers", timeout=10,
                             headers={"Authorization": f"Bearer {MAGENTO_TOKEN}"},
                             json={"customer": {"email": email, "firstname": first, "lastname": last,
                                                "addresses": [address]}})
    assert response.status_code == 200, response.text
    return int(response.json()["id"])


def customers_named(stack: Stack, last: str) -> list[dict[str, Any]]:
    return list(stack.heartland_get("customers", _filter=f'{{"last_name":"{last}"}}', per_page=100)["results"])


def test_magento_signup_matching_a_till_customer_is_linked_without_a_new_heartland_record(stack: Stack) -> None:
    from service.flows.checks import duplicates
    jon = till_customer(stack, "Jon", "Smith", phone="(503) 555-0142", line_1="12 Oak Street", postcode="97201")
    duplicates.for_runtime(stack.runtime).backfill()
    before = len(customers_named(stack, "Smith"))
    stack.start_worker()
    time.sleep(1.1)  # the account is newer than the till record
    magento_id = magento_signup(stack, "jonathan.smith@example.com", "Jonathan", "Smith", phone="503-555-0142",
                                street="12 Oak St", postcode="97201")
    [item] = wait_settled(stack, 1)
    assert item.state == "done", item.reason
    assert len(customers_named(stack, "Smith")) == before, "a second Heartland customer was created"
    binding = bindings.find(stack.runtime.store, "customer", customer_key("default", magento_id), "heartland")
    assert binding is not None and binding.external_id == str(jon)
    notes = [s for s in items.steps(stack.runtime.store, item.id) if s.step == "dedup"]
    assert notes and notes[0].detail["kind"] == "match"
    # Linked for the first time: the email is Magento's (it owns it), the rest the newest record's.
    heartland = stack.heartland_get(f"customers/{jon}")
    assert (heartland["email"], heartland["first_name"]) == ("jonathan.smith@example.com", "Jonathan")
    [address] = stack.heartland_get(f"customers/{jon}/addresses")["results"]
    assert address["phone"] == "+15035550142"


def test_borderline_magento_signup_is_created_and_queued_for_review(stack: Stack) -> None:
    from service.flows.checks import duplicates
    from service.store import customer_reviews

    maria = till_customer(stack, "Maria", "Garcia", phone="(503) 555-0177", line_1="40 Elm Avenue",
                          postcode="97205")
    duplicates.for_runtime(stack.runtime).backfill()
    stack.start_worker()
    magento_id = magento_signup(stack, "marie.lopez@example.net", "Marie", "Lopez", phone="503-555-0177",
                                street="9 Pine Rd", postcode="97205")
    [item] = wait_settled(stack, 1)
    assert item.state == "done", item.reason
    binding = bindings.find(stack.runtime.store, "customer", customer_key("default", magento_id), "heartland")
    assert binding is not None and binding.external_id != str(maria)
    assert stack.heartland_get(f"customers/{binding.external_id}")["last_name"] == "Lopez"
    [pair] = customer_reviews.search(stack.runtime.store, ["pending"])
    assert pair.right_id == str(maria) and pair.linked_id == binding.external_id and pair.linked_created
    assert pair.origin == f"Magento customer {magento_id}"


# -- polling backstop --------------------------------------------------------------------------------

@pytest.fixture
def polling_stack(settings: dict[str, Any], tmp_path: Path) -> Iterator[Stack]:
    s = build_stack({**settings, "POLL_INTERVAL_SECONDS": 1.0, "POLL_OVERLAP_SECONDS": 5.0}, tmp_path)
    try:
        yield s
    finally:
        s.stop()


def test_lost_heartland_webhook_is_caught_by_the_poll(polling_stack: Stack) -> None:
    stack = polling_stack
    stack.start_worker()
    stack.start_scheduler()
    sync_magento_edit(stack, addresses=[moved_address(stack)])
    hid = heartland_id(stack)
    time.sleep(1.1)
    heartland_put(stack, f"customers/{hid}", {"first_name": "Polly"})  # no webhook is registered
    stack.wait_for(lambda: stack.magento_get(f"customers/{MAGENTO_ID}")["firstname"] == "Polly", timeout=30,
                   what="the Heartland edit in Magento through the poll")
    time.sleep(2.5)  # further polls read the same changes again (overlap) and Magento's event of our write
    rows = wait_settled(stack, len(customer_items(stack)))
    done = [i for i in rows if i.payload.get("kind") == "customer" and i.state == "done"]
    assert len(done) == 1, [(i.label, i.state, i.reason) for i in rows]
    others = [i for i in rows if i.state != "done"]
    assert all(i.state == "ignored" for i in others), [(i.label, i.state, i.reason) for i in others]


# -- declared steps --------------------------------------------------------------------------------------

@pytest.fixture
def unpolled_stack(settings: dict[str, Any], tmp_path: Path) -> Iterator[Stack]:
    """A scheduler that only sends retries: no poll records a second item of the customer meanwhile."""
    s = build_stack({**settings, "POLL_INTERVAL_SECONDS": 0, "DRIFT_INTERVAL_SECONDS": 0}, tmp_path)
    try:
        yield s
    finally:
        s.stop()


def test_an_address_failure_is_retried_after_the_created_customer(unpolled_stack: Stack) -> None:
    """A new Magento customer whose Heartland address write fails once: the retry resumes after the
    customer it created (no second customer, no second lookup), and the address is added once."""
    stack = unpolled_stack
    stack.faults(stack.heartland, fail_next={"method": "POST", "path": "/api/customers/", "count": 1,
                                             "status": 503})
    stack.start_worker()
    stack.start_scheduler()  # it sends the failed run's retry to the queue
    magento_id = magento_signup(stack, "nora.quinn@example.org", "Nora", "Quinn", phone="503-555-0101",
                                street="3 Birch Way", postcode="97209")
    rows = wait_settled(stack, 1)
    assert len(rows) == 1, [(i.entity_key, i.state, i.reason, i.attempts) for i in rows]
    [item] = rows
    assert item.state == "done" and item.attempts == 2 and item.progress is None, item.reason
    assert item.result["created"] is True
    second = [s for s in items.steps(stack.runtime.store, item.id) if s.attempt == 2]
    assert {s.step for s in second if (s.detail or {}).get("resumed")} == {"resolve"}, \
        [(s.step, s.message) for s in second]
    assert [s.step for s in second if s.step in ("fetch", "current", "survive", "deliver", "confirm")] == \
        ["fetch", "current", "survive", "deliver", "confirm"]

    [quinn] = customers_named(stack, "Quinn")
    binding = bindings.find(stack.runtime.store, "customer", customer_key("default", magento_id), "heartland")
    assert binding is not None and binding.external_id == str(quinn["id"])
    log = stack.requests_log(stack.heartland, "/api/customers")
    assert len([r for r in log if r["method"] == "POST" and r["path"] == "/api/customers"]) == 1
    added = [r["status"] for r in log if r["method"] == "POST" and r["path"] == f"/api/customers/{quinn['id']}/addresses"]
    assert len(added) == 2 and added[0] == 503 and 200 <= added[1] < 300, added
    [address] = stack.heartland_get(f"customers/{quinn['id']}/addresses")["results"]
    assert address["postal_code"] == "97209"


def test_a_poll_of_the_customer_a_failed_run_created_does_not_cost_its_address(unpolled_stack: Stack) -> None:
    """A new Magento customer whose Heartland address write fails: while its item waits for the
    retry, a poll of Heartland records the customer the run created, and that item binds both sides
    at the synced versions without writing the address (Heartland's side is the newest). The retry
    is not "already synced": it resumes its own unfinished work and adds the address."""
    stack = unpolled_stack
    stack.faults(stack.heartland, fail_next={"method": "POST", "path": "/api/customers/", "count": 1,
                                             "status": 503})
    stack.start_worker()
    magento_id = magento_signup(stack, "iris.vale@example.org", "Iris", "Vale", phone="503-555-0177",
                                street="9 Alder Ct", postcode="97210")

    def failed_once() -> bool:
        rows = customer_items(stack)
        return len(rows) == 1 and rows[0].attempts == 1 and rows[0].state == "received" and bool(rows[0].progress)

    stack.wait_for(failed_once, timeout=30, what="the first run's failure on the address")
    [vale] = customers_named(stack, "Vale")
    [poller] = [p for p in stack.runtime.flow("customers").pollers() if p.resource == HEARTLAND_POLL]
    [polled] = polling.poll(stack.runtime.store, poller, overlap_seconds=60).item_ids
    stack.runtime.pipeline.run_item(polled)
    item = items.get(stack.runtime.store, polled)
    assert item is not None and item.state == "done", (item.state if item else None, item.reason if item else None)
    assert bindings.find(stack.runtime.store, "customer", customer_key("default", magento_id), "heartland") is not None

    stack.start_scheduler()  # it sends the first item's retry to the queue
    rows = wait_settled(stack, 2)
    first = rows[0]
    assert first.state == "done" and first.attempts == 2, (first.state, first.reason)
    assert len(customers_named(stack, "Vale")) == 1
    [address] = stack.heartland_get(f"customers/{vale['id']}/addresses")["results"]
    assert address["postal_code"] == "97210"
