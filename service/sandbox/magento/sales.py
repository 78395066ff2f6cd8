"""Orders, and the rules that move them: placement, comments, hold, unhold, cancel.

The state machine follows Magento's Order model and StateResolver (reference magento-rest-api.md
§3.4–3.5): guards use Magento's messages; a comment may change the status only to one assigned to
the order's current state; hold remembers the state and status that unhold restores.
"""

from __future__ import annotations

import random
from typing import Any

from service.sandbox.magento.errors import MagentoError, entity_missing, product_missing
from service.sandbox.magento.state import DEFAULT_STORE_ID, STORE_NAME, MagentoState, now_text

TAX_RATES = {"TX": 8.25, "CO": 2.9, "OR": 0.0, "MA": 6.25, "IL": 6.25, "WA": 6.5, "GA": 4.0}
PAYMENT_TITLES = {
    "checkmo": "Check / Money order",
    "banktransfer": "Bank Transfer Payment",
    "cashondelivery": "Cash On Delivery",
    "purchaseorder": "Purchase Order",
    "free": "No Payment Information Required",
    "braintree": "Credit Card (Braintree)",
    "paypal_express": "PayPal Express Checkout",
}
CARD_METHODS = {"braintree"}
AUTHORIZED_METHODS = {"braintree", "paypal_express"}  # authorize-only: the order starts in processing
SHIPPING_METHODS = {
    "flatrate_flatrate": ("Flat Rate - Fixed", 5.0),
    "freeshipping_freeshipping": ("Free Shipping - Free", 0.0),
    "tablerate_bestway": ("Best Way - Table Rate", 9.5),
}
COUPONS = {"SAVE10": 10.0, "WELCOME15": 15.0}
CARD_TYPES = [("VI", "Visa"), ("MC", "MasterCard"), ("AE", "American Express"), ("DI", "Discover")]


def money(value: float) -> float:
    return round(value + 0.0, 2)


def get_order(state: MagentoState, order_id: int) -> dict[str, Any]:
    order = state.orders.get(order_id)
    if order is None:
        raise entity_missing()
    return order


# -- placing orders ---------------------------------------------------------------------------------


def order_address(state: MagentoState, kind: str, source: dict[str, Any], email: str, customer_id: int | None,
                  order_id: int) -> dict[str, Any]:
    raw_region = source.get("region")
    region: dict[str, Any] = raw_region if isinstance(raw_region, dict) else {}
    address: dict[str, Any] = {
        "address_type": kind,
        "city": source["city"],
        "country_id": source.get("country_id", "US"),
        "email": email,
        "entity_id": state.counters.next("order_address"),
        "firstname": source["firstname"],
        "lastname": source["lastname"],
        "parent_id": order_id,
        "postcode": source["postcode"],
        "region": region.get("region") or source.get("region_name") or "",
        "region_code": region.get("region_code") or source.get("region_code") or "",
        "region_id": source.get("region_id") or region.get("region_id"),
        "street": list(source.get("street", [])),
        "telephone": source.get("telephone", ""),
    }
    if customer_id is not None:
        address["customer_id"] = customer_id
        if source.get("id"):
            address["customer_address_id"] = source["id"]
    return {k: v for k, v in address.items() if v is not None}


def place_order(
    state: MagentoState,
    *,
    items: list[dict[str, Any]],
    customer_email: str | None = None,
    guest: bool = False,
    payment_method: str = "checkmo",
    shipping_method: str = "flatrate_flatrate",
    coupon_code: str | None = None,
    address: dict[str, Any] | None = None,
    firstname: str | None = None,
    lastname: str | None = None,
    created_at: str | None = None,
    rng: random.Random | None = None,
    remote_ip: str = "203.0.113.10",
    check_stock: bool = True,
) -> dict[str, Any]:
    """Place an order as the storefront checkout does: catalog prices, totals, customer addresses."""
    rng = rng or random.Random()
    if not items:
        raise MagentoError("The shopping cart is empty. Add items and try again.")
    if payment_method not in PAYMENT_TITLES:
        raise MagentoError("The requested Payment Method is not available.")
    if shipping_method not in SHIPPING_METHODS:
        raise MagentoError('Carrier with such method not found: %1, %2', shipping_method.split("_", 1))
    customer: dict[str, Any] | None = None
    if customer_email and not guest:
        customer_id = state.customer_ids_by_email.get((1, customer_email.lower()))
        # An email with no account checks out as a guest, as the storefront allows.
        customer = state.customers.get(customer_id) if customer_id is not None else None
    if customer is not None:
        addresses = customer.get("addresses") or []
        billing_source = next((a for a in addresses if str(a.get("id")) == str(customer.get("default_billing"))),
                              addresses[0] if addresses else None)
        shipping_source = next((a for a in addresses if str(a.get("id")) == str(customer.get("default_shipping"))),
                               billing_source)
        if billing_source is None:
            raise MagentoError('"%fieldName" is required. Enter and try again.', {"fieldName": "address"})
        email = customer["email"]
    else:
        if not customer_email:
            raise MagentoError('"%fieldName" is required. Enter and try again.', {"fieldName": "email"})
        if address is None:
            address = _guest_address(state, rng, customer_email, firstname, lastname)
        billing_source = shipping_source = address
        email = customer_email
    assert shipping_source is not None
    coupon_percent = 0.0
    if coupon_code:
        coupon_percent = COUPONS.get(coupon_code.upper(), -1.0)
        if coupon_percent < 0:
            raise MagentoError('The coupon code "%1" is not valid.', [coupon_code])
    region_code = (shipping_source.get("region") or {}).get("region_code") if isinstance(
        shipping_source.get("region"), dict) else shipping_source.get("region_code")
    tax_rate = TAX_RATES.get(region_code or "", 0.0)
    stamp = created_at or now_text()
    order_id = state.counters.next("order")
    lines = []
    for line in items:
        product = state.products.get(str(line.get("sku")))
        if product is None:
            raise product_missing()
        qty = float(line.get("qty", 1))
        if qty <= 0:
            raise MagentoError("The quantity must be greater than zero.")
        stock = product["extension_attributes"]["stock_item"]
        salable = stock["qty"] - state.reservations.get(product["sku"], 0.0)
        if check_stock and stock.get("manage_stock", True) and not stock.get("backorders") and qty > salable:
            raise MagentoError('The requested qty of "%1" is not available.', [product["sku"]])
        lines.append((product, qty, max(0.0, qty - max(0.0, salable))))
    order_items = []
    subtotal = discount = tax = 0.0
    qty_total = weight_total = 0.0
    for product, qty, backordered in lines:
        price = float(product["price"])
        row_total = money(price * qty)
        line_discount = money(row_total * coupon_percent / 100)
        line_tax = money((row_total - line_discount) * tax_rate / 100)
        subtotal += row_total
        discount += line_discount
        tax += line_tax
        qty_total += qty
        weight_total += float(product.get("weight") or 0) * qty
        item_id = state.counters.next("order_item")
        item: dict[str, Any] = {
            "amount_refunded": 0, "base_amount_refunded": 0,
            "base_discount_amount": line_discount, "base_discount_invoiced": 0,
            "base_discount_tax_compensation_amount": 0,
            "base_original_price": price, "base_price": price, "base_price_incl_tax": money(price * (1 + tax_rate / 100)),
            "base_row_invoiced": 0, "base_row_total": row_total, "base_row_total_incl_tax": money(row_total + line_tax),
            "base_tax_amount": line_tax, "base_tax_invoiced": 0,
            "created_at": stamp, "discount_amount": line_discount, "discount_invoiced": 0,
            "discount_percent": coupon_percent, "free_shipping": 0, "discount_tax_compensation_amount": 0,
            "is_qty_decimal": 0, "is_virtual": 0, "item_id": item_id, "name": product["name"], "no_discount": 0,
            "order_id": order_id, "original_price": price, "price": price,
            "price_incl_tax": money(price * (1 + tax_rate / 100)), "product_id": product["id"],
            "product_type": product.get("type_id", "simple"), "qty_canceled": 0, "qty_invoiced": 0,
            "qty_ordered": qty, "qty_refunded": 0, "qty_shipped": 0, "quote_item_id": item_id,
            "row_invoiced": 0, "row_total": row_total, "row_total_incl_tax": money(row_total + line_tax),
            "row_weight": money(float(product.get("weight") or 0) * qty), "sku": product["sku"],
            "store_id": DEFAULT_STORE_ID, "tax_amount": line_tax, "tax_invoiced": 0, "tax_percent": tax_rate,
            "updated_at": stamp, "weight": product.get("weight"),
        }
        if coupon_percent:
            item["applied_rule_ids"] = "1"
        if backordered and check_stock:
            item["qty_backordered"] = backordered
        order_items.append(item)
    subtotal, discount, tax = money(subtotal), money(discount), money(tax)
    ship_title, ship_rate = SHIPPING_METHODS[shipping_method]
    shipping = ship_rate
    if shipping_method == "freeshipping_freeshipping" and subtotal < 50:
        raise MagentoError("Free shipping needs a subtotal of at least 50.00.")
    grand_total = money(subtotal - discount + shipping + tax)
    customer_id = customer["id"] if customer else None
    first = customer["firstname"] if customer else (firstname or billing_source["firstname"])
    last = customer["lastname"] if customer else (lastname or billing_source["lastname"])
    billing = order_address(state, "billing", billing_source, email, customer_id, order_id)
    shipping_address = order_address(state, "shipping", shipping_source, email, customer_id, order_id)
    title = PAYMENT_TITLES[payment_method]
    payment: dict[str, Any] = {
        "account_status": None,
        "additional_information": [title],
        "amount_ordered": grand_total,
        "base_amount_ordered": grand_total,
        "base_shipping_amount": shipping,
        "cc_last4": None,
        "entity_id": order_id,
        "method": payment_method,
        "parent_id": order_id,
        "shipping_amount": shipping,
    }
    info = [{"key": "method_title", "value": title}]
    histories: list[dict[str, Any]] = []
    state_name, status = "new", "pending"
    if payment_method in CARD_METHODS:
        code, label = rng.choice(CARD_TYPES)
        payment.update({
            "cc_last4": f"{rng.randint(0, 9999):04d}",
            "cc_type": code,
            "cc_exp_month": str(rng.randint(1, 12)),
            "cc_exp_year": str(2027 + rng.randint(0, 4)),
            "cc_trans_id": f"{rng.getrandbits(40):x}",
            "last_trans_id": f"{rng.getrandbits(40):x}",
        })
        info.append({"key": "cc_type", "value": label})
    if payment_method in AUTHORIZED_METHODS:
        state_name, status = "processing", "processing"
        payment["amount_authorized"] = grand_total
        payment["base_amount_authorized"] = grand_total
        history_id = state.counters.next("status_history")
        histories.append({
            "comment": f"Authorized amount of ${grand_total:.2f}. Transaction ID: \"{payment.get('last_trans_id', '')}\"",
            "created_at": stamp, "entity_id": history_id, "entity_name": "order", "is_customer_notified": 0,
            "is_visible_on_front": 0, "parent_id": order_id, "status": "processing",
        })
    order: dict[str, Any] = {
        "base_currency_code": "USD",
        "base_discount_amount": -discount, "base_discount_canceled": 0, "base_discount_invoiced": 0,
        "base_discount_refunded": 0,
        "base_grand_total": grand_total,
        "base_discount_tax_compensation_amount": 0,
        "base_shipping_amount": shipping, "base_shipping_canceled": 0, "base_shipping_discount_amount": 0,
        "base_shipping_incl_tax": shipping, "base_shipping_invoiced": 0, "base_shipping_refunded": 0,
        "base_shipping_tax_amount": 0,
        "base_subtotal": subtotal, "base_subtotal_canceled": 0, "base_subtotal_incl_tax": money(subtotal + tax),
        "base_subtotal_invoiced": 0, "base_subtotal_refunded": 0,
        "base_tax_amount": tax, "base_tax_canceled": 0, "base_tax_invoiced": 0, "base_tax_refunded": 0,
        "base_total_canceled": 0, "base_total_due": grand_total, "base_total_invoiced": 0, "base_total_paid": 0,
        "base_total_refunded": 0, "base_to_global_rate": 1, "base_to_order_rate": 1,
        "billing_address_id": billing["entity_id"],
        "created_at": stamp,
        "customer_email": email,
        "customer_firstname": first,
        "customer_group_id": customer["group_id"] if customer else 0,
        "customer_is_guest": 0 if customer else 1,
        "customer_lastname": last,
        "customer_note_notify": 1,
        "discount_amount": -discount, "discount_canceled": 0, "discount_invoiced": 0, "discount_refunded": 0,
        "email_sent": 1,
        "entity_id": order_id,
        "global_currency_code": "USD",
        "grand_total": grand_total,
        "discount_tax_compensation_amount": 0,
        "increment_id": f"{order_id:09d}",
        "is_virtual": 0,
        "order_currency_code": "USD",
        "protect_code": f"{rng.getrandbits(24):06x}",
        "quote_id": order_id,
        "remote_ip": remote_ip,
        "shipping_amount": shipping, "shipping_canceled": 0, "shipping_description": ship_title,
        "shipping_discount_amount": 0, "shipping_discount_tax_compensation_amount": 0,
        "shipping_incl_tax": shipping, "shipping_invoiced": 0, "shipping_refunded": 0, "shipping_tax_amount": 0,
        "state": state_name,
        "status": status,
        "store_currency_code": "USD",
        "store_id": DEFAULT_STORE_ID,
        "store_name": STORE_NAME,
        "store_to_base_rate": 0, "store_to_order_rate": 0,
        "subtotal": subtotal, "subtotal_canceled": 0, "subtotal_incl_tax": money(subtotal + tax),
        "subtotal_invoiced": 0, "subtotal_refunded": 0,
        "tax_amount": tax, "tax_canceled": 0, "tax_invoiced": 0, "tax_refunded": 0,
        "total_canceled": 0, "total_due": grand_total, "total_invoiced": 0, "total_item_count": len(order_items),
        "total_offline_refunded": 0, "total_online_refunded": 0, "total_paid": 0,
        "total_qty_ordered": qty_total, "total_refunded": 0,
        "updated_at": stamp,
        "weight": money(weight_total),
        "items": order_items,
        "billing_address": billing,
        "payment": payment,
        "status_histories": histories,
        "extension_attributes": {
            "shipping_assignments": [{
                "shipping": {
                    "address": shipping_address,
                    "method": shipping_method,
                    "total": {
                        "base_shipping_amount": shipping, "base_shipping_canceled": 0,
                        "base_shipping_discount_amount": 0, "base_shipping_discount_tax_compensation_amnt": 0,
                        "base_shipping_incl_tax": shipping, "base_shipping_invoiced": 0,
                        "base_shipping_refunded": 0, "base_shipping_tax_amount": 0,
                        "base_shipping_tax_refunded": 0, "shipping_amount": shipping, "shipping_canceled": 0,
                        "shipping_discount_amount": 0, "shipping_discount_tax_compensation_amount": 0,
                        "shipping_incl_tax": shipping, "shipping_invoiced": 0, "shipping_refunded": 0,
                        "shipping_tax_amount": 0, "shipping_tax_refunded": 0,
                    },
                },
                "items": [dict(i) for i in order_items],
            }],
            "payment_additional_info": info,
            "applied_taxes": [],
            "item_applied_taxes": [],
            "converting_from_quote": True,
        },
    }
    if customer is not None:
        order["customer_id"] = customer["id"]
        if customer.get("dob"):
            order["customer_dob"] = customer["dob"]
        order["customer_gender"] = customer.get("gender", 0)
    if coupon_code:
        order["coupon_code"] = coupon_code.upper()
        order["applied_rule_ids"] = "1"
        order["discount_description"] = coupon_code.upper()
    store_order(state, order)
    for product, qty, _ in lines:
        state.reservations[product["sku"]] = state.reservations.get(product["sku"], 0.0) + qty
    return order


def _guest_address(state: MagentoState, rng: random.Random, email: str, firstname: str | None,
                   lastname: str | None) -> dict[str, Any]:
    """A plausible address for a guest who gave none: a seeded shopper's, under the guest's name."""
    if not state.customers:
        raise MagentoError('"%fieldName" is required. Enter and try again.', {"fieldName": "address"})
    donor = state.customers[rng.choice(list(state.customers))]
    source = dict((donor.get("addresses") or [{}])[0])
    local = email.split("@", 1)[0].replace(".", " ").replace("_", " ").split()
    source.pop("id", None)
    source["firstname"] = firstname or (local[0].capitalize() if local else "Guest")
    source["lastname"] = lastname or (local[1].capitalize() if len(local) > 1 else "Shopper")
    return source


def store_order(state: MagentoState, order: dict[str, Any]) -> None:
    state.orders[order["entity_id"]] = order
    state.order_ids_by_increment[order["increment_id"]] = order["entity_id"]


def sync_assignment_items(order: dict[str, Any]) -> None:
    """Keep the copy of the items inside shipping_assignments equal to the order's items."""
    for assignment in order.get("extension_attributes", {}).get("shipping_assignments", []) or []:
        assignment["items"] = [dict(i) for i in order.get("items", [])]


def touch(order: dict[str, Any]) -> None:
    order["updated_at"] = now_text()


# -- persisting an entity (POST /V1/orders) ---------------------------------------------------------


def save_order_entity(state: MagentoState, entity: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Persist an order entity as OrderRepository::save does; return it and whether it is new.

    Like the real endpoint this does not compute totals or run the state machine: the caller's
    values are stored as given.
    """
    entity_id = entity.get("entity_id")
    if entity_id is not None:
        try:
            entity_id = int(entity_id)
        except (TypeError, ValueError):
            raise MagentoError('The "%value" value\'s type is invalid. The "%type" type was expected. Verify and try again.',
                               {"value": entity_id, "type": "int"}) from None
        existing = state.orders.get(entity_id)
        if existing is None:
            raise entity_missing()
        for key, value in entity.items():
            if key == "items":
                existing["items"] = [_order_item(state, entity_id, i, existing.get("created_at", now_text()))
                                     for i in value]
                sync_assignment_items(existing)
            elif key not in ("entity_id",):
                existing[key] = value
        touch(existing)
        return existing, False
    order_id = state.counters.next("order")
    stamp = now_text()
    order = dict(entity)
    order["entity_id"] = order_id
    increment = str(order.get("increment_id") or f"{order_id:09d}")
    if increment in state.order_ids_by_increment:
        raise MagentoError('Unique constraint violation found', status=400)
    order["increment_id"] = increment
    order.setdefault("state", "new")
    order.setdefault("status", state.statuses.get(order["state"], ["pending"])[0])
    order.setdefault("store_id", DEFAULT_STORE_ID)
    order.setdefault("created_at", stamp)
    order["updated_at"] = stamp
    order.setdefault("status_histories", [])
    order["items"] = [_order_item(state, order_id, i, stamp) for i in entity.get("items", [])]
    if isinstance(order.get("billing_address"), dict):
        billing = dict(order["billing_address"])
        billing.setdefault("entity_id", state.counters.next("order_address"))
        billing["parent_id"] = order_id
        order["billing_address"] = billing
        order["billing_address_id"] = billing["entity_id"]
    if isinstance(order.get("payment"), dict):
        payment = dict(order["payment"])
        payment["entity_id"] = order_id
        payment["parent_id"] = order_id
        payment.setdefault("account_status", None)
        payment.setdefault("additional_information", [])
        payment.setdefault("cc_last4", None)
        order["payment"] = payment
    for assignment in (order.get("extension_attributes") or {}).get("shipping_assignments", []) or []:
        shipping = assignment.get("shipping") or {}
        if isinstance(shipping.get("address"), dict):
            shipping["address"] = {**shipping["address"], "parent_id": order_id}
            shipping["address"].setdefault("entity_id", state.counters.next("order_address"))
    if order.get("extension_attributes", {}).get("shipping_assignments"):
        sync_assignment_items(order)
    store_order(state, order)
    return order, True


def _order_item(state: MagentoState, order_id: int, item: dict[str, Any], stamp: str) -> dict[str, Any]:
    out = dict(item)
    out.setdefault("item_id", state.counters.next("order_item"))
    out["order_id"] = order_id
    for key in ("qty_invoiced", "qty_shipped", "qty_refunded", "qty_canceled"):
        out.setdefault(key, 0)
    out.setdefault("created_at", stamp)
    out["updated_at"] = stamp
    return out


# -- guards -----------------------------------------------------------------------------------------


def qty_to_invoice(item: dict[str, Any]) -> float:
    return max(0.0, float(item.get("qty_ordered") or 0) - float(item.get("qty_invoiced") or 0)
               - float(item.get("qty_canceled") or 0))


def qty_to_ship(item: dict[str, Any]) -> float:
    return max(0.0, float(item.get("qty_ordered") or 0) - float(item.get("qty_shipped") or 0)
               - float(item.get("qty_refunded") or 0) - float(item.get("qty_canceled") or 0))


def qty_to_refund(item: dict[str, Any]) -> float:
    return max(0.0, float(item.get("qty_invoiced") or 0) - float(item.get("qty_refunded") or 0))


def can_unhold(order: dict[str, Any]) -> bool:
    return order.get("state") == "holded"


def can_hold(order: dict[str, Any]) -> bool:
    return order.get("state") not in ("complete", "closed", "canceled", "holded", "payment_review")


def can_cancel(order: dict[str, Any]) -> bool:
    if order.get("state") in ("payment_review", "holded", "canceled", "complete", "closed"):
        return False
    return any(qty_to_invoice(i) > 0 for i in order.get("items", []))


def can_invoice(order: dict[str, Any]) -> bool:
    if order.get("state") in ("payment_review", "holded", "canceled", "complete", "closed"):
        return False
    return any(qty_to_invoice(i) > 0 for i in order.get("items", []))


def can_ship(order: dict[str, Any]) -> bool:
    if order.get("state") in ("payment_review", "holded", "canceled"):
        return False
    if order.get("is_virtual"):
        return False
    return any(qty_to_ship(i) > 0 for i in order.get("items", []))


def can_creditmemo(order: dict[str, Any]) -> bool:
    if order.get("state") in ("canceled", "closed", "holded", "payment_review"):
        return False
    paid = float(order.get("total_paid") or 0)
    refunded = float(order.get("total_refunded") or 0)
    return money(paid - refunded) > 0


# -- status changes ---------------------------------------------------------------------------------


def add_comment(state: MagentoState, order: dict[str, Any], history: dict[str, Any]) -> dict[str, Any]:
    status = history.get("status")
    if status:
        allowed = state.statuses.get(order["state"], [])
        if status not in allowed:
            raise MagentoError(
                'Unable to add comment: The status "%1" is not part of the order status history.', [status]
            )
        order["status"] = status
    entry = {
        "comment": history.get("comment", ""),
        "created_at": now_text(),
        "entity_id": state.counters.next("status_history"),
        "entity_name": "order",
        "is_customer_notified": int(bool(history.get("is_customer_notified") or 0)),
        "is_visible_on_front": int(bool(history.get("is_visible_on_front") or 0)),
        "parent_id": order["entity_id"],
        "status": order["status"],
    }
    order.setdefault("status_histories", []).insert(0, entry)
    touch(order)
    return entry


def hold(state: MagentoState, order: dict[str, Any]) -> None:
    if not can_hold(order):
        raise MagentoError("A hold action is not available.")
    order["hold_before_state"] = order["state"]
    order["hold_before_status"] = order["status"]
    order["state"] = "holded"
    order["status"] = state.statuses["holded"][0]
    touch(order)


def unhold(order: dict[str, Any]) -> None:
    if not can_unhold(order):
        raise MagentoError("You cannot remove the hold.")
    order["state"] = order.pop("hold_before_state", None) or "new"
    order["status"] = order.pop("hold_before_status", None) or "pending"
    touch(order)


def cancel(state: MagentoState, order: dict[str, Any]) -> bool:
    """Cancel what is not invoiced; False (not an error) when the guard says no, as Magento does."""
    if not can_cancel(order):
        return False
    subtotal = tax = discount = 0.0
    for item in order.get("items", []):
        qty = qty_to_invoice(item)
        if qty <= 0:
            continue
        ordered = float(item.get("qty_ordered") or 0) or 1.0
        share = qty / ordered
        item["qty_canceled"] = float(item.get("qty_canceled") or 0) + qty
        item["tax_canceled"] = money(float(item.get("tax_amount") or 0) * share)
        subtotal += float(item.get("row_total") or 0) * share
        tax += float(item.get("tax_amount") or 0) * share
        discount += float(item.get("discount_amount") or 0) * share
        release = min(qty, state.reservations.get(item["sku"], 0.0))
        if release:
            state.reservations[item["sku"]] = state.reservations.get(item["sku"], 0.0) - release
    shipping = float(order.get("shipping_amount") or 0) - float(order.get("shipping_invoiced") or 0)
    total = money(subtotal - discount + tax + shipping)
    for prefix in ("", "base_"):
        order[f"{prefix}subtotal_canceled"] = money(subtotal)
        order[f"{prefix}tax_canceled"] = money(tax)
        order[f"{prefix}discount_canceled"] = money(discount)
        order[f"{prefix}shipping_canceled"] = money(shipping)
        order[f"{prefix}total_canceled"] = total
    order["state"] = "canceled"
    order["status"] = state.statuses["canceled"][0]
    sync_assignment_items(order)
    touch(order)
    return True


def recount_reservations(state: MagentoState) -> None:
    """Reserved quantity per SKU: what open orders still have to ship (MSI reservations)."""
    reserved: dict[str, float] = {}
    for order in state.orders.values():
        if order.get("state") in ("canceled", "closed", "complete"):
            continue
        for item in order.get("items", []):
            qty = qty_to_ship(item)
            if qty > 0:
                reserved[item["sku"]] = reserved.get(item["sku"], 0.0) + qty
    state.reservations = reserved


# -- state resolution (Order\StateResolver) ---------------------------------------------------------


def resolve_state(state: MagentoState, order: dict[str, Any], *, in_progress: bool) -> None:
    """Move the order's state after an invoice, shipment or credit memo, and reset its status.

    In progress (invoice, ship): new becomes processing; nothing left to invoice or ship makes it
    complete (when a credit memo is still possible or the total is 0). After a credit memo: nothing
    left to invoice, ship or refund makes it closed.
    """
    current = order.get("state") or "new"
    target = current
    if current not in ("canceled", "holded") and not can_invoice(order):
        if in_progress:
            if not can_ship(order) and (can_creditmemo(order) or not float(order.get("base_grand_total") or 0)):
                target = "complete"
            elif not can_ship(order) and not can_creditmemo(order) and float(order.get("total_refunded") or 0) > 0:
                target = "closed"
        elif current in ("processing", "complete", "new") and not can_creditmemo(order) and not can_ship(order):
            target = "closed"
    if target == "new" and in_progress:
        target = "processing"
    if target != current:
        order["state"] = target
        order["status"] = state.statuses[target][0]
    touch(order)


# -- documents --------------------------------------------------------------------------------------


def _requested(order: dict[str, Any], items: list[dict[str, Any]] | None, remaining: Any,
               document: str, verb: str) -> list[tuple[dict[str, Any], float]]:
    """(order item, qty) pairs for a document; no items means every remaining quantity."""
    by_id = {int(i["item_id"]): i for i in order.get("items", [])}
    if not items:
        return [(i, remaining(i)) for i in order.get("items", []) if remaining(i) > 0]
    wanted: list[tuple[dict[str, Any], float]] = []
    for line in items:
        item = by_id.get(int(line.get("order_item_id") or 0))
        if item is None:
            raise MagentoError(f"{document} Document Validation Error(s):\n"
                               f"The {verb} contains one or more items that are not part of the original order.")
        qty = float(line.get("qty") or 0)
        if qty < 0 or qty > remaining(item) + 1e-9:
            raise MagentoError(f"{document} Document Validation Error(s):\n"
                               f"We found an invalid quantity to {verb} item \"{item['sku']}\".")
        if qty > 0:
            wanted.append((item, qty))
    if not wanted:
        raise MagentoError(f"{document} Document Validation Error(s):\nYou can't create a {verb} without products.")
    return wanted


def _line_amounts(item: dict[str, Any], qty: float) -> dict[str, float]:
    ordered = float(item.get("qty_ordered") or 0) or 1.0
    share = qty / ordered
    row = money(float(item.get("row_total") or 0) * share)
    tax = money(float(item.get("tax_amount") or 0) * share)
    discount = money(float(item.get("discount_amount") or 0) * share)
    return {"row": row, "tax": tax, "discount": discount}


def _document_comments(comment: dict[str, Any] | None, parent_id: int, stamp: str, append: bool) -> list[dict[str, Any]]:
    if not comment or not append or not comment.get("comment"):
        return []
    return [{"comment": comment["comment"], "created_at": stamp, "is_customer_notified": 0,
             "is_visible_on_front": int(bool(comment.get("is_visible_on_front"))), "parent_id": parent_id}]


def invoice(state: MagentoState, order: dict[str, Any], *, items: list[dict[str, Any]] | None = None,
            capture: bool = False, comment: dict[str, Any] | None = None, append_comment: bool = False,
            created_at: str | None = None, decline: dict[str, str] | None = None) -> dict[str, Any]:
    """Invoice the order (InvoiceOrder): paid, online or offline; return the invoice.

    ``decline`` ({"code", "message"}) is the gateway's answer to an online capture of an authorized
    payment: the invoice stays open (unpaid), the order goes to payment review with the gateway's
    response in the payment's additional information (see ``decline_capture``).
    """
    if not can_invoice(order):
        raise MagentoError("Invoice Document Validation Error(s):\nThe order does not allow an invoice to be created.")
    declined = bool(decline and capture and float((order.get("payment") or {}).get("amount_authorized") or 0) > 0)
    lines = _requested(order, items, qty_to_invoice, "Invoice", "invoice")
    stamp = created_at or now_text()
    invoice_id = state.counters.next("invoice")
    subtotal = tax = discount = 0.0
    invoice_items = []
    for item, qty in lines:
        amounts = _line_amounts(item, qty)
        subtotal += amounts["row"]
        tax += amounts["tax"]
        discount += amounts["discount"]
        item["qty_invoiced"] = float(item.get("qty_invoiced") or 0) + qty
        for prefix in ("", "base_"):
            item[f"{prefix}row_invoiced"] = money(float(item.get(f"{prefix}row_invoiced") or 0) + amounts["row"])
            item[f"{prefix}tax_invoiced"] = money(float(item.get(f"{prefix}tax_invoiced") or 0) + amounts["tax"])
            item[f"{prefix}discount_invoiced"] = money(float(item.get(f"{prefix}discount_invoiced") or 0)
                                                       + amounts["discount"])
        item["updated_at"] = stamp
        invoice_items.append({
            "base_cost": 0, "base_price": item["price"], "base_row_total": amounts["row"],
            "base_tax_amount": amounts["tax"], "base_discount_amount": amounts["discount"],
            "entity_id": state.counters.next("invoice_item"), "name": item.get("name"),
            "order_item_id": item["item_id"], "parent_id": invoice_id, "price": item["price"],
            "product_id": item.get("product_id"), "qty": qty, "row_total": amounts["row"], "sku": item["sku"],
            "tax_amount": amounts["tax"], "discount_amount": amounts["discount"],
            "price_incl_tax": item.get("price_incl_tax"), "row_total_incl_tax": money(amounts["row"] + amounts["tax"]),
        })
    shipping = money(float(order.get("shipping_amount") or 0) - float(order.get("shipping_invoiced") or 0))
    subtotal, tax, discount = money(subtotal), money(tax), money(discount)
    grand_total = money(subtotal - discount + tax + shipping)
    for prefix in ("", "base_"):
        order[f"{prefix}subtotal_invoiced"] = money(float(order.get(f"{prefix}subtotal_invoiced") or 0) + subtotal)
        order[f"{prefix}tax_invoiced"] = money(float(order.get(f"{prefix}tax_invoiced") or 0) + tax)
        order[f"{prefix}discount_invoiced"] = money(float(order.get(f"{prefix}discount_invoiced") or 0) - discount)
        order[f"{prefix}shipping_invoiced"] = money(float(order.get(f"{prefix}shipping_invoiced") or 0) + shipping)
        order[f"{prefix}total_invoiced"] = money(float(order.get(f"{prefix}total_invoiced") or 0) + grand_total)
        paid_now = 0.0 if declined else grand_total
        order[f"{prefix}total_paid"] = money(float(order.get(f"{prefix}total_paid") or 0) + paid_now)
        order[f"{prefix}total_due"] = money(float(order.get(f"{prefix}grand_total") or 0)
                                            - float(order[f"{prefix}total_paid"]))
    payment = order.setdefault("payment", {})
    for prefix in ("", "base_"):
        if not declined:
            payment[f"{prefix}amount_paid"] = money(float(payment.get(f"{prefix}amount_paid") or 0) + grand_total)
    if not declined:
        payment["base_shipping_captured"] = money(float(payment.get("base_shipping_captured") or 0) + shipping)
        payment["shipping_captured"] = payment["base_shipping_captured"]
    document = {
        "base_currency_code": order.get("base_currency_code", "USD"), "base_discount_amount": -discount,
        "base_grand_total": grand_total, "base_discount_tax_compensation_amount": 0,
        "base_shipping_amount": shipping, "base_shipping_incl_tax": shipping, "base_shipping_tax_amount": 0,
        "base_subtotal": subtotal, "base_subtotal_incl_tax": money(subtotal + tax), "base_tax_amount": tax,
        "base_total_refunded": 0, "base_to_global_rate": 1, "base_to_order_rate": 1,
        "billing_address_id": order.get("billing_address_id"), "can_void_flag": 0, "created_at": stamp,
        "discount_amount": -discount, "email_sent": 0, "entity_id": invoice_id,
        "global_currency_code": order.get("global_currency_code", "USD"), "grand_total": grand_total,
        "discount_tax_compensation_amount": 0, "increment_id": f"{invoice_id:09d}", "is_used_for_refund": 0,
        "order_currency_code": order.get("order_currency_code", "USD"), "order_id": order["entity_id"],
        "shipping_address_id": _shipping_address_id(order), "shipping_amount": shipping,
        "shipping_discount_tax_compensation_amount": 0, "shipping_incl_tax": shipping, "shipping_tax_amount": 0,
        "state": 1 if declined else 2, "store_currency_code": order.get("store_currency_code", "USD"),
        "store_id": order.get("store_id", DEFAULT_STORE_ID), "store_to_base_rate": 0, "store_to_order_rate": 0,
        "subtotal": subtotal, "subtotal_incl_tax": money(subtotal + tax), "tax_amount": tax,
        "total_qty": sum(q for _, q in lines), "updated_at": stamp, "items": invoice_items,
        "comments": _document_comments(comment, invoice_id, stamp, append_comment),
    }
    if capture and payment.get("last_trans_id"):
        document["transaction_id"] = f"{payment['last_trans_id']}-capture"
    document = {k: v for k, v in document.items() if v is not None}
    state.invoices[invoice_id] = document
    sync_assignment_items(order)
    if declined and decline:
        decline_capture(state, order, document, decline, stamp)
    else:
        resolve_state(state, order, in_progress=True)
    if created_at:
        order["updated_at"] = created_at
    return document


def decline_capture(state: MagentoState, order: dict[str, Any], document: dict[str, Any],
                    decline: dict[str, str], stamp: str) -> None:
    """The gateway declined an online capture: what a gateway module records before anyone acts.

    Magento keeps the invoice open (``Payment::capture`` with the transaction not approved), moves the
    order to payment review (``State\\CaptureCommand``), and the module stores the gateway's
    response on the payment, as Braintree's does (``processorResponseCode``/``…Text``, 2000+ are
    declines), with a comment for the merchant.
    """
    payment = order.setdefault("payment", {})
    info = order.setdefault("extension_attributes", {}).setdefault("payment_additional_info", [])
    answer = {"processorResponseCode": decline["code"], "processorResponseText": decline["message"]}
    info[:] = [e for e in info if e.get("key") not in answer] + [{"key": k, "value": v} for k, v in answer.items()]
    payment["additional_information"] = [*(payment.get("additional_information") or []), decline["message"]]
    order["state"] = "payment_review"
    order["status"] = state.statuses["payment_review"][0]
    transaction = document.get("transaction_id", "")
    order.setdefault("status_histories", []).insert(0, {
        "comment": (f"The payment gateway declined the capture of ${float(document['grand_total']):.2f}: "
                    f"{decline['message']} ({decline['code']}). Transaction ID: \"{transaction}\""),
        "created_at": stamp, "entity_id": state.counters.next("status_history"), "entity_name": "order",
        "is_customer_notified": 0, "is_visible_on_front": 0, "parent_id": order["entity_id"],
        "status": order["status"],
    })
    touch(order)


def _shipping_address_id(order: dict[str, Any]) -> int | None:
    for assignment in (order.get("extension_attributes") or {}).get("shipping_assignments", []) or []:
        address = (assignment.get("shipping") or {}).get("address") or {}
        if address.get("entity_id"):
            return int(address["entity_id"])
    return None


def ship(state: MagentoState, order: dict[str, Any], *, items: list[dict[str, Any]] | None = None,
         tracks: list[dict[str, Any]] | None = None, comment: dict[str, Any] | None = None,
         append_comment: bool = False, source_code: str | None = None,
         created_at: str | None = None, notify: bool = False) -> dict[str, Any]:
    """Ship the order (ShipOrder): deduct the source, add tracks, resolve the state; return the shipment.

    ``notify`` sends the shipment email, which Magento records as ``email_sent`` 1 on the shipment.
    """
    if order.get("state") in ("payment_review", "holded", "canceled"):
        raise MagentoError("Shipment Document Validation Error(s):\n"
                           f"A shipment cannot be created when an order has a status of {order.get('status')}")
    if not can_ship(order):
        raise MagentoError("Shipment Document Validation Error(s):\nThe order does not allow a shipment to be created.")
    source = source_code or "default"
    if source not in state.sources:
        raise MagentoError("Shipment Document Validation Error(s):\n"
                           f"Source with code \"{source}\" does not exist.")
    lines = _requested(order, items, qty_to_ship, "Shipment", "ship")
    stamp = created_at or now_text()
    shipment_id = state.counters.next("shipment")
    shipment_items = []
    for item, qty in lines:
        item["qty_shipped"] = float(item.get("qty_shipped") or 0) + qty
        item["updated_at"] = stamp
        shipment_items.append({
            "entity_id": state.counters.next("shipment_item"), "name": item.get("name"), "parent_id": shipment_id,
            "price": item.get("price"), "product_id": item.get("product_id"), "sku": item["sku"],
            "weight": item.get("weight"), "order_item_id": item["item_id"], "qty": qty,
        })
        deduct_source(state, item["sku"], source, qty)
    shipment_tracks = [make_track(state, order["entity_id"], shipment_id, t, stamp) for t in tracks or []]
    document = {
        "billing_address_id": order.get("billing_address_id"), "created_at": stamp,
        "customer_id": order.get("customer_id"), "email_sent": int(notify), "entity_id": shipment_id,
        "increment_id": f"{shipment_id:09d}", "order_id": order["entity_id"], "packages": [],
        "shipping_address_id": _shipping_address_id(order), "store_id": order.get("store_id", DEFAULT_STORE_ID),
        "total_qty": sum(q for _, q in lines), "updated_at": stamp, "items": shipment_items,
        "tracks": shipment_tracks, "comments": _document_comments(comment, shipment_id, stamp, append_comment),
        "extension_attributes": {"source_code": source},
    }
    document = {k: v for k, v in document.items() if v is not None}
    state.shipments[shipment_id] = document
    for track in shipment_tracks:
        state.tracks[track["entity_id"]] = track
    sync_assignment_items(order)
    resolve_state(state, order, in_progress=True)
    if created_at:
        order["updated_at"] = created_at
    return document


def deduct_source(state: MagentoState, sku: str, source: str, qty: float) -> None:
    """Source deduction at shipment: the source quantity drops and the reservation is released."""
    item = state.source_items.get((sku, source))
    if item is not None:
        item["quantity"] = max(0.0, float(item["quantity"]) - qty)
        if item["quantity"] <= 0:
            item["status"] = 0
        if source == "default":
            sync_legacy_stock(state, sku)
    state.reservations[sku] = max(0.0, state.reservations.get(sku, 0.0) - qty)


def sync_legacy_stock(state: MagentoState, sku: str) -> None:
    """Keep the legacy stock item equal to the default source, as MSI's single-source mode does."""
    product = state.products.get(sku)
    source = state.source_items.get((sku, "default"))
    if product is None or source is None:
        return
    stock = product["extension_attributes"]["stock_item"]
    stock["qty"] = float(source["quantity"])
    stock["is_in_stock"] = bool(source["status"]) and stock["qty"] > 0


def make_track(state: MagentoState, order_id: int, shipment_id: int, spec: dict[str, Any], stamp: str) -> dict[str, Any]:
    track_id = state.counters.next("track")
    track = {
        "order_id": order_id, "created_at": stamp, "entity_id": track_id, "parent_id": shipment_id,
        "updated_at": stamp, "weight": spec.get("weight"), "qty": spec.get("qty"),
        "description": spec.get("description"), "track_number": spec.get("track_number", ""),
        "title": spec.get("title", ""), "carrier_code": spec.get("carrier_code", ""),
    }
    # Magento prints required getters even when null (weight, qty, description) and skips other nulls.
    return {k: v for k, v in track.items() if v is not None or k in ("weight", "qty", "description")}


def add_track(state: MagentoState, spec: dict[str, Any]) -> dict[str, Any]:
    """``POST /V1/shipment/track``: a track on an existing shipment of the same order."""
    try:
        shipment_id = int(spec.get("parent_id") or 0)
    except (TypeError, ValueError):
        shipment_id = 0
    shipment = state.shipments.get(shipment_id)
    if shipment is None:
        raise MagentoError("The entity that was requested doesn't exist. Verify the entity and try again.", status=404)
    if spec.get("order_id") is not None and int(spec["order_id"]) != shipment["order_id"]:
        raise MagentoError("Could not save the shipment tracking.")
    for name in ("track_number", "carrier_code"):
        if not spec.get(name):
            raise MagentoError('"%fieldName" is required. Enter and try again.', {"fieldName": name})
    track = make_track(state, shipment["order_id"], shipment_id, spec, now_text())
    shipment.setdefault("tracks", []).append(track)
    shipment["updated_at"] = track["created_at"]
    state.tracks[track["entity_id"]] = track
    return track


def refund(state: MagentoState, order: dict[str, Any], *, items: list[dict[str, Any]] | None = None,
           arguments: dict[str, Any] | None = None, comment: dict[str, Any] | None = None,
           append_comment: bool = False, created_at: str | None = None) -> dict[str, Any]:
    """Refund offline (RefundOrder): create the credit memo, return stock, resolve the state."""
    prefix = "Creditmemo Document Validation Error(s):\n"
    if not can_creditmemo(order):
        raise MagentoError(prefix + "We can't create creditmemo for the order.")
    arguments = arguments or {}
    lines = _requested(order, items, qty_to_refund, "Creditmemo", "refund") if (items or any(
        qty_to_refund(i) > 0 for i in order.get("items", []))) else []
    stamp = created_at or now_text()
    memo_id = state.counters.next("creditmemo")
    shipping_left = money(float(order.get("shipping_invoiced") or 0) - float(order.get("shipping_refunded") or 0))
    shipping = arguments.get("shipping_amount")
    shipping = shipping_left if shipping is None else money(float(shipping))
    if shipping > shipping_left + 1e-9:
        raise MagentoError(prefix + f"Maximum shipping amount allowed to refund is: {shipping_left:.2f}")
    positive = money(float(arguments.get("adjustment_positive") or 0))
    negative = money(float(arguments.get("adjustment_negative") or 0))
    subtotal = tax = discount = 0.0
    memo_items = []
    returned = {int(i) for i in ((arguments.get("extension_attributes") or {}).get("return_to_stock_items") or [])}
    for item, qty in lines:
        amounts = _line_amounts(item, qty)
        subtotal += amounts["row"]
        tax += amounts["tax"]
        discount += amounts["discount"]
        memo_items.append({
            "base_cost": 0, "base_price": item["price"], "base_row_total": amounts["row"],
            "base_tax_amount": amounts["tax"], "base_discount_amount": amounts["discount"],
            "entity_id": state.counters.next("creditmemo_item"), "name": item.get("name"),
            "order_item_id": item["item_id"], "parent_id": memo_id, "price": item["price"],
            "product_id": item.get("product_id"), "qty": qty, "row_total": amounts["row"], "sku": item["sku"],
            "tax_amount": amounts["tax"], "discount_amount": amounts["discount"],
            "price_incl_tax": item.get("price_incl_tax"),
            "row_total_incl_tax": money(amounts["row"] + amounts["tax"]),
        })
    subtotal, tax, discount = money(subtotal), money(tax), money(discount)
    grand_total = money(subtotal - discount + tax + shipping + positive - negative)
    available = money(float(order.get("total_paid") or 0) - float(order.get("total_refunded") or 0))
    if grand_total > available + 1e-9:
        raise MagentoError(prefix + f"The most money available to refund is {available:.2f}.")
    if grand_total <= 0:
        raise MagentoError(prefix + "The credit memo's total must be positive.")
    for item, qty in lines:
        amounts = _line_amounts(item, qty)
        unshipped = qty_to_ship(item)
        item["qty_refunded"] = float(item.get("qty_refunded") or 0) + qty
        for pre in ("", "base_"):
            item[f"{pre}amount_refunded"] = money(float(item.get(f"{pre}amount_refunded") or 0) + amounts["row"])
            item[f"{pre}tax_refunded"] = money(float(item.get(f"{pre}tax_refunded") or 0) + amounts["tax"])
            item[f"{pre}discount_refunded"] = money(float(item.get(f"{pre}discount_refunded") or 0)
                                                    + amounts["discount"])
        item["updated_at"] = stamp
        released = min(qty, unshipped)
        if released:
            state.reservations[item["sku"]] = max(0.0, state.reservations.get(item["sku"], 0.0) - released)
        if int(item["item_id"]) in returned and qty - released > 0:
            source = state.source_items.get((item["sku"], "default"))
            if source is not None:
                source["quantity"] = float(source["quantity"]) + qty - released
                source["status"] = 1
                sync_legacy_stock(state, item["sku"])
    for pre in ("", "base_"):
        order[f"{pre}subtotal_refunded"] = money(float(order.get(f"{pre}subtotal_refunded") or 0) + subtotal)
        order[f"{pre}tax_refunded"] = money(float(order.get(f"{pre}tax_refunded") or 0) + tax)
        order[f"{pre}discount_refunded"] = money(float(order.get(f"{pre}discount_refunded") or 0) - discount)
        order[f"{pre}shipping_refunded"] = money(float(order.get(f"{pre}shipping_refunded") or 0) + shipping)
        order[f"{pre}total_refunded"] = money(float(order.get(f"{pre}total_refunded") or 0) + grand_total)
        order[f"{pre}total_offline_refunded"] = money(float(order.get(f"{pre}total_offline_refunded") or 0)
                                                      + grand_total)
        order[f"{pre}adjustment_positive"] = money(float(order.get(f"{pre}adjustment_positive") or 0) + positive)
        order[f"{pre}adjustment_negative"] = money(float(order.get(f"{pre}adjustment_negative") or 0) + negative)
    payment = order.setdefault("payment", {})
    for pre in ("", "base_"):
        payment[f"{pre}amount_refunded"] = money(float(payment.get(f"{pre}amount_refunded") or 0) + grand_total)
    first_invoice = next((i["entity_id"] for i in state.invoices.values() if i["order_id"] == order["entity_id"]), None)
    memo = {
        "adjustment": money(positive - negative), "adjustment_negative": negative, "adjustment_positive": positive,
        "base_adjustment": money(positive - negative), "base_adjustment_negative": negative,
        "base_adjustment_positive": positive, "base_currency_code": order.get("base_currency_code", "USD"),
        "base_discount_amount": -discount, "base_grand_total": grand_total,
        "base_discount_tax_compensation_amount": 0, "base_shipping_amount": shipping,
        "base_shipping_incl_tax": shipping, "base_shipping_tax_amount": 0, "base_subtotal": subtotal,
        "base_subtotal_incl_tax": money(subtotal + tax), "base_tax_amount": tax, "base_to_global_rate": 1,
        "base_to_order_rate": 1, "billing_address_id": order.get("billing_address_id"), "created_at": stamp,
        "creditmemo_status": None, "discount_amount": -discount, "email_sent": 0, "entity_id": memo_id,
        "global_currency_code": order.get("global_currency_code", "USD"), "grand_total": grand_total,
        "discount_tax_compensation_amount": 0, "increment_id": f"{memo_id:09d}", "invoice_id": first_invoice,
        "order_currency_code": order.get("order_currency_code", "USD"), "order_id": order["entity_id"],
        "shipping_address_id": _shipping_address_id(order), "shipping_amount": shipping,
        "shipping_discount_tax_compensation_amount": 0, "shipping_incl_tax": shipping, "shipping_tax_amount": 0,
        "state": 2, "store_currency_code": order.get("store_currency_code", "USD"),
        "store_id": order.get("store_id", DEFAULT_STORE_ID), "store_to_base_rate": 0, "store_to_order_rate": 0,
        "subtotal": subtotal, "subtotal_incl_tax": money(subtotal + tax), "tax_amount": tax, "updated_at": stamp,
        "items": memo_items, "comments": _document_comments(comment, memo_id, stamp, append_comment),
    }
    memo = {k: v for k, v in memo.items() if v is not None}
    state.creditmemos[memo_id] = memo
    sync_assignment_items(order)
    resolve_state(state, order, in_progress=False)
    if created_at:
        order["updated_at"] = created_at
    return memo


def seed_lifecycle(state: MagentoState, order: dict[str, Any], fate: float, stamp: str) -> None:
    """Move a seeded order on: most complete, some invoiced only, some refunded and closed."""
    if order["state"] not in ("new", "processing"):
        return
    if fate < 0.70:
        invoice(state, order, created_at=stamp)
        ship(state, order, created_at=stamp,
             tracks=[{"track_number": f"1Z{order['entity_id']:08d}", "title": "United Parcel Service",
                      "carrier_code": "ups"}])
    elif fate < 0.80:
        invoice(state, order, created_at=stamp)
    elif fate < 0.85:
        invoice(state, order, created_at=stamp)
        ship(state, order, created_at=stamp)
        refund(state, order, created_at=stamp)
