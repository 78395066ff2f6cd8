"""Custom field definitions, and the checks they put on the records of their group.

Heartland keys custom values by the definition's ``key``; a required definition makes creates
without a value fail with ``validation_error``, a unique one refuses a value already used.
Keys without a definition are accepted and stored (see README: the real API's behaviour is unknown).
"""

from __future__ import annotations

from typing import Any

from service.sandbox.heartland.state import Collection, Record, State
from service.sandbox.heartland.validation import Checker

GROUPS = (
    "item", "customer", "sales.order", "sales.transaction", "sales.transaction.line_item",
    "inventory.adjustment_set", "gift_card", "location",
)
FIELDS = ("key", "name", "group_id", "required", "unique", "validation_type", "metadata", "active")


def create_custom_field(state: State, body: Any) -> Record:
    check = Checker(body)
    key = check.string("key", required=True)
    name = check.string("name") or key
    group = check.string("group_id", required=True)
    if group and group not in GROUPS:
        check.add("group_id", f"must be one of {', '.join(GROUPS)}")
    if key and group and any(f["group_id"] == group for f in state.custom_fields.where("key", key)):
        check.add("key", "has already been taken")
    check.done()
    now = state.now()
    return state.custom_fields.add({
        "key": key, "name": name, "group_id": group,
        "required": bool(check.boolean("required", False)),
        "unique": bool(check.boolean("unique", False)),
        "validation_type": check.string("validation_type") or "text",
        "metadata": body.get("metadata") if isinstance(body.get("metadata"), dict) else {},
        "active": bool(check.boolean("active", True)),
        "created_at": now, "updated_at": now,
    })


def update_custom_field(state: State, field: Record, body: Any) -> Record:
    check = Checker(body)
    changes: dict[str, Any] = {}
    for flag in ("required", "unique", "active"):
        if check.has(flag):
            changes[flag] = bool(check.boolean(flag))
    if check.has("name"):
        changes["name"] = check.string("name", required=True)
    if isinstance(body.get("metadata"), dict):
        changes["metadata"] = body["metadata"]
    check.done()
    changes["updated_at"] = state.now()
    return state.custom_fields.update(field, changes)


def check_custom_values(state: State, check: Checker, group: str, values: dict[str, Any] | None,
                        collection: Collection, record: Record | None = None) -> None:
    """Add field errors for missing required values and reused unique ones."""
    current = dict((record or {}).get("custom") or {})
    merged = {**current, **(values or {})}
    for definition in state.custom_fields.where("group_id", group):
        if not definition["active"]:
            continue
        key = definition["key"]
        value = merged.get(key)
        blank = value is None or value == ""
        if definition["required"] and blank and (record is None or (values is not None and key in values)):
            check.add(f"custom@{key}", "can't be blank")
        if definition["unique"] and value not in (None, "") and values and key in values:
            owners = collection.ids_where(f"custom@{key}", value) or set()
            if owners - ({record["id"]} if record else set()):
                check.add(f"custom@{key}", "has already been taken")
