"""Sales orders (web orders) with lines and payments, invoices (their fulfilment), and tickets.

Orders, invoices and tickets are all sales transactions and share one id sequence, so a return's
``parent_transaction_id`` names either a ticket or an invoice without ambiguity.

Order statuses: ``pending`` → ``open`` (commits stock) → ``complete`` (every line invoiced), or
``cancelled`` from pending/open (releases what is still committed). Invoices: ``pending`` →
``complete`` (takes stock off hand at the invoice's location, releases the commitment) or
``cancelled``. Tickets: ``incomplete`` → ``complete`` (takes stock off hand; returns put it back).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from service.sandbox.heartland.customfields import check_custom_values
from service.sandbox.heartland.inventory import move
from service.sandbox.heartland.state import ApiError, Collection, Record, State, find_item, invalid
from service.sandbox.heartland.validation import Checker, custom_values

PAYMENT_TYPES = ("ExternalPayment", "CustomPayment", "Payments::ExternalPayment", "Payments::CustomPayment")
PAYMENT_STATUSES = ("complete", "failed")
ORDER_TRANSITIONS = {"pending": {"open", "cancelled"}, "open": {"cancelled"}, "complete": set(), "cancelled": set()}


def _money(value: float) -> float:
    return round(float(value), 2)


def _nested(prefix: str, exc: ApiError) -> ApiError:
    return invalid({f"{prefix}.{k}": v for k, v in exc.details.items()}) if exc.status == 422 else exc


def _create_with_children(parent_coll: Collection, parent: Record, children: list[tuple[str, Any]],
                          add: Callable[[Any], Record], child_colls: list[Collection]) -> None:
    """Add inline children; on the first bad one remove the parent and what was made, then refuse."""
    made: list[tuple[Collection, Record]] = []
    try:
        for prefix, body in children:
            try:
                made.append((child_colls[0], add((prefix, body))))
            except ApiError as exc:
                raise _nested(prefix, exc) from exc
    except ApiError:
        for coll in child_colls:
            for child in list(coll.records.values()):
                if any(child.get(k) == parent["id"] for k in ("order_id", "ticket_id", "invoice_id")):
                    coll.remove(child)
        parent_coll.remove(parent)
        raise


# -- sales orders -------------------------------------------------------------------------------

def create_order(state: State, body: Any) -> Record:
    check = Checker(body)
    customer = check.ref("customer_id", state.customers, required=True)
    check.ref("station_id", state.stations, required=True)
    location = check.ref("source_location_id", state.locations, required=True)
    _check_addresses(state, check, customer)
    shipping = check.number("shipping_charge", non_negative=True, default=0)
    public_id = check.string("public_id")
    if public_id and state.orders.ids_where("public_id", public_id):
        check.add("public_id", "has already been taken")
    custom = custom_values(body)
    check_custom_values(state, check, "sales.order", custom, state.orders)
    lines = body.get("lines")
    if lines is not None and not isinstance(lines, list):
        check.add("lines", "must be an array of lines")
    status = check.string("status")
    if status not in (None, "pending", "open"):
        check.add("status", "a new order is pending or open")
    elif status == "open" and not lines:
        check.add("status", "an order needs at least one line before it opens")
    check.done()
    assert customer is not None and location is not None
    now = state.now()
    order = state.orders.add({
        "public_id": public_id or state.next_public_id("orders", state.orders, 30001),
        "status": "pending", "customer_id": customer["id"], "station_id": int(body["station_id"]),
        "source_location_id": location["id"],
        "billing_address_id": _int_or_none(body.get("billing_address_id")),
        "shipping_address_id": _int_or_none(body.get("shipping_address_id")),
        "shipping_charge": _money(shipping or 0), "custom": custom or {}, "type": "SalesOrder",
        "created_at": now, "updated_at": now, "completed_at": None, "cancelled_at": None,
    })
    _create_with_children(
        state.orders, order, [(f"lines[{i}]", line) for i, line in enumerate(lines or [])],
        lambda pair: add_order_line(state, order, pair[1]), [state.order_lines],
    )
    if status == "open":
        set_order_status(state, order, "open")
    return order


def _int_or_none(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def _check_addresses(state: State, check: Checker, customer: Record | None) -> None:
    for name in ("billing_address_id", "shipping_address_id"):
        address = check.ref(name, state.addresses)
        if address is not None and customer is not None and address["customer_id"] != customer["id"]:
            check.add(name, f"belongs to another customer than {customer['id']}")


def update_order(state: State, order: Record, body: Any) -> Record:
    check = Checker(body)
    changes: dict[str, Any] = {}
    editable = order["status"] in ("pending", "open")
    customer = state.customers.get(order["customer_id"])
    if check.has("customer_id"):
        customer = check.ref("customer_id", state.customers, required=True)
        if customer:
            changes["customer_id"] = customer["id"]
    for name, coll in (("station_id", state.stations), ("source_location_id", state.locations)):
        if check.has(name):
            found = check.ref(name, coll, required=True)
            if found:
                changes[name] = found["id"]
    _check_addresses(state, check, customer)
    for name in ("billing_address_id", "shipping_address_id"):
        if check.has(name):
            changes[name] = _int_or_none(body[name])
    if check.has("shipping_charge"):
        changes["shipping_charge"] = _money(check.number("shipping_charge", required=True, non_negative=True) or 0)
    if check.has("public_id"):
        public_id = check.string("public_id", required=True)
        if public_id and (state.orders.ids_where("public_id", public_id) or set()) - {order["id"]}:
            check.add("public_id", "has already been taken")
        changes["public_id"] = public_id
    custom = custom_values(body)
    check_custom_values(state, check, "sales.order", custom, state.orders, order)
    if custom is not None:
        changes["custom"] = {**order["custom"], **custom}
    status = check.string("status") if check.has("status") else None
    if changes and not editable and set(changes) - {"custom"}:
        check.add("status", f"the order is {order['status']}; only custom values can change")
    if status is not None and status != order["status"] and status not in ORDER_TRANSITIONS.get(order["status"], set()):
        hint = " (an order completes when all its lines are invoiced)" if status == "complete" else ""
        check.add("status", f"cannot change from {order['status']} to {status}{hint}")
    elif status == "open" and order["status"] == "pending" and not state.order_lines.where("order_id", order["id"]):
        check.add("status", "an order needs at least one line before it opens")
    check.done()
    changes["updated_at"] = state.now()
    state.orders.update(order, changes)
    if status is not None and status != order["status"]:
        set_order_status(state, order, status)
    return order


def set_order_status(state: State, order: Record, status: str) -> None:
    lines = state.order_lines.where("order_id", order["id"])
    now = state.now()
    if status == "open":
        if not lines:
            raise invalid({"status": ["an order needs at least one line before it opens"]})
        for line in lines:
            _commit(state, order, line, +1)
    elif status == "cancelled":
        if order["status"] == "open":
            for line in lines:
                _commit(state, order, line, -1)
        state.orders.update(order, {"cancelled_at": now})
    state.orders.update(order, {"status": status, "updated_at": now})


def _commit(state: State, order: Record, line: Record, sign: int) -> None:
    remaining = line["qty"] - line["qty_invoiced"]
    if remaining:
        move(state, line["item_id"], line["ship_from_location_id"], committed=sign * remaining,
             reason="order committed" if sign > 0 else "order released",
             source_type="sales.order", source_id=order["id"])


def _line_prices(check: Checker, item: Record | None, line: Record | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    unit = check.number("unit_price", non_negative=True)
    adjusted = check.number("adjusted_unit_price", non_negative=True)
    if line is None:
        base = item.get("price") if item else 0
        out["original_unit_price"] = base
        out["unit_price"] = unit if unit is not None else base
        out["adjusted_unit_price"] = adjusted if adjusted is not None else out["unit_price"]
    else:
        if unit is not None:
            out["unit_price"] = unit
            out["adjusted_unit_price"] = adjusted if adjusted is not None else unit
        elif adjusted is not None:
            out["adjusted_unit_price"] = adjusted
    return out


def add_order_line(state: State, order: Record, body: Any) -> Record:
    check = Checker(body)
    if order["status"] not in ("pending", "open"):
        check.add("order_id", f"the order is {order['status']}; lines can no longer be added")
    item = find_item(state, body.get("item_id"), body.get("item_lookup"))
    if item is None:
        field = "item_id" if body.get("item_id") not in (None, "") or "item_lookup" not in body else "item_lookup"
        check.add(field, "does not match an existing item")
    qty = check.number("qty", required=True, positive=True)
    prices = _line_prices(check, item, None)
    ship_from = check.ref("ship_from_location_id", state.locations)
    check_custom_values(state, check, "sales.transaction.line_item", custom_values(body), state.order_lines)
    check.done()
    assert item is not None and qty is not None
    now = state.now()
    line = state.order_lines.add({
        "order_id": order["id"], "type": "ItemLine", "item_id": item["id"], "item_public_id": item["public_id"],
        "description": body.get("description") or item["description"], "qty": qty, **prices,
        "ship_from_location_id": ship_from["id"] if ship_from else order["source_location_id"],
        "qty_invoiced": 0, "custom": custom_values(body) or {}, "created_at": now, "updated_at": now,
    })
    if order["status"] == "open":
        _commit(state, order, line, +1)
    state.orders.update(order, {"updated_at": now})
    return line


def update_order_line(state: State, order: Record, line: Record, body: Any) -> Record:
    check = Checker(body)
    if order["status"] not in ("pending", "open"):
        check.add("order_id", f"the order is {order['status']}; its lines can no longer change")
    changes = _line_prices(check, None, line)
    if check.has("qty"):
        qty = check.number("qty", required=True, positive=True)
        if qty is not None and qty < line["qty_invoiced"]:
            check.add("qty", f"cannot be less than the {line['qty_invoiced']} already invoiced")
        changes["qty"] = qty
    if check.has("ship_from_location_id"):
        location = check.ref("ship_from_location_id", state.locations, required=True)
        if location is not None and line["qty_invoiced"] and location["id"] != line["ship_from_location_id"]:
            check.add("ship_from_location_id", "cannot move a line that is partly invoiced")
        if location is not None:
            changes["ship_from_location_id"] = location["id"]
    if check.has("description"):
        changes["description"] = check.string("description")
    check.done()
    is_open = order["status"] == "open"
    if is_open:
        _commit(state, order, line, -1)
    changes["updated_at"] = state.now()
    state.order_lines.update(line, changes)
    if is_open:
        _commit(state, order, line, +1)
    return line


def remove_order_line(state: State, order: Record, line: Record) -> None:
    if order["status"] not in ("pending", "open") or line["qty_invoiced"]:
        raise invalid({"id": ["only lines of pending or open orders that are not invoiced can be removed"]})
    if order["status"] == "open":
        _commit(state, order, line, -1)
    state.order_lines.remove(line)


def add_payment(state: State, coll: Collection, owner_field: str, owner: Record, body: Any,
                deposit_default: bool) -> Record:
    check = Checker(body)
    kind = check.string("type", required=True)
    if kind and kind not in PAYMENT_TYPES:
        check.add("type", f"must be one of {', '.join(PAYMENT_TYPES)}")
    amount = check.number("amount", required=True, nonzero=True)
    payment_type = check.ref("payment_type_id", state.payment_types)
    if owner_field == "order_id" and owner.get("status") in ("complete", "cancelled"):
        invoices = [i["id"] for i in state.invoices.where("order_id", owner["id"]) if i["status"] == "complete"]
        where = (f"; record it on the invoice that fulfilled it (sales/invoices/{invoices[-1]}/payments)"
                 if invoices else "")
        check.add("order_id", f"the order is {owner['status']}; it takes no more payments{where}")
    if owner_field == "invoice_id" and owner.get("status") == "cancelled":
        check.add("invoice_id", "the invoice is cancelled; it takes no payments")
    deposit = check.boolean("deposit", deposit_default)
    description = check.string("description")
    status = check.string("status", default="complete")
    if status not in PAYMENT_STATUSES:
        check.add("status", f"must be one of {', '.join(PAYMENT_STATUSES)}")
    custom = custom_values(body)
    check.done()
    now = state.now()
    payment = coll.add({
        owner_field: owner["id"], "type": kind, "amount": _money(amount or 0), "deposit": bool(deposit),
        "payment_type_id": payment_type["id"] if payment_type else None,
        "payment_type_name": payment_type["name"] if payment_type else None,
        "description": description, "custom": custom or {}, "status": status,
        "created_at": body.get("created_at") or now,
        "completed_at": (body.get("completed_at") or now) if status == "complete" else None,
    })
    return payment


def update_payment(state: State, coll: Collection, payment: Record, body: Any) -> Record:
    """``PUT sales/orders/{id}/payments/{id}`` (or an invoice's): mark a payment failed, or change its
    description or custom values. A failed payment no longer counts in ``total_paid``; it cannot be
    completed again (record a new payment instead)."""
    check = Checker(body)
    changes: dict[str, Any] = {}
    if check.has("status"):
        status = check.string("status", required=True)
        if status not in PAYMENT_STATUSES:
            check.add("status", f"must be one of {', '.join(PAYMENT_STATUSES)}")
        elif status != payment["status"] and payment["status"] == "failed":
            check.add("status", "a failed payment cannot be completed again; record a new payment")
        else:
            changes["status"] = status
    if check.has("description"):
        changes["description"] = check.string("description")
    custom = custom_values(body)
    if custom is not None:
        changes["custom"] = {**payment["custom"], **custom}
    unknown = sorted(set(body) - {"status", "description", "custom"} - {k for k in body if k.startswith("custom@")})
    for name in unknown:
        check.add(name, "cannot be changed on a payment")
    check.done()
    if changes.get("status") == "failed" and payment["status"] != "failed":
        changes["failed_at"] = state.now()
    if changes:
        changes["updated_at"] = state.now()
        coll.update(payment, changes)
    return payment


def render_order(state: State, order: Record) -> Record:
    out = dict(order)
    out["custom"] = dict(order["custom"])
    lines = state.order_lines.where("order_id", order["id"])
    subtotal = _money(sum(line["qty"] * line["adjusted_unit_price"] for line in lines))
    # The money paid for the order: its own payments (deposits) and those taken on its invoices.
    payments = state.order_payments.where("order_id", order["id"]) + [
        p for invoice in state.invoices.where("order_id", order["id"])
        for p in state.invoice_payments.where("invoice_id", invoice["id"])]
    paid = _money(sum(p["amount"] for p in payments if p["status"] != "failed"))
    out["subtotal"] = subtotal
    out["tax_total"] = 0.0
    out["total"] = _money(subtotal + order["shipping_charge"])
    out["total_paid"] = paid
    out["balance"] = _money(out["total"] - paid)
    customer = state.customers.get(order["customer_id"])
    out["customer_name"] = f"{customer['first_name']} {customer['last_name']}" if customer else None
    return out


def render_line(line: Record) -> Record:
    out = dict(line)
    if "custom" in line:
        out["custom"] = dict(line["custom"])
    if "adjusted_unit_price" in line:
        out["value"] = _money(line["qty"] * line["adjusted_unit_price"])
    return out


# -- invoices -------------------------------------------------------------------------------------

def create_invoice(state: State, body: Any, auto_complete: bool = False) -> Record:
    check = Checker(body)
    order = check.ref("order_id", state.orders, required=True)
    check.ref("station_id", state.stations, required=True)
    location = check.ref("source_location_id", state.locations, required=True)
    if order is not None and order["status"] != "open":
        check.add("order_id", f"the order is {order['status']}; only open orders can be invoiced")
    if body.get("type") not in (None, "Invoice"):
        check.add("type", "must be Invoice")
    custom = custom_values(body)
    check_custom_values(state, check, "sales.transaction", custom, state.invoices)
    lines = body.get("lines")
    if lines is not None and not isinstance(lines, list):
        check.add("lines", "must be an array of {order_line_id, qty}")
    check.done()
    assert order is not None and location is not None
    if lines is None:
        lines = [{"order_line_id": line["id"], "qty": _uninvoiced(state, line)}
                 for line in state.order_lines.where("order_id", order["id"])
                 if line["ship_from_location_id"] == location["id"] and _uninvoiced(state, line) > 0]
        if not lines:
            raise invalid({"source_location_id": [
                f"order {order['id']} has nothing left to invoice from location {location['id']}; "
                "invoice from the location its lines ship from"]})
    first = not state.invoices.where("order_id", order["id"])
    now = state.now()
    invoice = state.invoices.add({
        "public_id": check.string("public_id") or state.next_public_id("invoices", state.invoices, 40001),
        "type": "Invoice", "status": "pending", "order_id": order["id"], "customer_id": order["customer_id"],
        "station_id": int(body["station_id"]), "source_location_id": location["id"],
        "shipping_charge": order["shipping_charge"] if first else 0.0, "custom": custom or {},
        "created_at": now, "updated_at": now, "completed_at": None,
    })
    _create_with_children(
        state.invoices, invoice, [(f"lines[{i}]", line) for i, line in enumerate(lines)],
        lambda pair: add_invoice_line(state, invoice, pair[1]), [state.invoice_lines],
    )
    if auto_complete or body.get("status") == "complete":
        complete_invoice(state, invoice)
    return invoice


def _uninvoiced(state: State, order_line: Record) -> float:
    """Qty of an order line not yet on a complete or pending invoice."""
    pending = sum(
        il["qty"] for il in state.invoice_lines.where("order_line_id", order_line["id"])
        if state.invoices.records[il["invoice_id"]]["status"] == "pending"
    )
    return order_line["qty"] - order_line["qty_invoiced"] - pending


def add_invoice_line(state: State, invoice: Record, body: Any) -> Record:
    check = Checker(body)
    if invoice["status"] != "pending":
        check.add("invoice_id", f"the invoice is {invoice['status']}; lines can no longer be added")
    order_line = check.ref("order_line_id", state.order_lines, required=True)
    if order_line is not None and order_line["order_id"] != invoice["order_id"]:
        check.add("order_line_id", f"is not a line of order {invoice['order_id']}")
        order_line = None
    qty = check.number("qty", required=True, positive=True)
    if order_line is not None and order_line["ship_from_location_id"] != invoice["source_location_id"]:
        check.add("order_line_id", "ships from another location; invoice each location separately")
    elif order_line is not None and qty is not None and qty > _uninvoiced(state, order_line):
        check.add("qty", f"is more than the {_uninvoiced(state, order_line)} left to invoice on this line")
    check.done()
    assert order_line is not None and qty is not None
    now = state.now()
    return state.invoice_lines.add({
        "invoice_id": invoice["id"], "order_line_id": order_line["id"], "type": "ItemLine",
        "item_id": order_line["item_id"], "item_public_id": order_line["item_public_id"],
        "description": order_line["description"], "qty": qty, "unit_price": order_line["unit_price"],
        "original_unit_price": order_line["original_unit_price"],
        "adjusted_unit_price": order_line["adjusted_unit_price"], "created_at": now, "updated_at": now,
    })


def update_invoice(state: State, invoice: Record, body: Any) -> Record:
    check = Checker(body)
    status = check.string("status") if check.has("status") else None
    if status is not None and status != invoice["status"]:
        if invoice["status"] != "pending" or status not in ("complete", "cancelled"):
            check.add("status", f"cannot change from {invoice['status']} to {status}")
        elif status == "complete" and not state.invoice_lines.where("invoice_id", invoice["id"]):
            check.add("status", "an invoice needs at least one line to complete")
        elif status == "complete" and state.orders.records[invoice["order_id"]]["status"] != "open":
            order_status = state.orders.records[invoice["order_id"]]["status"]
            check.add("status", f"order {invoice['order_id']} is {order_status}; only invoices of open orders complete")
    custom = custom_values(body)
    check_custom_values(state, check, "sales.transaction", custom, state.invoices, invoice)
    check.done()
    changes: dict[str, Any] = {"updated_at": state.now()}
    if custom is not None:
        changes["custom"] = {**invoice["custom"], **custom}
    state.invoices.update(invoice, changes)
    if status == "complete" and invoice["status"] == "pending":
        complete_invoice(state, invoice)
    elif status == "cancelled" and invoice["status"] == "pending":
        state.invoices.update(invoice, {"status": "cancelled"})
    return invoice


def complete_invoice(state: State, invoice: Record) -> None:
    order = state.orders.records[invoice["order_id"]]
    for line in state.invoice_lines.where("invoice_id", invoice["id"]):
        order_line = state.order_lines.records[line["order_line_id"]]
        move(state, line["item_id"], invoice["source_location_id"], on_hand=-line["qty"], committed=-line["qty"],
             reason="invoice", source_type="sales.invoice", source_id=invoice["id"])
        state.order_lines.update(order_line, {"qty_invoiced": order_line["qty_invoiced"] + line["qty"]})
    now = state.now()
    state.invoices.update(invoice, {"status": "complete", "completed_at": now, "updated_at": now})
    lines = state.order_lines.where("order_id", order["id"])
    if all(line["qty_invoiced"] >= line["qty"] for line in lines):
        state.orders.update(order, {"status": "complete", "completed_at": now, "updated_at": now})
    state.emit("sales_transaction_completed", render_invoice(state, invoice))


def render_invoice(state: State, invoice: Record) -> Record:
    out = dict(invoice)
    out["custom"] = dict(invoice["custom"])
    lines = state.invoice_lines.where("invoice_id", invoice["id"])
    out["subtotal"] = _money(sum(line["qty"] * line["adjusted_unit_price"] for line in lines))
    out["tax_total"] = 0.0
    out["total"] = _money(out["subtotal"] + invoice["shipping_charge"])
    out["total_paid"] = _money(sum(p["amount"] for p in state.invoice_payments.where("invoice_id", invoice["id"])
                                   if p["status"] != "failed"))
    customer = state.customers.get(invoice["customer_id"])
    out["customer_name"] = f"{customer['first_name']} {customer['last_name']}" if customer else None
    return out


# -- tickets --------------------------------------------------------------------------------------

def create_ticket(state: State, body: Any) -> Record:
    check = Checker(body)
    kind = check.string("type", default="Ticket")
    if kind not in ("Ticket", "Return"):
        check.add("type", "must be Ticket or Return")
    station = check.ref("station_id", state.stations, required=True)
    location = check.ref("source_location_id", state.locations)
    customer = check.ref("customer_id", state.customers)
    if customer is None and not check.has("customer_id") and state.settings.get("pos.tickets.customer_required"):
        check.add("customer_id", "can't be blank (the account requires a customer on every ticket)")
    if state.settings.get("pos.tickets.sales_rep_required") and not body.get("sales_rep"):
        check.add("sales_rep", "can't be blank (the account requires a sales rep on every ticket)")
    parent_id = body.get("parent_transaction_id")
    if kind == "Return":
        if parent_id in (None, ""):
            check.add("parent_transaction_id", "can't be blank for a return")
        elif state.tickets.get(parent_id) is None and state.invoices.get(parent_id) is None:
            check.add("parent_transaction_id", "does not match an existing ticket or invoice")
    public_id = check.string("public_id")
    if public_id and state.tickets.ids_where("public_id", public_id):
        check.add("public_id", "has already been taken")
    custom = custom_values(body)
    check_custom_values(state, check, "sales.transaction", custom, state.tickets)
    status = check.string("status", default="incomplete")
    if status not in ("incomplete", "complete"):
        check.add("status", "must be incomplete or complete")
    affect_inventory = check.boolean("affect_inventory", True)
    children: list[tuple[str, Any]] = []
    for group in ("lines", "item_lines", "tax_lines", "shipping_lines"):
        rows = body.get(group)
        if rows is None:
            continue
        if not isinstance(rows, list):
            check.add(group, "must be an array of lines")
            continue
        children += [(f"{group}[{i}]", row) for i, row in enumerate(rows)]
    payments = body.get("payments") or []
    if not isinstance(payments, list):
        check.add("payments", "must be an array of payments")
        payments = []
    check.done()
    assert station is not None
    now = state.now()
    ticket = state.tickets.add({
        "public_id": public_id or state.next_public_id("tickets", state.tickets, 50001),
        "type": kind, "status": "incomplete", "customer_id": customer["id"] if customer else None,
        "station_id": station["id"], "source_location_id": location["id"] if location else station["location_id"],
        "sales_rep": body.get("sales_rep"), "parent_transaction_id": _int_or_none(parent_id) if kind == "Return" else None,
        "affect_inventory": bool(affect_inventory), "custom": custom or {},
        "created_at": body.get("created_at") or now, "updated_at": now, "completed_at": None,
        "local_completed_at": None,
    })
    _create_with_children(
        state.tickets, ticket, children, lambda pair: add_ticket_line(state, ticket, pair[1]),
        [state.ticket_lines, state.ticket_payments],
    )
    for index, payment in enumerate(payments):
        try:
            add_payment(state, state.ticket_payments, "ticket_id", ticket, payment, False)
        except ApiError as exc:
            for coll in (state.ticket_lines, state.ticket_payments):
                for child in coll.where("ticket_id", ticket["id"]):
                    coll.remove(child)
            state.tickets.remove(ticket)
            raise _nested(f"payments[{index}]", exc) from exc
    if status == "complete":
        complete_ticket(state, ticket, body.get("completed_at"))
    return ticket


def add_ticket_line(state: State, ticket: Record, body: Any) -> Record:
    check = Checker(body)
    if ticket["status"] != "incomplete":
        check.add("ticket_id", "the ticket is complete; lines can no longer be added")
    kind = check.string("type", default="ItemLine")
    now = state.now()
    if kind in ("TaxLine", "ShippingLine"):
        value = check.number("value", required=True)
        check.done()
        return state.ticket_lines.add({
            "ticket_id": ticket["id"], "type": kind, "description": body.get("description"),
            "value": _money(value or 0), "created_at": now, "updated_at": now,
        })
    if kind != "ItemLine":
        check.add("type", "must be ItemLine, TaxLine or ShippingLine")
    item = find_item(state, body.get("item_id"), body.get("item_lookup"))
    if item is None:
        check.add("item_id", "does not match an existing item")
    qty = check.number("qty", required=True, nonzero=True)
    if qty is not None and ticket["type"] == "Return" and qty > 0:
        check.add("qty", "must be negative on a return")
    if qty is not None and ticket["type"] == "Ticket" and qty < 0:
        check.add("qty", "must be positive on a ticket (use a Return for returned items)")
    prices = _line_prices(check, item, None)
    check.done()
    assert item is not None and qty is not None
    return state.ticket_lines.add({
        "ticket_id": ticket["id"], "type": "ItemLine", "item_id": item["id"], "item_public_id": item["public_id"],
        "description": body.get("description") or item["description"], "qty": qty, **prices,
        "custom": custom_values(body) or {}, "created_at": now, "updated_at": now,
    })


def update_ticket(state: State, ticket: Record, body: Any) -> Record:
    check = Checker(body)
    status = check.string("status") if check.has("status") else None
    if status is not None and status != ticket["status"] and (status != "complete" or ticket["status"] != "incomplete"):
        check.add("status", f"cannot change from {ticket['status']} to {status}")
    changes: dict[str, Any] = {}
    if check.has("customer_id"):
        customer = check.ref("customer_id", state.customers)
        changes["customer_id"] = customer["id"] if customer else None
    if check.has("sales_rep"):
        changes["sales_rep"] = check.string("sales_rep")
    custom = custom_values(body)
    check_custom_values(state, check, "sales.transaction", custom, state.tickets, ticket)
    if custom is not None:
        changes["custom"] = {**ticket["custom"], **custom}
    if ticket["status"] == "complete" and set(changes) - {"custom"}:
        check.add("status", "the ticket is complete; only custom values can change")
    check.done()
    changes["updated_at"] = state.now()
    state.tickets.update(ticket, changes)
    if status == "complete" and ticket["status"] == "incomplete":
        complete_ticket(state, ticket, None)
    return ticket


def complete_ticket(state: State, ticket: Record, completed_at: str | None) -> None:
    lines = state.ticket_lines.where("ticket_id", ticket["id"])
    if not any(line["type"] == "ItemLine" for line in lines):
        raise invalid({"status": ["a ticket needs at least one item line to complete"]})
    if ticket["affect_inventory"]:
        for line in lines:
            if line["type"] == "ItemLine":
                move(state, line["item_id"], ticket["source_location_id"], on_hand=-line["qty"],
                     reason="return" if ticket["type"] == "Return" else "sale",
                     source_type="sales.ticket", source_id=ticket["id"])
    moment = completed_at or state.now()
    state.tickets.update(ticket, {"status": "complete", "completed_at": moment,
                                  "local_completed_at": moment[:19], "updated_at": state.now()})
    state.emit("sales_transaction_completed", render_ticket(state, ticket, ("subtotal", "tax_total")))


def render_ticket(state: State, ticket: Record, include: tuple[str, ...] | list[str] = ()) -> Record:
    """A ticket as Heartland reads it: ``total`` always, ``subtotal``/``tax_total`` when included."""
    out = dict(ticket)
    out["custom"] = dict(ticket["custom"])
    lines = state.ticket_lines.where("ticket_id", ticket["id"])
    items = [line for line in lines if line["type"] == "ItemLine"]
    subtotal = _money(sum(line["qty"] * line["adjusted_unit_price"] for line in items))
    original = _money(sum(line["qty"] * line["original_unit_price"] for line in items))
    tax = _money(sum(line["value"] for line in lines if line["type"] == "TaxLine"))
    shipping = _money(sum(line["value"] for line in lines if line["type"] == "ShippingLine"))
    paid = _money(sum(p["amount"] for p in state.ticket_payments.where("ticket_id", ticket["id"])))
    out["total"] = _money(subtotal + tax + shipping)
    out["original_subtotal"] = original
    out["total_discounts"] = _money(original - subtotal)
    out["total_paid"] = paid
    out["balance"] = _money(out["total"] - paid)
    if "subtotal" in include:
        out["subtotal"] = subtotal
    if "tax_total" in include:
        out["tax_total"] = tax
    customer = state.customers.get(ticket["customer_id"]) if ticket["customer_id"] else None
    out["customer_name"] = f"{customer['first_name']} {customer['last_name']}" if customer else None
    return out
