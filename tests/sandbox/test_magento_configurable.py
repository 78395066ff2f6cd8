"""Select attributes and their options, configurable products, their options and their children."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from service.sandbox.magento.app import create_app
from service.sandbox.server import RunningSandbox, start_in_thread

TOKEN = "magento-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    running = start_in_thread(create_app(seed="demo", token=TOKEN, history_orders=0, products=20, customers=0))
    yield running
    running.stop()


def call(sandbox: RunningSandbox, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(method, f"{sandbox.url}/rest/all/V1/{path}", json=body, headers=AUTH, timeout=10)


def ok(response: requests.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def option_ids(sandbox: RunningSandbox, code: str) -> dict[str, str]:
    return {o["label"]: o["value"] for o in ok(call(sandbox, "GET", f"products/attributes/{code}/options"))}


def test_select_attributes_are_seeded_and_options_are_added_by_label(sandbox: RunningSandbox) -> None:
    color = ok(call(sandbox, "GET", "products/attributes/color"))
    assert (color["attribute_id"], color["frontend_input"], color["scope"]) == (93, "select", "global")
    listed = ok(call(sandbox, "GET", "products/attributes/color/options"))
    assert listed[0] == {"label": " ", "value": ""}  # a select's empty option comes first, as in Magento
    assert {"Black", "Red", "Navy"} <= {o["label"] for o in listed}
    assert ok(call(sandbox, "GET", "products/attributes/size"))["attribute_id"] == 144

    new_id = ok(call(sandbox, "POST", "products/attributes/color/options", {"option": {"label": "Teal", "value": ""}}))
    assert isinstance(new_id, str) and new_id.isdigit()  # the option id, as a string
    assert option_ids(sandbox, "color")["Teal"] == new_id
    # Labels are unique per attribute, compared without case.
    again = call(sandbox, "POST", "products/attributes/color/options", {"option": {"label": "teal", "value": ""}})
    assert again.status_code == 400 and again.json() == {
        "message": 'Admin store attribute option label "%1" is already exists.', "parameters": ["teal"]}
    # Option ids are one sequence over all attributes.
    size_id = ok(call(sandbox, "POST", "products/attributes/size/options", {"option": {"label": "XXL", "value": ""}}))
    assert int(size_id) == int(new_id) + 1

    blank = call(sandbox, "POST", "products/attributes/color/options", {"option": {"label": " ", "value": ""}})
    assert blank.status_code == 400 and "label is empty" in blank.json()["message"]
    missing = call(sandbox, "GET", "products/attributes/nope/options")
    assert missing.status_code == 404 and missing.json()["parameters"] == ["nope"]
    unknown = call(sandbox, "POST", "products/attributes/color/options", {"option": {"label": "X", "colour": 1}})
    assert unknown.status_code == 400 and unknown.json()["parameters"][0] == "Colour"


def simple(sandbox: RunningSandbox, sku: str, **values: str) -> None:
    ok(call(sandbox, "POST", "products", {"product": {
        "sku": sku, "name": sku, "price": 10, "attribute_set_id": 4, "type_id": "simple", "visibility": 1,
        "custom_attributes": [{"attribute_code": code, "value": value} for code, value in values.items()]}}))


def test_a_configurable_product_varies_on_its_options_and_links_children_once(sandbox: RunningSandbox) -> None:
    colors, sizes = option_ids(sandbox, "color"), option_ids(sandbox, "size")
    ok(call(sandbox, "POST", "products", {"product": {"sku": "TEE-CONF", "name": "Tee", "price": 20,
                                                      "attribute_set_id": 4, "type_id": "configurable"}}))
    simple(sandbox, "TEE-RED-S", color=colors["Red"], size=sizes["S"])
    simple(sandbox, "TEE-RED-M", color=colors["Red"], size=sizes["M"])
    simple(sandbox, "TEE-BLUE", color=colors["Blue"])
    simple(sandbox, "TEE-TWIN", color=colors["Red"], size=sizes["S"])

    # No options yet: nothing can be linked.
    early = call(sandbox, "POST", "configurable-products/TEE-CONF/child", {"childSku": "TEE-RED-S"})
    assert early.status_code == 400 and early.json()["message"] == (
        "The parent product doesn't have configurable product options.")
    for attribute_id, label, value in (("93", "Color", colors["Red"]), ("144", "Size", sizes["S"])):
        option_id = ok(call(sandbox, "POST", "configurable-products/TEE-CONF/options", {"option": {
            "attribute_id": attribute_id, "label": label, "position": 0, "is_use_default": True,
            "values": [{"value_index": int(value)}]}}))
        assert isinstance(option_id, int)
    twice = call(sandbox, "POST", "configurable-products/TEE-CONF/options", {"option": {
        "attribute_id": "93", "label": "Color", "values": [{"value_index": int(colors["Red"])}]}})
    assert twice.status_code == 400 and twice.json()["message"] == "Something went wrong while saving option."
    incomplete = call(sandbox, "POST", "configurable-products/TEE-CONF/options", {"option": {"label": "Color"}})
    assert incomplete.status_code == 400 and [e["message"] for e in incomplete.json()["errors"]] == [
        "Option attribute ID is not specified.", "Option values are not specified."]

    # Values come from the linked children, not from what the option was created with.
    assert [o["values"] for o in ok(call(sandbox, "GET", "configurable-products/TEE-CONF/options/all"))] == [[], []]
    assert ok(call(sandbox, "POST", "configurable-products/TEE-CONF/child", {"childSku": "TEE-RED-S"})) is True
    assert ok(call(sandbox, "POST", "configurable-products/TEE-CONF/child", {"childSku": "TEE-RED-M"})) is True
    attached = call(sandbox, "POST", "configurable-products/TEE-CONF/child", {"childSku": "TEE-RED-M"})
    assert attached.status_code == 400 and attached.json()["message"] == "The product is already attached."
    no_size = call(sandbox, "POST", "configurable-products/TEE-CONF/child", {"childSku": "TEE-BLUE"})
    assert no_size.status_code == 400 and no_size.json()["parameters"] == ["size"]
    twin = call(sandbox, "POST", "configurable-products/TEE-CONF/child", {"childSku": "TEE-TWIN"})
    assert twin.status_code == 400 and twin.json()["parameters"] == ["TEE-RED-S", "TEE-TWIN"]

    options = ok(call(sandbox, "GET", "configurable-products/TEE-CONF/options/all"))
    assert [(o["attribute_id"], o["label"]) for o in options] == [("93", "Color"), ("144", "Size")]
    assert options[0]["values"] == [{"value_index": int(colors["Red"])}]
    assert options[1]["values"] == [{"value_index": int(sizes["S"])}, {"value_index": int(sizes["M"])}]
    children = ok(call(sandbox, "GET", "configurable-products/TEE-CONF/children"))
    assert [c["sku"] for c in children] == ["TEE-RED-S", "TEE-RED-M"]
    parent = ok(call(sandbox, "GET", "products/TEE-CONF"))
    assert parent["extension_attributes"]["configurable_product_links"] == [c["id"] for c in children]
    assert len(parent["extension_attributes"]["configurable_product_options"]) == 2

    simple_parent = call(sandbox, "GET", "configurable-products/TEE-RED-S/options/all")
    assert simple_parent.status_code == 400 and simple_parent.json()["parameters"] == ["TEE-RED-S"]
    nobody = call(sandbox, "POST", "configurable-products/NOPE/child", {"childSku": "TEE-RED-S"})
    assert nobody.status_code == 404
    no_child = call(sandbox, "POST", "configurable-products/TEE-CONF/child", {})
    assert no_child.status_code == 400 and no_child.json()["parameters"] == {"fieldName": "childSku"}
