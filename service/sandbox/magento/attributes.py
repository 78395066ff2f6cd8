"""Product attributes of the Magento sandbox: the seeded select attributes (color, size) and
their options, as a Luma store has them."""

from __future__ import annotations

from typing import Any

from service.sandbox.magento.state import MagentoState

PRODUCT_ENTITY_TYPE_ID = "4"

# (attribute id, code, admin label, seeded option labels): the ids of a Luma store's catalog.
SEED_ATTRIBUTES: tuple[tuple[int, str, str, tuple[str, ...]], ...] = (
    (93, "color", "Color", ("Black", "White", "Red", "Blue", "Navy", "Grey", "Green")),
    (144, "size", "Size", ("XS", "S", "M", "L", "XL")),
)
FIRST_OPTION_ID = 4  # eav_attribute_option ids are one sequence over all attributes


def seed_attributes(state: MagentoState) -> None:
    state.counters.attribute_option = FIRST_OPTION_ID
    for attribute_id, code, label, options in SEED_ATTRIBUTES:
        attribute: dict[str, Any] = {
            "attribute_id": attribute_id, "attribute_code": code, "frontend_input": "select",
            "entity_type_id": PRODUCT_ENTITY_TYPE_ID, "is_required": False, "is_user_defined": True,
            "default_frontend_label": label, "frontend_labels": [], "scope": "global", "backend_type": "int",
            "is_unique": "0", "is_filterable": True, "is_comparable": "1", "is_visible_on_front": "0",
            "is_searchable": "1", "used_in_product_listing": "0", "is_visible": True, "position": 0,
            "apply_to": [], "validation_rules": [], "options": [],
        }
        state.attributes[code] = attribute
        for order, option_label in enumerate(options):
            append_option(state, attribute, option_label, order)


def append_option(state: MagentoState, attribute: dict[str, Any], label: str, sort_order: int) -> str:
    option_id = str(state.counters.next("attribute_option"))
    attribute["options"].append({"label": label, "value": option_id, "sort_order": sort_order})
    return option_id
