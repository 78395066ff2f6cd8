"""Customers in the Magento sandbox: get, search, create, update with the repository's address rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from service.sandbox.magento.app import create_app
from service.sandbox.server import RunningSandbox, start_in_thread

TOKEN = "magento-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    running = start_in_thread(create_app(seed="demo", token=TOKEN, history_orders=0))
    yield running
    running.stop()


def call(sandbox: RunningSandbox, method: str, path: str, body: Any = None, params: Any = None) -> requests.Response:
    return requests.request(method, f"{sandbox.url}/rest/V1/{path}", json=body, params=params, headers=AUTH,
                            timeout=10)


def address(street: str, **extra: Any) -> dict[str, Any]:
    return {"firstname": "Rae", "lastname": "Lee", "street": [street], "city": "Denver", "region_id": 13,
            "postcode": "80202", "country_id": "US", "telephone": "+13035550100", **extra}


def new_customer(sandbox: RunningSandbox, email: str, addresses: list[dict[str, Any]]) -> dict[str, Any]:
    response = call(sandbox, "POST", "customers", {"customer": {"email": email, "firstname": "Rae", "lastname": "Lee",
                                                                "addresses": addresses}})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_seeded_customers_and_search(sandbox: RunningSandbox) -> None:
    first = call(sandbox, "GET", "customers/1").json()
    assert first["addresses"][0]["region"]["region_id"] == first["addresses"][0]["region_id"]
    assert first["default_billing"] == str(first["addresses"][0]["id"])
    everyone = call(sandbox, "GET", "customers/search", params={"searchCriteria[pageSize]": 500}).json()
    assert everyone["total_count"] >= 200
    by_email = call(sandbox, "GET", "customers/search", params={
        "searchCriteria[filter_groups][0][filters][0][field]": "email",
        "searchCriteria[filter_groups][0][filters][0][value]": first["email"].upper(),
    }).json()
    assert [c["id"] for c in by_email["items"]] == [1]
    city = first["addresses"][0]["city"]
    by_city = call(sandbox, "GET", "customers/search", params={
        "searchCriteria[filter_groups][0][filters][0][field]": "billing_city",
        "searchCriteria[filter_groups][0][filters][0][value]": city,
    }).json()
    assert by_city["total_count"] == sum(1 for c in everyone["items"] if c["addresses"][0]["city"] == city)
    missing = call(sandbox, "GET", "customers/99999")
    assert missing.status_code == 404
    assert missing.json() == {"message": "No such entity with %fieldName = %fieldValue",
                              "parameters": {"fieldName": "customerId", "fieldValue": 99999}}


def test_create_validates_and_refuses_duplicate_emails(sandbox: RunningSandbox) -> None:
    created = new_customer(sandbox, "rae.lee@example.com", [address("1 Elm St", default_billing=True,
                                                                    default_shipping=True)])
    assert created["id"] > 200 and created["addresses"][0]["region"]["region_code"] == "CO"
    assert created["default_billing"] == created["default_shipping"] == str(created["addresses"][0]["id"])
    duplicate = call(sandbox, "POST", "customers", {"customer": {"email": "RAE.LEE@example.com", "firstname": "R",
                                                                 "lastname": "L"}})
    assert duplicate.status_code == 400
    assert duplicate.json()["message"] == "A customer with the same email address already exists in an associated website."
    no_name = call(sandbox, "POST", "customers", {"customer": {"email": "x@example.com", "lastname": "L"}})
    assert no_name.json() == {"message": '"%fieldName" is a required value.', "parameters": {"fieldName": "Firstname"}}
    bad_address = call(sandbox, "POST", "customers", {"customer": {
        "email": "y@example.com", "firstname": "Y", "lastname": "L", "addresses": [address("", city="")]}})
    assert bad_address.status_code == 400 and bad_address.json()["parameters"]["fieldName"] == "street"
    typo = call(sandbox, "POST", "customers", {"customer": {"email": "z@example.com", "firstname": "Z",
                                                            "lastname": "L", "groupid": 1}})
    assert typo.status_code == 400 and typo.json()["parameters"][0] == "Groupid"


def test_update_keeps_addresses_when_omitted_and_replaces_them_when_given(sandbox: RunningSandbox) -> None:
    created = new_customer(sandbox, "addr@example.com", [address("1 First St", default_billing=True,
                                                                 default_shipping=True), address("2 Second St")])
    cid = created["id"]
    first, second = created["addresses"]
    renamed = call(sandbox, "PUT", f"customers/{cid}", {"customer": {"id": 1, "email": "addr@example.com",
                                                                     "firstname": "Rachel", "lastname": "Lee"}}).json()
    assert renamed["id"] == cid and renamed["firstname"] == "Rachel"  # the path id wins
    assert renamed["addresses"] == created["addresses"]
    assert renamed["default_billing"] == str(first["id"])

    kept_second = {**second, "street": ["2 Second Street"], "default_billing": True}
    replaced = call(sandbox, "PUT", f"customers/{cid}", {"customer": {
        "email": "addr@example.com", "firstname": "Rachel", "lastname": "Lee",
        "addresses": [kept_second, address("3 Third St")]}}).json()
    ids = [a["id"] for a in replaced["addresses"]]
    assert first["id"] not in ids and second["id"] in ids and len(ids) == 2
    assert replaced["default_billing"] == str(second["id"])
    assert "default_shipping" not in replaced  # its address was deleted
    assert replaced["addresses"][0]["street"] == ["2 Second Street"]

    cleared = call(sandbox, "PUT", f"customers/{cid}", {"customer": {
        "email": "addr@example.com", "firstname": "Rachel", "lastname": "Lee", "addresses": []}}).json()
    assert cleared["addresses"] == [] and "default_billing" not in cleared
    taken = call(sandbox, "PUT", f"customers/{cid}", {"customer": {"email": call(sandbox, "GET", "customers/1").json()
                                                                   ["email"], "firstname": "R", "lastname": "L"}})
    assert taken.status_code == 400
    events = requests.get(f"{sandbox.url}/__sandbox/events", timeout=10).json()["events"]
    assert [e["event"] for e in events][-4:] == ["customer.created", "customer.updated", "customer.updated",
                                                "customer.updated"]
    assert events[-1]["envelope"]["data"] == call(sandbox, "GET", f"customers/{cid}").json()
