"""Select attributes with their options, and configurable products built on them.

Follows Magento's Eav ``OptionManagement`` and ConfigurableProduct's ``OptionRepository`` and
``LinkManagement``: an attribute option is added by label and answered with its new id (a string);
a configurable product's options name the attributes its children vary on; a child is linked only
when the parent has options and the child has a value for each of their attributes. A configurable
option's ``values`` are not stored: Magento derives them from the linked children's values, and so
does the sandbox. The options and the children's ids are kept on the parent product itself, as GET
``/V1/products/{sku}`` shows them (``extension_attributes.configurable_product_options`` and
``configurable_product_links``).
"""

from __future__ import annotations

from typing import Any

from service.sandbox.magento.attributes import append_option
from service.sandbox.magento.catalog import product_view
from service.sandbox.magento.errors import MagentoError, product_missing, required_field
from service.sandbox.magento.sandbox import Call, MagentoSandbox
from service.sandbox.magento.state import Encoded, MagentoState

CATALOG = "Magento_Catalog::products"
ATTRIBUTES = "Magento_Catalog::attributes_attributes"
CONFIGURABLE = "configurable"
SELECT_INPUTS = ("select", "multiselect")

def get_attribute(state: MagentoState, code: str) -> dict[str, Any]:
    attribute = state.attributes.get(code)
    if attribute is None:
        raise MagentoError('The attribute with a "%1" attributeCode doesn\'t exist. Verify the attribute and try again.',
                           [code], status=404)
    return attribute


def attribute_by_id(state: MagentoState, attribute_id: Any) -> dict[str, Any] | None:
    return next((a for a in state.attributes.values() if str(a["attribute_id"]) == str(attribute_id).strip()), None)


def attribute_view(attribute: dict[str, Any]) -> dict[str, Any]:
    """As ``GET /V1/products/attributes/{code}`` answers: a select's options start with the empty one."""
    view = {k: v for k, v in attribute.items() if k != "options"}
    view["options"] = options_view(attribute)
    return view


def options_view(attribute: dict[str, Any]) -> list[dict[str, Any]]:
    if attribute["frontend_input"] not in SELECT_INPUTS:
        return []
    ordered = sorted(attribute["options"], key=lambda o: (o["sort_order"], int(o["value"])))
    return [{"label": " ", "value": ""}, *({"label": o["label"], "value": o["value"]} for o in ordered)]


def add_option(state: MagentoState, code: str, option: dict[str, Any]) -> str:
    """Add an option to a select attribute; the new option id, as a string."""
    attribute = get_attribute(state, code)
    if attribute["frontend_input"] not in SELECT_INPUTS:
        raise MagentoError('The "%1" attribute doesn\'t work with options.', [code])
    label = str(option.get("label") or "").strip()
    if not label:
        admin = [s for s in option.get("store_labels") or [] if int(s.get("store_id") or 0) == 0]
        label = str(admin[0].get("label") or "").strip() if admin else ""
    if not label:
        raise MagentoError("The attribute option label is empty. Enter the value and try again.")
    if any(o["label"].lower() == label.lower() for o in attribute["options"]):
        raise MagentoError('Admin store attribute option label "%1" is already exists.', [label])
    sort_order = int(option.get("sort_order") or 0)
    return append_option(state, attribute, label, sort_order)


# -- configurable products ------------------------------------------------------------------------


def configurable_product(state: MagentoState, sku: str) -> dict[str, Any]:
    product = state.products.get(sku)
    if product is None:
        raise product_missing()
    if product.get("type_id") != CONFIGURABLE:
        raise MagentoError('This is implemented for the "%1" configurable product only.', [sku])
    return product


def _extension(product: dict[str, Any]) -> dict[str, Any]:
    extension: dict[str, Any] = product.setdefault("extension_attributes", {})
    extension.setdefault("configurable_product_options", [])
    extension.setdefault("configurable_product_links", [])
    return extension


def _children(state: MagentoState, product: dict[str, Any]) -> list[dict[str, Any]]:
    skus = (state.product_skus_by_id.get(int(i)) for i in _extension(product)["configurable_product_links"])
    return [state.products[sku] for sku in skus if sku is not None and sku in state.products]


def attribute_value(product: dict[str, Any], code: str) -> str:
    for attribute in product.get("custom_attributes") or []:
        if attribute.get("attribute_code") == code:
            value = attribute.get("value")
            return "" if value is None else str(value)
    return ""


def options_with_values(state: MagentoState, product: dict[str, Any]) -> list[dict[str, Any]]:
    """The product's configurable options, each with the values its linked children have."""
    children = _children(state, product)
    answer = []
    for option in _extension(product)["configurable_product_options"]:
        attribute = attribute_by_id(state, option["attribute_id"])
        code = attribute["attribute_code"] if attribute else ""
        present = {attribute_value(child, code) for child in children} - {""}
        order = [o["value"] for o in options_view(attribute)] if attribute else []
        values = sorted(present, key=lambda v: (order.index(v) if v in order else len(order), v))
        answer.append({**option, "values": [{"value_index": int(v)} for v in values if v.isdigit()]})
    return answer


def _refresh(state: MagentoState, product: dict[str, Any]) -> None:
    _extension(product)["configurable_product_options"] = options_with_values(state, product)


def add_configurable_option(state: MagentoState, sku: str, option: dict[str, Any]) -> int:
    product = configurable_product(state, sku)
    problems = []
    if option.get("attribute_id") in (None, ""):
        problems.append("Option attribute ID is not specified.")
    if not str(option.get("label") or "").strip():
        problems.append("Option label is not specified.")
    values = option.get("values") or []
    if not values:
        problems.append("Option values are not specified.")
    elif any(not isinstance(v, dict) or v.get("value_index") in (None, "") for v in values):
        problems.append("Value index is not specified for an option.")
    if len(problems) == 1:
        raise MagentoError(problems[0])
    if problems:
        raise MagentoError("One or more input exceptions have occurred.",
                           errors=[{"message": p, "parameters": []} for p in problems])
    attribute = attribute_by_id(state, option["attribute_id"])
    if attribute is None or attribute["frontend_input"] != "select" or attribute["scope"] != "global":
        raise MagentoError("Provided attribute can not be used with configurable product.")
    options = _extension(product)["configurable_product_options"]
    if any(str(o["attribute_id"]) == str(attribute["attribute_id"]) for o in options):
        # The product already varies on this attribute: OptionRepository::save refuses a second one.
        raise MagentoError("Something went wrong while saving option.")
    option_id = state.counters.next("configurable_option")
    options.append({"id": option_id, "attribute_id": str(attribute["attribute_id"]),
                    "label": str(option["label"]).strip(), "position": int(option.get("position") or 0),
                    "values": [], "product_id": product["id"]})
    _refresh(state, product)
    return option_id


def add_child(state: MagentoState, sku: str, child_sku: str) -> bool:
    product = state.products.get(sku)
    child = state.products.get(child_sku)
    if product is None or child is None:
        raise product_missing()
    configurable_product(state, sku)
    links = _extension(product)["configurable_product_links"]
    if child["id"] in links:
        raise MagentoError("The product is already attached.")
    options = _extension(product)["configurable_product_options"]
    if not options:
        raise MagentoError("The parent product doesn't have configurable product options.")
    codes = []
    for option in options:
        attribute = attribute_by_id(state, option["attribute_id"])
        code = attribute["attribute_code"] if attribute else str(option["attribute_id"])
        if not attribute_value(child, code):
            raise MagentoError('The child product doesn\'t have the "%1" attribute value. Verify the value and try '
                               "again.", [code])
        codes.append(code)
    combination = [attribute_value(child, code) for code in codes]
    for sibling in _children(state, product):
        if [attribute_value(sibling, code) for code in codes] == combination:
            raise MagentoError('Products "%1" and "%2" have the same set of attribute values.',
                               [sibling["sku"], child_sku])
    links.append(child["id"])
    _refresh(state, product)
    return True


# -- routes ----------------------------------------------------------------------------------------


def _option_arg(call: Call) -> dict[str, Any]:
    option = call.arg("option")
    if not isinstance(option, dict):
        raise required_field("option")
    return option


def attribute_route(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        return Encoded(attribute_view(get_attribute(sb.state, call.params["attributeCode"])))


def list_options_route(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        return Encoded(options_view(get_attribute(sb.state, call.params["attributeCode"])))


def add_option_route(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        return add_option(sb.state, call.params["attributeCode"], _option_arg(call))


def list_configurable_options_route(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        return Encoded(options_with_values(sb.state, configurable_product(sb.state, call.params["sku"])))


def add_configurable_option_route(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        return add_configurable_option(sb.state, call.params["sku"], _option_arg(call))


def children_route(call: Call) -> Any:
    sb = call.sandbox
    with sb.state.lock:
        product = configurable_product(sb.state, call.params["sku"])
        return Encoded([product_view(sb.state, child["sku"], call.store.store_id)
                        for child in _children(sb.state, product)])


def add_child_route(call: Call) -> Any:
    sb = call.sandbox
    child_sku = call.arg("childSku")
    if not isinstance(child_sku, str) or not child_sku.strip():
        raise required_field("childSku")
    with sb.state.lock:
        return add_child(sb.state, call.params["sku"], child_sku.strip())


def register(sb: MagentoSandbox) -> None:
    add = sb.add_route
    add("GET", "/V1/products/attributes/{attributeCode}", attribute_route, ATTRIBUTES)
    add("GET", "/V1/products/attributes/{attributeCode}/options", list_options_route, ATTRIBUTES)
    add("POST", "/V1/products/attributes/{attributeCode}/options", add_option_route, ATTRIBUTES)
    add("GET", "/V1/configurable-products/{sku}/options/all", list_configurable_options_route, CATALOG)
    add("POST", "/V1/configurable-products/{sku}/options", add_configurable_option_route, CATALOG)
    add("GET", "/V1/configurable-products/{sku}/children", children_route, CATALOG)
    add("POST", "/V1/configurable-products/{sku}/child", add_child_route, CATALOG)
