"""Products, their store-scoped values, legacy stock items and MSI source items.

Scope (reference §3.6): values are kept globally (store 0, ``/rest/all/V1``) and per store view.
A write through ``/rest/V1`` or ``/rest/<code>/V1`` puts the store-view-scoped attributes (name,
status, visibility, description, short_description, url_key, meta_*) on that store view, leaving
"All Store Views" as it was; global attributes (price, weight, stock, websites, …) are written
globally whatever the URL. A read merges the store view's values over the global ones.

Stock (single-source MSI): the legacy stock item mirrors source ``default``; writing either keeps
the other equal. Orders reserve quantity (salable = quantity − reservations); shipments deduct it.
``PUT /V1/products/{sku}`` with an unknown SKU creates the product, as ProductRepository::save does.
"""

from __future__ import annotations

from typing import Any

from service.sandbox.magento.errors import MagentoError, product_missing
from service.sandbox.magento.sales import sync_legacy_stock
from service.sandbox.magento.state import (
    DEFAULT_SOURCE,
    WEBSITE_ID,
    MagentoState,
    index_product,
    now_text,
    stock_item,
)

STORE_SCOPED = {"name", "status", "visibility"}
STORE_SCOPED_ATTRIBUTES = {"description", "short_description", "url_key", "meta_title", "meta_description",
                           "meta_keyword"}
SOURCE_FIELDS = {"sku", "source_code", "quantity", "status"}


def product_view(state: MagentoState, sku: str, store_id: int) -> dict[str, Any]:
    """The product as that store view sees it: the stored dict itself when nothing is overridden, else a
    shallow merge; serialise it before releasing the lock."""
    product = state.products.get(sku)
    if product is None:
        raise product_missing()
    override = state.store_overrides.get((sku, store_id)) if store_id else None
    if not override:
        return product
    view = dict(product)
    if override:
        for key, value in override.items():
            if key == "custom_attributes":
                merged = {a["attribute_code"]: a for a in view.get("custom_attributes", [])}
                for attribute in value:
                    merged[attribute["attribute_code"]] = dict(attribute)
                view["custom_attributes"] = list(merged.values())
            else:
                view[key] = value
    return view


def search_value(product: Any, name: str) -> Any:
    if name == "entity_id":
        return product.get("id")
    if name in product:
        return product[name]
    for attribute in product.get("custom_attributes") or []:
        if attribute.get("attribute_code") == name:
            return attribute.get("value")
    return None


def _whole(global_part: dict[str, Any], store_part: dict[str, Any]) -> dict[str, Any]:
    """Both parts of a write at global scope, with their custom attributes kept together."""
    whole = {**global_part, **store_part}
    whole["custom_attributes"] = _merge_attributes(global_part.get("custom_attributes", []),
                                                   store_part.get("custom_attributes", []))
    return whole


def _split(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(global part, store-view part) of a product payload."""
    global_part: dict[str, Any] = {}
    store_part: dict[str, Any] = {}
    for key, value in raw.items():
        if key in STORE_SCOPED:
            store_part[key] = value
        elif key == "custom_attributes":
            scoped = [a for a in value or [] if a.get("attribute_code") in STORE_SCOPED_ATTRIBUTES]
            unscoped = [a for a in value or [] if a.get("attribute_code") not in STORE_SCOPED_ATTRIBUTES]
            if scoped:
                store_part["custom_attributes"] = scoped
            if unscoped:
                global_part["custom_attributes"] = unscoped
        else:
            global_part[key] = value
    return global_part, store_part


def _merge_attributes(current: list[dict[str, Any]], given: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged = {a["attribute_code"]: dict(a) for a in current}
    for attribute in given:
        if not attribute.get("attribute_code"):
            raise MagentoError('"%fieldName" is required. Enter and try again.', {"fieldName": "attribute_code"})
        merged[attribute["attribute_code"]] = {"attribute_code": attribute["attribute_code"],
                                               "value": attribute.get("value")}
    return list(merged.values())


def _apply_global(state: MagentoState, product: dict[str, Any], part: dict[str, Any]) -> None:
    for key, value in part.items():
        if key in ("id", "created_at", "updated_at"):
            continue
        if key == "custom_attributes":
            product["custom_attributes"] = _merge_attributes(product.get("custom_attributes", []), value or [])
        elif key == "extension_attributes":
            extension = product.setdefault("extension_attributes", {})
            for ext_key, ext_value in (value or {}).items():
                if ext_key == "stock_item" and isinstance(ext_value, dict):
                    set_stock(state, product["sku"], ext_value)
                else:
                    extension[ext_key] = ext_value
        else:
            product[key] = value


def save_product(state: MagentoState, sku: str | None, raw: dict[str, Any], store_id: int) -> tuple[dict[str, Any], bool]:
    """Create or update a product in the given scope; return the stored product and whether it is new."""
    target_sku = str(raw.get("sku") or sku or "").strip()
    if not target_sku:
        raise MagentoError('"%fieldName" is required. Enter and try again.', {"fieldName": "sku"})
    existing_sku = sku if sku is not None and sku in state.products else (target_sku if target_sku in state.products
                                                                          else None)
    global_part, store_part = _split(raw)
    stamp = now_text()
    if existing_sku is None:
        for name in ("name", "price"):
            if raw.get(name) in (None, ""):
                raise MagentoError('The "%1" attribute value is empty. Set the attribute and try again.', [name])
        product_id = state.counters.next("product")
        product: dict[str, Any] = {
            "id": product_id, "sku": target_sku, "name": raw["name"], "attribute_set_id": 4, "price": 0,
            "status": 1, "visibility": 4, "type_id": "simple", "created_at": stamp, "updated_at": stamp,
            "extension_attributes": {"website_ids": [WEBSITE_ID], "category_links": [],
                                     "stock_item": stock_item(product_id, 0.0)},
            "product_links": [], "options": [], "media_gallery_entries": [], "tier_prices": [],
            "custom_attributes": [],
        }
        state.source_items[(target_sku, DEFAULT_SOURCE)] = {"sku": target_sku, "source_code": DEFAULT_SOURCE,
                                                           "quantity": 0.0, "status": 0}
        index_product(state, product)
        _apply_global(state, product, {**_whole(global_part, store_part), "sku": target_sku})
        product["updated_at"] = stamp
        return product, True
    product = state.products[existing_sku]
    if target_sku != existing_sku:
        if target_sku in state.products:
            raise MagentoError("The product was unable to be saved. Please try again.")
        _rename(state, existing_sku, target_sku)
        product = state.products[target_sku]
    if store_id == 0:
        _apply_global(state, product, _whole(global_part, store_part))
    else:
        _apply_global(state, product, global_part)
        if store_part:
            override = state.store_overrides.setdefault((product["sku"], store_id), {})
            for key, value in store_part.items():
                if key == "custom_attributes":
                    override["custom_attributes"] = _merge_attributes(override.get("custom_attributes", []), value)
                else:
                    override[key] = value
    product["updated_at"] = stamp
    return product, False


def _rename(state: MagentoState, old: str, new: str) -> None:
    product = state.products.pop(old)
    product["sku"] = new
    index_product(state, product)
    for (sku, source), item in list(state.source_items.items()):
        if sku == old:
            del state.source_items[(sku, source)]
            item["sku"] = new
            state.source_items[(new, source)] = item
    for (sku, store_id), override in list(state.store_overrides.items()):
        if sku == old:
            del state.store_overrides[(sku, store_id)]
            state.store_overrides[(new, store_id)] = override
    if old in state.reservations:
        state.reservations[new] = state.reservations.pop(old)


def get_stock(state: MagentoState, sku: str) -> dict[str, Any]:
    product = state.products.get(sku)
    if product is None:
        raise MagentoError('The Product with the "%1" SKU doesn\'t exist.', [sku], status=404)
    return dict(product["extension_attributes"]["stock_item"])


def set_stock(state: MagentoState, sku: str, values: dict[str, Any]) -> int:
    """Legacy stock write (acts on source ``default``); return the stock item id."""
    product = state.products.get(sku)
    if product is None:
        raise MagentoError('The Product with the "%1" SKU doesn\'t exist.', [sku], status=404)
    stock = product["extension_attributes"]["stock_item"]
    for key, value in values.items():
        if key in ("item_id", "product_id", "stock_id", "extension_attributes"):
            continue
        stock[key] = value
    stock["qty"] = float(stock.get("qty") or 0)
    if "is_in_stock" not in values:
        stock["is_in_stock"] = stock["qty"] > 0
    source = state.source_items.setdefault((sku, DEFAULT_SOURCE), {"sku": sku, "source_code": DEFAULT_SOURCE,
                                                                     "quantity": 0.0, "status": 0})
    source["quantity"] = stock["qty"]
    source["status"] = 1 if stock["is_in_stock"] else 0
    return int(stock["item_id"])


def save_source_items(state: MagentoState, items: list[dict[str, Any]]) -> None:
    """MSI batch save: all or nothing, validated first as SourceItemsSave does."""
    errors: list[dict[str, Any]] = []
    for item in items:
        for name in ("sku", "source_code"):
            if not str(item.get(name) or "").strip():
                errors.append({"message": '"%field" can not be empty.', "parameters": {"field": name}})
        if item.get("sku") and item["sku"] not in state.products:
            errors.append({"message": 'Product with SKU "%sku" does not exist.', "parameters": {"sku": item["sku"]}})
        if item.get("source_code") and item["source_code"] not in state.sources:
            errors.append({"message": 'Source with code "%code" does not exist.',
                           "parameters": {"code": item["source_code"]}})
        if item.get("quantity") is None:
            errors.append({"message": '"%field" should be numeric.', "parameters": {"field": "quantity"}})
        if item.get("status") not in (0, 1, "0", "1", True, False):
            errors.append({"message": '"%field" should be numeric.', "parameters": {"field": "status"}})
    if errors:
        raise MagentoError("Validation Failed", errors=errors)
    for item in items:
        key = (item["sku"], item["source_code"])
        state.source_items[key] = {"sku": item["sku"], "source_code": item["source_code"],
                                   "quantity": float(item["quantity"]), "status": int(item["status"])}
        if item["source_code"] == DEFAULT_SOURCE:
            sync_legacy_stock(state, item["sku"])
