"""The Heartland sandbox's conventions over real HTTP: auth, collections, filters, writes, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from service.sandbox.heartland.app import create_app
from service.sandbox.seed import generate
from service.sandbox.server import RunningSandbox, start_in_thread

TOKEN = "heartland-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    running = start_in_thread(create_app(seed="demo", token=TOKEN))
    yield running
    running.stop()


class Api:
    def __init__(self, url: str) -> None:
        self.base = f"{url}/api"
        self.session = requests.Session()
        self.session.headers.update(AUTH)

    def get(self, path: str, params: Any = None) -> requests.Response:
        return self.session.get(f"{self.base}/{path}", params=params, timeout=10)

    def post(self, path: str, body: Any) -> requests.Response:
        return self.session.post(f"{self.base}/{path}", json=body, timeout=10)

    def put(self, path: str, body: Any) -> requests.Response:
        return self.session.put(f"{self.base}/{path}", json=body, timeout=10)

    def created(self, path: str, body: Any) -> dict[str, Any]:
        response = self.post(path, body)
        assert response.status_code == 201, response.text
        follow = self.session.get(response.headers["Location"], timeout=10)
        assert follow.status_code == 200
        return dict(follow.json())


@pytest.fixture(scope="module")
def api(sandbox: RunningSandbox) -> Api:
    return Api(sandbox.url)


def test_requests_without_the_bearer_token_are_refused(sandbox: RunningSandbox) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Token token={TOKEN}"}):
        response = requests.get(f"{sandbox.url}/api/items", headers=headers, timeout=10)
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"
        assert "Bearer" in response.json()["message"]
    assert requests.get(f"{sandbox.url}/__sandbox/requests", timeout=10).status_code == 200


def test_collections_page_with_results_total_and_pages(api: Api) -> None:
    body = api.get("items").json()
    assert set(body) == {"results", "total", "pages"}
    assert len(body["results"]) == 20 and body["total"] == 500 and body["pages"] == 25
    last = api.get("items", {"page": 25, "per_page": 20}).json()["results"]
    past = api.get("items", {"page": 26}).json()
    assert len(last) == 20 and past["results"] == [] and past["pages"] == 25
    assert [r["id"] for r in body["results"]][0] == 100001


def test_empty_collections_still_report_one_page(api: Api) -> None:
    body = api.get("items", {"_filter": json.dumps({"public_id": "NO-SUCH"})}).json()
    assert body == {"results": [], "total": 0, "pages": 1}


def test_per_page_all_only_where_the_reference_allows_it(api: Api) -> None:
    locations = api.get("locations", {"per_page": "all"}).json()
    assert locations["total"] == 3 and len(locations["results"]) == 3 and locations["pages"] == 1
    refused = api.get("items", {"per_page": "all"})
    assert refused.status_code == 422 and "per_page" in refused.json()["details"]
    assert api.get("items", {"per_page": 0}).status_code == 422


def test_items_are_the_seed_catalog_by_public_id(api: Api) -> None:
    product = generate("demo").products[7]
    found = api.get("items", {"_filter": json.dumps({"public_id": product.sku})}).json()["results"]
    assert len(found) == 1
    item = found[0]
    assert item["description"] == product.name and item["price"] == product.price
    assert item["cost"] == product.cost and item["weight"] == product.weight and item["active"] is True
    assert item["custom"] == {"color": product.color, "category": product.category}


def test_filter_forms_agree(api: Api) -> None:
    skus = [p.sku for p in generate("demo").products[:5]]
    by_in = api.get("items", {"_filter": json.dumps({"public_id": {"$in": skus}})}).json()
    assert sorted(r["public_id"] for r in by_in["results"]) == sorted(skus)
    array = [{"price": {"$gt": 50}}, {"custom@category": "Hoodie"}]
    a = api.get("items", {"_filter": json.dumps(array), "per_page": 500}).json()
    b = api.get("items", [("_filter[]", json.dumps(array[0])), ("_filter[]", json.dumps(array[1])),
                          ("per_page", 500)]).json()
    c = api.get("items", {"~[price][$gt]": "50", "~[custom@category]": "Hoodie", "per_page": 500}).json()
    assert a["total"] > 0
    assert [r["id"] for r in a["results"]] == [r["id"] for r in b["results"]] == [r["id"] for r in c["results"]]
    assert all(r["price"] > 50 and r["custom"]["category"] == "Hoodie" for r in a["results"])
    plain = api.get("items", {"public_id": skus[0]}).json()
    assert [r["public_id"] for r in plain["results"]] == [skus[0]]
    bracket_in = api.get("items", {"~[public_id][$in]": ",".join(skus[:3])}).json()
    assert bracket_in["total"] == 3


def test_operators(api: Api) -> None:
    def total(flt: Any) -> int:
        return int(api.get("items", {"_filter": json.dumps(flt), "per_page": 1}).json()["total"])

    hoodies = total({"custom@category": "Hoodie"})
    assert total({"custom@category": {"$neq": "Hoodie"}}) == 500 - hoodies
    assert total({"custom@category": {"$nin": ["Hoodie"]}}) == 500 - hoodies
    assert total({"description": {"$like": "%hoodie%"}}) == hoodies
    assert total({"$or": [{"custom@category": "Hoodie"}, {"custom@category": "Cap"}]}) == hoodies + total(
        {"custom@category": "Cap"})
    assert total({"$and": [{"price": {"$gte": 20}}, {"price": {"$lte": 30}}]}) == total(
        {"price": {"$gte": 20, "$lte": 30}})
    assert total({"id": {"$lt": 100011}}) == 10
    assert total({"grid_id": {"$eq": None}}) + total({"grid_id": {"$neq": None}}) == 500


def test_malformed_filters_are_400_not_empty_results(api: Api) -> None:
    bad_json = api.get("items", {"_filter": "{public_id:"})
    assert bad_json.status_code == 400 and bad_json.json()["error"] == "bad_request"
    bad_op = api.get("items", {"_filter": json.dumps({"price": {"$between": [1, 2]}})})
    assert bad_op.status_code == 400 and "$between" in bad_op.json()["message"]


def test_sorting_and_field_selection(api: Api) -> None:
    rows = api.get("items", [("sort[]", "price,desc"), ("sort[]", "id"), ("per_page", 50)]).json()["results"]
    prices = [r["price"] for r in rows]
    assert prices == sorted(prices, reverse=True)
    same_price = [r["id"] for r in rows if r["price"] == rows[0]["price"]]
    assert same_price == sorted(same_price)
    by_custom = api.get("items", {"sort": "custom@color,desc", "per_page": 500}).json()["results"]
    colors = [r["custom"]["color"] for r in by_custom]
    assert colors == sorted(colors, reverse=True)
    only = api.get("items", [("_only[]", "id"), ("_only[]", "public_id"), ("per_page", 2)]).json()["results"]
    assert all(set(r) == {"id", "public_id"} for r in only)


def test_include_embeds_related_records(api: Api) -> None:
    locations = api.get("locations", [("_include[]", "stations"), ("per_page", "all")]).json()["results"]
    assert all(loc["stations"] and all(s["location_id"] == loc["id"] for s in loc["stations"]) for loc in locations)
    item = api.get("items", [("_include[]", "grid"), ("_filter", json.dumps({"grid_id": {"$neq": None}}))]).json()
    assert item["results"][0]["grid"]["id"] == item["results"][0]["grid_id"]
    unknown = api.get("items", {"_include[]": "vendor"})
    assert unknown.status_code == 422 and "_include" in unknown.json()["details"]


def test_post_answers_201_with_location_and_empty_body(api: Api) -> None:
    response = api.post("items", {"public_id": "NEW-ITEM-1", "description": "New thing", "price": 10, "cost": 4})
    assert response.status_code == 201
    assert response.content == b""
    location = response.headers["Location"]
    assert location.startswith(api.base + "/items/")
    item = api.session.get(location, timeout=10).json()
    assert item["public_id"] == "NEW-ITEM-1" and item["id"] >= 100001 and item["active"] is True


def test_public_ids_are_assigned_when_blank_and_unique_when_given(api: Api) -> None:
    first = api.created("items", {"description": "Auto numbered", "cost": 1})
    second = api.created("items", {"description": "Auto numbered too", "cost": 1})
    assert first["public_id"] and second["public_id"] and first["public_id"] != second["public_id"]
    taken = api.post("items", {"public_id": first["public_id"], "description": "Clash"})
    assert taken.status_code == 422
    assert taken.json()["error"] == "validation_error"
    assert taken.json()["details"] == {"public_id": ["has already been taken"]}


def test_validation_errors_list_every_field(api: Api) -> None:
    response = api.post("customers", {"email": "not-an-email"})
    body = response.json()
    assert response.status_code == 422 and body["error"] == "validation_error"
    assert set(body["details"]) == {"first_name", "last_name", "email"}
    assert body["message"]


def test_partial_put_changes_only_what_is_sent(api: Api) -> None:
    item = api.created("items", {"description": "Before", "price": 12.5, "cost": 5, "custom": {"color": "Red"}})
    response = api.put(f"items/{item['id']}", {"price": 14, "custom@size": "L"})
    assert response.status_code == 200
    after = response.json()
    assert after["price"] == 14 and after["description"] == "Before"
    assert after["custom"] == {"color": "Red", "size": "L"}
    assert api.get(f"items/{item['id']}").json() == after


def test_not_found_shapes(api: Api) -> None:
    missing = api.get("items/999999")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    route = api.get("no/such/collection")
    assert route.status_code == 404 and route.json()["error"] == "not_found"


def test_head_and_delete(api: Api, sandbox: RunningSandbox) -> None:
    assert api.session.head(f"{api.base}/items/100001", timeout=10).status_code == 200
    assert api.session.head(f"{api.base}/items/999999", timeout=10).status_code == 404
    assert api.session.delete(f"{api.base}/items/100001", timeout=10).status_code == 405
    customer = api.created("customers", {"first_name": "Del", "last_name": "Ete"})
    address = api.created(f"customers/{customer['id']}/addresses",
                          {"first_name": "Del", "last_name": "Ete", "line_1": "1 Main St", "city": "Austin"})
    gone = api.session.delete(f"{api.base}/customers/{customer['id']}/addresses/{address['id']}", timeout=10)
    assert gone.status_code == 204
    assert api.get(f"customers/{customer['id']}/addresses").json()["total"] == 0


def test_customers_with_addresses_and_phone_per_address(api: Api) -> None:
    person = generate("demo").customers[3]
    found = api.get("customers", {"_filter": json.dumps({"email": person.email})}).json()["results"]
    assert len(found) == 1
    customer = found[0]
    assert customer["first_name"] == person.first_name and customer["name"] == f"{person.first_name} {person.last_name}"
    assert "phone" not in customer
    addresses = api.get(f"customers/{customer['id']}/addresses").json()["results"]
    assert addresses[0]["phone"] == person.address.phone and addresses[0]["postal_code"] == person.address.postcode
    assert api.get("customers", {"query": person.email.upper()}).json()["total"] >= 1
    other = api.get("customers/100001/addresses/" + str(addresses[0]["id"]))
    assert other.status_code == 404 or customer["id"] == 100001


def test_payment_types_are_seeded(api: Api) -> None:
    names = {p["name"] for p in api.get("payment_types", {"per_page": "all"}).json()["results"]}
    assert {"Credit Card", "PayPal", "Check / Money order", "External"} <= names


def test_required_custom_fields_reject_creates(sandbox: RunningSandbox) -> None:
    running = start_in_thread(create_app(seed=None, token=TOKEN))
    try:
        api = Api(running.url)
        api.created("custom_fields", {"key": "source", "name": "Source", "group_id": "customer", "required": True})
        refused = api.post("customers", {"first_name": "A", "last_name": "B"})
        assert refused.status_code == 422
        assert refused.json()["details"] == {"custom@source": ["can't be blank"]}
        assert api.post("customers", {"first_name": "A", "last_name": "B", "custom@source": "web"}).status_code == 201
        api.created("custom_fields", {"key": "magento_id", "group_id": "customer", "unique": True})
        assert api.post("customers", {"first_name": "C", "last_name": "D", "custom": {
            "source": "web", "magento_id": "7"}}).status_code == 201
        clash = api.post("customers", {"first_name": "E", "last_name": "F", "custom": {"source": "w", "magento_id": "7"}})
        assert clash.json()["details"] == {"custom@magento_id": ["has already been taken"]}
    finally:
        running.stop()


def test_item_grids_cannot_be_created_but_update_and_filter(api: Api) -> None:
    refused = api.post("item_grids", {"description": "New grid"})
    assert refused.status_code == 405 and refused.json()["error"] == "method_not_allowed"
    grids = api.get("item_grids", {"~[item_custom@category]": "Hoodie", "per_page": 100}).json()
    assert grids["total"] > 0 and all(g["item_custom"]["category"] == "Hoodie" for g in grids["results"])
    grid = grids["results"][0]
    updated = api.put(f"item_grids/{grid['id']}", {"description": "Renamed grid"}).json()
    assert updated["description"] == "Renamed grid"
    members = api.get("items", {"grid_id": grid["id"]}).json()
    assert members["total"] >= 2


def test_the_same_seed_gives_the_same_account() -> None:
    first = create_app(seed="repeat", token=TOKEN).test_client()
    second = create_app(seed="repeat", token=TOKEN).test_client()
    other = create_app(seed="other", token=TOKEN).test_client()
    paths = ["/api/items?per_page=50", "/api/customers?per_page=50", "/api/sales/tickets?per_page=50",
             "/api/sales/orders?per_page=50&_include[]=lines", "/api/gift_cards?per_page=50",
             "/api/inventory/values?group[]=item_id&group[]=location_id&per_page=100"]
    for path in paths:
        a = first.get(path, headers=AUTH).get_json()
        assert a == second.get(path, headers=AUTH).get_json()
        assert a["total"] > 0
    assert first.get(paths[0], headers=AUTH).get_json() != other.get(paths[0], headers=AUTH).get_json()


def test_seed_has_history() -> None:
    client = create_app(seed="demo", token=TOKEN).test_client()

    def total(path: str) -> int:
        return int(client.get(f"/api/{path}", headers=AUTH).get_json()["total"])

    assert total("items") == 500 and total("customers") == 200 and total("locations") == 3
    assert total("sales/tickets?type=Ticket") >= 100
    assert total("sales/tickets?type=Return") >= 5
    assert total("sales/orders?status=complete") >= 20
    assert total("sales/invoices?status=complete") >= 20
    assert total("gift_cards") >= 20
    committed = client.get("/api/inventory/values?group[]=location_id", headers=AUTH).get_json()["results"]
    assert all(row["qty_committed"] == 0 for row in committed)
    stock = generate("demo").products[0].stock
    first = client.get("/api/inventory/values?item_id=100001&group[]=location_id", headers=AUTH).get_json()
    assert [row["qty_on_hand"] for row in first["results"]] == list(stock)


def test_reset_restores_the_seeded_account(sandbox: RunningSandbox) -> None:
    running = start_in_thread(create_app(seed="demo", token=TOKEN, seed_products=20, seed_customers=5))
    try:
        api = Api(running.url)
        before = api.get("items", {"per_page": 100}).json()
        api.created("items", {"description": "Made after seeding"})
        assert api.get("items").json()["total"] == before["total"] + 1
        assert requests.post(f"{running.url}/__sandbox/reset", timeout=10).status_code == 200
        assert api.get("items", {"per_page": 100}).json() == before
    finally:
        running.stop()


def test_throttle_answers_429_with_retry_after(sandbox: RunningSandbox) -> None:
    running = start_in_thread(create_app(seed=None, token=TOKEN, rate_limit_per_second=5))
    try:
        api = Api(running.url)
        statuses = [api.get("locations") for _ in range(15)]
        limited = [r for r in statuses if r.status_code == 429]
        assert limited and int(limited[0].headers["Retry-After"]) >= 1
        assert statuses[0].status_code == 200
    finally:
        running.stop()


def test_settings(api: Api) -> None:
    assert api.get("settings/company_name").json() == {"value": "Tillbridge Demo Outfitters"}
    assert api.get("settings/no.such.key").status_code == 404


def test_bracket_lists_and_date_filters(api: Api) -> None:
    skus = [p.sku for p in generate("demo").products[10:13]]
    repeated = api.get("items", [("~[public_id][$in][]", s) for s in skus]).json()
    assert sorted(r["public_id"] for r in repeated["results"]) == sorted(skus)
    made = api.created("customers", {"first_name": "Late", "last_name": "Comer"})
    since = api.get("customers", {"~[updated_at][$gte]": made["updated_at"].replace("+00:00", "Z")}).json()
    assert made["id"] in [c["id"] for c in since["results"]]
    assert api.get("customers", {"_filter": json.dumps({"updated_at": {"$lt": "2026-09-01"}})}).json()["total"] == 0
    assert api.get("customers", {"_filter": json.dumps({"created_at": {"$lte": "2026-09-01T09:00:00+00:00"}})}
                   ).json()["total"] == 200
