"""Stock per item and location: on hand, committed, available; the ledger; adjustment sets.

``qty_available = qty_on_hand - qty_committed``. Opening a sales order commits its lines at their
ship-from locations; completing an invoice releases that commitment and takes the qty off hand;
completed tickets take stock off hand (returns put it back); completed adjustment sets add their
deltas. Quantities may go negative, as they can in Heartland.
"""

from __future__ import annotations

from typing import Any

from service.sandbox.heartland.customfields import check_custom_values
from service.sandbox.heartland.query import ListQuery, candidate_ids, matches, page_of, sort_rows
from service.sandbox.heartland.state import ApiError, Record, State, find_item, invalid
from service.sandbox.heartland.validation import Checker, custom_values

GROUPABLE = ("item_id", "location_id")
QTY_FIELDS = ("qty_on_hand", "qty_committed", "qty_on_po", "qty_in_transit")


def ensure_row(state: State, item_id: int, location_id: int, unit_cost: float | None = None) -> Record:
    key = (item_id, location_id)
    row_id = state.inventory_keys.get(key)
    if row_id is not None:
        return state.inventory.records[row_id]
    row = state.inventory.add({
        "item_id": item_id, "location_id": location_id, "qty_on_hand": 0, "qty_committed": 0,
        "qty_on_po": 0, "qty_in_transit": 0, "unit_cost": unit_cost, "updated_at": state.now(),
    })
    state.inventory_keys[key] = row["id"]
    return row


def ensure_item_rows(state: State, item: Record) -> None:
    for location_id in sorted(state.locations.records):
        ensure_row(state, item["id"], location_id, item.get("cost"))


def move(state: State, item_id: int, location_id: int, *, on_hand: float = 0, committed: float = 0,
         reason: str, source_type: str, source_id: int | None) -> None:
    """Change stock and write the ledger entry that explains it."""
    row = ensure_row(state, item_id, location_id)
    now = state.now()
    state.inventory.update(row, {
        "qty_on_hand": _tidy(row["qty_on_hand"] + on_hand),
        "qty_committed": _tidy(row["qty_committed"] + committed),
        "updated_at": now,
    })
    state.inventory_transactions.add({
        "item_id": item_id, "location_id": location_id, "qty": _tidy(on_hand),
        "qty_committed": _tidy(committed), "reason": reason, "source_type": source_type,
        "source_id": source_id, "created_at": now,
    })


def _tidy(value: float) -> float:
    return int(value) if float(value).is_integer() else round(value, 4)


def value_row(row: Record) -> Record:
    out = dict(row)
    out.pop("id", None)
    out["qty"] = row["qty_on_hand"]
    out["qty_available"] = _tidy(row["qty_on_hand"] - row["qty_committed"])
    return out


def inventory_values(state: State, query: ListQuery, exclude_empty: bool) -> tuple[list[Record], int, int]:
    """``GET /inventory/values``: ledger rows filtered, then summed per ``group[]`` key."""
    for name in query.group:
        if name not in GROUPABLE:
            raise invalid({"group": [f"can group by {', '.join(GROUPABLE)}, not {name!r}"]})
    ids = candidate_ids(state.inventory, query.filters)
    rows = state.inventory.records.values() if ids is None else [state.inventory.records[i] for i in ids]
    picked = [value_row(r) for r in rows]
    picked = [r for r in picked if matches(r, query.filters)]
    groups: dict[tuple[Any, ...], Record] = {}
    for row in picked:
        key = tuple(row[g] for g in query.group)
        total = groups.get(key)
        if total is None:
            total = {g: row[g] for g in query.group}
            for name in (*QTY_FIELDS, "qty", "qty_available"):
                total[name] = 0
            # A cost means something per item; summed over items it would mislead.
            total["unit_cost"] = row.get("unit_cost") if "item_id" in query.group else None
            groups[key] = total
        for name in (*QTY_FIELDS, "qty", "qty_available"):
            total[name] = _tidy(total[name] + row[name])
    results = list(groups.values()) if groups or query.group else [
        {**{n: 0 for n in (*QTY_FIELDS, "qty", "qty_available")}, "unit_cost": None}]
    if exclude_empty and "location_id" in query.group:
        results = [r for r in results if r["qty_on_hand"] or r["qty_committed"]]
    results = sort_rows(results, query.sort or [(g, False) for g in query.group])
    return page_of(results, query)


# -- adjustment sets -----------------------------------------------------------------------------

def create_adjustment_set(state: State, body: Any) -> Record:
    check = Checker(body)
    location = check.ref("location_id", state.locations, required=True)
    reason = check.ref("adjustment_reason_id", state.adjustment_reasons, required=True)
    custom = custom_values(body)
    check_custom_values(state, check, "inventory.adjustment_set", custom, state.adjustment_sets)
    description = check.string("description")
    lines = body.get("lines")
    if lines is not None and not isinstance(lines, list):
        check.add("lines", "must be an array of lines")
    check.done()
    assert location is not None and reason is not None
    now = state.now()
    adjustment_set = state.adjustment_sets.add({
        "location_id": location["id"], "adjustment_reason_id": reason["id"], "description": description,
        "status": "pending", "custom": custom or {}, "created_at": now, "updated_at": now, "completed_at": None,
    })
    for index, line in enumerate(lines or []):
        try:
            add_adjustment_line(state, adjustment_set, line)
        except ApiError as exc:
            state.adjustment_sets.remove(adjustment_set)
            for made in state.adjustment_lines.where("adjustment_set_id", adjustment_set["id"]):
                state.adjustment_lines.remove(made)
            raise invalid({f"lines[{index}].{k}": v for k, v in exc.details.items()}) from exc
    if body.get("status") == "complete":
        complete_adjustment_set(state, adjustment_set)
    return adjustment_set


def add_adjustment_line(state: State, adjustment_set: Record, body: Any) -> Record:

    check = Checker(body)
    if adjustment_set["status"] != "pending":
        check.add("adjustment_set_id", "is complete; lines can only be added to a pending set")
    item = find_item(state, body.get("item_id"), body.get("item_lookup"))
    if item is None:
        check.add("item_id", "does not match an existing item")
    qty = check.number("qty", required=True, nonzero=True)
    unit_cost = check.number("unit_cost", non_negative=True)
    check.done()
    assert item is not None and qty is not None
    now = state.now()
    return state.adjustment_lines.add({
        "adjustment_set_id": adjustment_set["id"], "item_id": item["id"], "qty": qty,
        "unit_cost": unit_cost if unit_cost is not None else item.get("cost"),
        "created_at": now, "updated_at": now,
    })


def update_adjustment_set(state: State, adjustment_set: Record, body: Any) -> Record:
    check = Checker(body)
    status = check.string("status")
    if status is not None and status not in ("pending", "complete"):
        check.add("status", "must be pending or complete")
    if status == "pending" and adjustment_set["status"] == "complete":
        check.add("status", "a complete adjustment set cannot be reopened")
    custom = custom_values(body)
    check_custom_values(state, check, "inventory.adjustment_set", custom, state.adjustment_sets, adjustment_set)
    description = check.string("description") if check.has("description") else adjustment_set["description"]
    check.done()
    changes: dict[str, Any] = {"description": description, "updated_at": state.now()}
    if custom is not None:
        changes["custom"] = {**adjustment_set["custom"], **custom}
    state.adjustment_sets.update(adjustment_set, changes)
    if status == "complete" and adjustment_set["status"] == "pending":
        complete_adjustment_set(state, adjustment_set)
    return adjustment_set


def complete_adjustment_set(state: State, adjustment_set: Record) -> None:
    lines = state.adjustment_lines.where("adjustment_set_id", adjustment_set["id"])
    if not lines:
        raise invalid({"status": ["an adjustment set needs at least one line to complete"]})
    for line in lines:
        move(state, line["item_id"], adjustment_set["location_id"], on_hand=line["qty"],
             reason="adjustment", source_type="inventory.adjustment_set", source_id=adjustment_set["id"])
    now = state.now()
    state.adjustment_sets.update(adjustment_set, {"status": "complete", "completed_at": now, "updated_at": now})
