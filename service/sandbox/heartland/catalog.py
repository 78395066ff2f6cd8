"""Items (products) and item grids (variant groups)."""

from __future__ import annotations

from typing import Any

from service.sandbox.heartland.customfields import check_custom_values
from service.sandbox.heartland.inventory import ensure_item_rows
from service.sandbox.heartland.state import ApiError, Record, State
from service.sandbox.heartland.validation import Checker, custom_values

ITEM_TEXT = ("long_description", "primary_barcode", "weight_unit", "dimension_unit", "product_type")
ITEM_NUMBERS = ("price", "original_price", "cost", "weight", "width", "height", "depth")
ITEM_FLAGS = ("active", "track_inventory", "allow_fractional_qty", "prompt_for_price", "available_online")
FLAG_DEFAULTS = {"active": True, "track_inventory": True, "allow_fractional_qty": False,
                 "prompt_for_price": False, "available_online": True}
GRID_EDITABLE = ("description", "item_price", "item_cost", "item_primary_vendor_id")


def _item_fields(state: State, check: Checker, item: Record | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if item is None or check.has("description"):
        fields["description"] = check.string("description", required=True)
    if check.has("public_id"):
        public_id = check.string("public_id")
        if public_id:
            owners = state.items.ids_where("public_id", public_id) or set()
            if owners - ({item["id"]} if item else set()):
                check.add("public_id", "has already been taken")
            fields["public_id"] = public_id
    for name in ITEM_TEXT:
        if check.has(name):
            fields[name] = check.string(name)
    for name in ITEM_NUMBERS:
        if check.has(name):
            fields[name] = check.number(name, non_negative=True)
    for name in ITEM_FLAGS:
        if check.has(name):
            fields[name] = check.boolean(name)
    if check.has("grid_id"):
        grid = check.ref("grid_id", state.item_grids)
        fields["grid_id"] = grid["id"] if grid else None
    if check.has("primary_vendor_id"):
        fields["primary_vendor_id"] = check.body.get("primary_vendor_id")
    return fields


def create_item(state: State, body: Any) -> Record:
    check = Checker(body)
    fields = _item_fields(state, check, None)
    custom = custom_values(body)
    check_custom_values(state, check, "item", custom, state.items)
    check.done()
    now = state.now()
    item: Record = {
        "public_id": fields.pop("public_id", None) or state.next_public_id("items", state.items, 20001),
        "description": fields.pop("description"),
        "long_description": None, "price": 0, "original_price": None, "cost": 0,
        **FLAG_DEFAULTS,
        "custom": custom or {},
        "primary_vendor_id": None, "primary_image_id": None, "grid_id": None, "primary_barcode": None,
        "weight": None, "weight_unit": "lb", "width": None, "height": None, "depth": None,
        "dimension_unit": "in", "product_type": None, "type": "Item", "uuid": state.new_uuid(),
        "created_at": now, "updated_at": now,
    }
    item.update(fields)
    state.items.add(item)
    ensure_item_rows(state, item)
    state.emit("item_created", item)
    return item


def update_item(state: State, item: Record, body: Any) -> Record:
    check = Checker(body)
    fields = _item_fields(state, check, item)
    custom = custom_values(body)
    check_custom_values(state, check, "item", custom, state.items, item)
    check.done()
    if custom is not None:
        fields["custom"] = {**item["custom"], **custom}
    fields["updated_at"] = state.now()
    state.items.update(item, fields)
    state.emit("item_updated", item)
    return item


def update_grid(state: State, grid: Record, body: Any) -> Record:
    check = Checker(body)
    changes: dict[str, Any] = {}
    for name in GRID_EDITABLE:
        if check.has(name):
            changes[name] = check.body[name]
    item_custom = body.get("item_custom")
    if item_custom is not None:
        if not isinstance(item_custom, dict):
            check.add("item_custom", "must be an object of custom field values")
        else:
            changes["item_custom"] = {**grid["item_custom"], **item_custom}
    check.done()
    changes["updated_at"] = state.now()
    state.item_grids.update(grid, changes)
    state.emit("item_grid_updated", grid)
    return grid


def refuse_grid_create() -> ApiError:
    return ApiError(405, "method_not_allowed",
                    "Item grids cannot be created through the API; create the grid in Heartland and update it here")
