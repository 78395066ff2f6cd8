"""/v1/customers: the 360° customer, one person across the till and the website.

Heartland is the hub: every web order's customer is a Heartland customer (the orders and customers
flows link them, duplicate resolution merges them), so a customer's id is ``heartland:<id>``;
``magento:<store>:<id>`` is accepted and resolved through the bindings. The record joins what
Heartland holds (contact, store sales and returns, web orders, gift cards) with what Tillbridge
knows (the Magento accounts and guest emails bound to it, duplicate pairs and open reviews).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import String, cast, or_, select

from service.api.v1.catalog import currency, runtime, upstream
from service.api.v1.conventions import ListArgs, list_schema, page_of, rfc3339
from service.api.v1.errors import fail
from service.api.v1.schemas import MoneySchema
from service.canonical.money import minor_units
from service.kernel.numbers import whole_number
from service.reconciliation.ledger import parse_time
from service.store.tables import Binding, CustomerReview, SyncItem

blp = Blueprint("v1_customers", __name__, url_prefix="/v1/customers",
                description="The 360° customer across Heartland and Magento")

ID = re.compile(r"^(heartland:\d{1,18}|magento:[A-Za-z0-9_]{1,64}:\d{1,18})$")


class PurchaseOut(Schema):
    date = fields.String(required=True, metadata={"format": "date-time"})
    channel = fields.String(required=True)
    location = fields.String(required=True)
    number = fields.String(required=True)
    total = fields.Nested(MoneySchema, required=True)


class ChannelOut(Schema):
    channel = fields.String(required=True)
    orders = fields.Integer(required=True)
    sales = fields.Nested(MoneySchema, required=True)


class GiftCardOut(Schema):
    last4 = fields.String(required=True)
    balance = fields.Nested(MoneySchema, required=True)
    active = fields.Boolean(required=True)


class LinkOut(Schema):
    system = fields.String(required=True)
    key = fields.String(required=True)
    id = fields.String(required=True)


class DuplicateOut(Schema):
    review_id = fields.Integer(required=True)
    state = fields.String(required=True)
    other = fields.String(required=True)
    score = fields.Float(required=True)


class CustomerOut(Schema):
    id = fields.String(required=True)
    object = fields.Constant("customer", required=True, metadata={"type": "string", "enum": ["customer"]})
    name = fields.String(required=True)
    email = fields.String(allow_none=True)
    active = fields.Boolean(required=True)
    heartland = fields.Dict(required=True)
    magento = fields.List(fields.Nested(LinkOut), required=True, metadata={"description": "accounts and guest emails"})
    duplicates = fields.List(fields.Nested(DuplicateOut), required=True)
    open_reviews = fields.Integer(required=True)
    lifetime_value = fields.Nested(MoneySchema, required=True, metadata={"description": "sales net of refunds"})
    orders = fields.Integer(required=True)
    by_channel = fields.List(fields.Nested(ChannelOut), required=True)
    average_order_value = fields.Nested(MoneySchema, required=True)
    returns = fields.Integer(required=True)
    refunded = fields.Nested(MoneySchema, required=True)
    first_purchase = fields.Nested(PurchaseOut, allow_none=True, required=True)
    last_purchase = fields.Nested(PurchaseOut, allow_none=True, required=True)
    days_since_last_order = fields.Integer(allow_none=True, required=True)
    gift_cards = fields.List(fields.Nested(GiftCardOut), required=True)
    created = fields.String(allow_none=True, metadata={"format": "date-time"})


class CustomerSummaryOut(Schema):
    id = fields.String(required=True)
    object = fields.Constant("customer", required=True, metadata={"type": "string", "enum": ["customer"]})
    name = fields.String(required=True)
    email = fields.String(allow_none=True)
    url = fields.String(required=True)


CustomerList = list_schema(CustomerSummaryOut, "CustomerList")


class FindArgs(ListArgs):
    email = fields.Email()
    phone = fields.String(validate=validate.Regexp(r"^(?:[ +().\-]*[0-9]){7,15}[ +().\-]*$",
                                                   error="7–15 digits, with spaces, + ( ) . - if you like"))
    heartland_id = fields.Integer(validate=validate.Range(min=1, max=10**15))
    magento_id = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_]{1,64}:\d{1,18}$|^\d{1,18}$",
                                                        error="a Magento customer id, optionally store:id"))


class CustomerIn(Schema):
    first_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    last_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    email = fields.Email(required=True)
    phone = fields.String(load_default="", validate=validate.Regexp(r"^[0-9 +().\-]{0,24}$"))


class CustomerUpdate(Schema):
    first_name = fields.String(validate=validate.Length(min=1, max=100))
    last_name = fields.String(validate=validate.Length(min=1, max=100))
    email = fields.Email()


def _follow_to_magento(hid: int, label: str) -> int:
    """A customers-flow item for the Heartland customer: the flow writes Magento (survivorship, echo guard)."""
    from service.store import items

    rt = runtime()
    with rt.store.session() as s:
        item = items.create(s, flow="customers", direction="heartland→magento",
                            entity_key=f"customers:heartland:customer:{hid}", label=label,
                            payload={"kind": "customer", "id": hid, "record": {}, "source": "heartland"})
        item_id = item.id
    rt.enqueue([item_id])
    return item_id


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    hid = f"heartland:{record['id']}"
    return {"id": hid, "object": "customer", "name": _name(record), "email": record.get("email"),
            "url": f"/v1/customers/{hid}"}


def _name(record: dict[str, Any]) -> str:
    return str(record.get("name") or f"{record.get('first_name') or ''} {record.get('last_name') or ''}").strip()


def _heartland_id_for(key: str) -> int | None:
    with runtime().store.session() as s:
        found = s.scalar(select(Binding.external_id).where(Binding.entity == "customer", Binding.system == "heartland",
                                                           Binding.key == key))
    return int(found) if found else None


def _emails_with_phone(phone: str) -> list[str]:
    """Emails of customers whose synced records (customers and orders) carry this phone number."""
    digits = re.sub(r"\D", "", phone)[-7:]
    emails: list[str] = []
    if len(digits) < 7:
        return emails  # too short to say whose number it is
    with runtime().store.session() as s:
        rows = s.scalars(select(SyncItem.payload).where(SyncItem.flow.in_(("customers", "orders")))
                         .where(cast(SyncItem.payload, String).like(f"%{digits[:3]}%{digits[3:]}%"))
                         .order_by(SyncItem.id.desc()).limit(200))
        for payload in rows:
            data = payload.get("data") or payload.get("record") or payload
            for address in [*(data.get("addresses") or []), data.get("billing_address") or {}]:
                if re.sub(r"\D", "", str(address.get("telephone") or address.get("phone") or "")).endswith(digits):
                    email = data.get("email") or data.get("customer_email")
                    if email and email not in emails:
                        emails.append(str(email))
    return emails


@blp.route("")
class Customers(MethodView):
    @blp.arguments(FindArgs, location="query")
    @blp.response(200, CustomerList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Find customers by email, phone, Heartland id or Magento id (or list them all)"""
        heartland = runtime().heartland
        limit = args["limit"]
        with upstream("Heartland"):
            if args.get("heartland_id"):
                found = [heartland.customer(int(args["heartland_id"]))]
            elif args.get("magento_id"):
                raw = str(args["magento_id"])
                key = f"magento:{raw}" if ":" in raw else f"magento:default:{raw}"
                hid = _heartland_id_for(key)
                found = [heartland.customer(hid)] if hid else []
            elif args.get("email"):
                found = heartland.find_customers_by_email(args["email"])
            elif args.get("phone"):
                found = [c for email in _emails_with_phone(args["phone"]) for c in heartland.find_customers_by_email(email)]
            else:
                cursor = args.get("starting_after") or ""
                after = whole_number(cursor.split(":")[1]) if cursor.startswith("heartland:") else None
                keyset = {"id": {"$gt": after}} if after is not None else None
                found = heartland.list("customers", keyset, ["id"], per_page=limit + 1).results
        return page_of([_summary(c) for c in found], limit)

    @blp.arguments(CustomerIn)
    @blp.response(202, CustomerOut)
    @blp.alt_response(409, description="a customer with this email exists already")
    def post(self, body: dict[str, Any]) -> Any:
        """Create a customer in Heartland; the customers flow then creates or links it in Magento"""
        rt = runtime()
        with upstream("Heartland"):
            if rt.heartland.find_customers_by_email(body["email"]):
                existing = rt.heartland.find_customers_by_email(body["email"])[0]
                fail(409, f"Heartland has a customer with {body['email']} already: heartland:{existing['id']}",
                     error="customer_exists")
            created = rt.heartland.create_customer({"first_name": body["first_name"],
                                                    "last_name": body["last_name"], "email": body["email"]})
            hid = int(created["id"])
            if body["phone"]:
                rt.heartland.add_customer_address(hid, {"first_name": body["first_name"],
                                                        "last_name": body["last_name"], "phone": body["phone"]})
        _follow_to_magento(hid, f"customer {body['email']} (created through the API)")
        return customer_360(hid), 202, {"Location": f"/v1/customers/heartland:{hid}"}


@blp.route("/<string:customer_id>")
class Customer(MethodView):
    @blp.response(200, CustomerOut)
    def get(self, customer_id: str) -> dict[str, Any]:
        """The 360° customer: both systems' ids, duplicates, lifetime value, channels, returns, gift cards"""
        return customer_360(self_id(customer_id))

    @blp.arguments(CustomerUpdate)
    @blp.response(202, CustomerOut)
    def put(self, body: dict[str, Any], customer_id: str) -> Any:
        """Change a customer's name or email in Heartland; the customers flow carries it to Magento"""
        hid = self_id(customer_id)
        if not body:
            fail(422, "send at least one of first_name, last_name, email", fields={"_body": ["empty"]})
        with upstream("Heartland"):
            runtime().heartland.update_customer(hid, body)
        _follow_to_magento(hid, f"customer heartland:{hid} (changed through the API)")
        return customer_360(hid), 202


def self_id(customer_id: str) -> int:
    if not ID.match(customer_id):
        fail(404, f"no customer {customer_id!r}: ids look like heartland:100001 or magento:default:42")
    if customer_id.startswith("magento:"):
        hid = _heartland_id_for(customer_id)
        if hid is None:
            fail(404, f"Magento customer {customer_id} is not linked to a Heartland customer yet")
        return hid
    return int(customer_id.split(":")[1])


def customer_360(hid: int) -> dict[str, Any]:
    rt = runtime()
    code = currency()
    heartland = rt.heartland
    with upstream("Heartland"):
        record = heartland.customer(hid)
        locations = {int(loc["id"]): str(loc.get("name") or "") for loc in heartland.locations()}
        tickets = list(heartland.iterate("sales/tickets", {"customer_id": hid}))
        orders = list(heartland.iterate("sales/orders", {"customer_id": hid}))
        cards = heartland.list("gift_cards", {"customer_id": hid}, per_page=100).results
    purchases: list[dict[str, Any]] = []
    refunded = returns = 0
    for t in tickets:
        if t.get("status") != "complete":
            continue
        amount = minor_units(t.get("total"), code)
        if t.get("type") == "Return":
            refunded += -amount
            returns += 1
            continue
        purchases.append({"date": parse_time(t.get("completed_at") or t.get("created_at")), "channel": "store",
                          "location": locations.get(int(t.get("source_location_id") or 0), ""),
                          "number": str(t.get("public_id") or ""), "amount": amount})
    for o in orders:
        if o.get("status") in ("cancelled", "pending"):
            continue
        ref = str((o.get("custom") or {}).get("tillbridge_ref") or "")
        channel = "web" if ref.startswith("magento:") or not ref else ref.split(":")[1]
        purchases.append({"date": parse_time(o.get("created_at")), "channel": channel,
                          "location": locations.get(int(o.get("source_location_id") or 0), ""),
                          "number": str(o.get("public_id") or ""),
                          "amount": max(minor_units(o.get("total_paid"), code), minor_units(o.get("total"), code))})
    purchases.sort(key=lambda p: p["date"])
    gross = sum(p["amount"] for p in purchases)
    channels: dict[str, dict[str, int]] = {}
    for p in purchases:
        c = channels.setdefault(p["channel"], {"orders": 0, "sales": 0})
        c["orders"] += 1
        c["sales"] += p["amount"]

    def purchase(p: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if p is None else {"date": rfc3339(p["date"]), "channel": p["channel"], "location": p["location"],
                                       "number": p["number"], "total": {"amount": p["amount"], "currency": code}}

    with rt.store.session() as s:
        links = s.execute(select(Binding.key, Binding.external_id).where(
            Binding.entity == "customer", Binding.system == "heartland", Binding.external_id == str(hid))).all()
        magento_ids = dict(s.execute(select(Binding.key, Binding.external_id).where(
            Binding.entity == "customer", Binding.system == "magento",
            Binding.key.in_([k for k, _ in links]))).all()) if links else {}
        reviews = list(s.scalars(select(CustomerReview).where(or_(CustomerReview.right_id == str(hid),
                                                                  CustomerReview.linked_id == str(hid)))))
    last = purchases[-1] if purchases else None
    return {
        "id": f"heartland:{hid}", "object": "customer", "name": _name(record), "email": record.get("email"),
        "active": bool(record.get("active", True)), "heartland": {"id": str(hid), "number": record.get("public_id")},
        "magento": [{"system": "magento" if key.startswith("magento:") else "guest", "key": key,
                     "id": magento_ids.get(key) or key.rsplit(":", 1)[-1]} for key, _ in links],
        "duplicates": [{"review_id": r.id, "state": r.state, "other": r.left_key, "score": float(r.score)}
                       for r in reviews],
        "open_reviews": sum(1 for r in reviews if r.state == "pending"),
        "lifetime_value": {"amount": gross - refunded, "currency": code}, "orders": len(purchases),
        "by_channel": [{"channel": name, "orders": c["orders"], "sales": {"amount": c["sales"], "currency": code}}
                       for name, c in sorted(channels.items())],
        "average_order_value": {"amount": gross // len(purchases) if purchases else 0, "currency": code},
        "returns": returns, "refunded": {"amount": refunded, "currency": code},
        "first_purchase": purchase(purchases[0] if purchases else None), "last_purchase": purchase(last),
        "days_since_last_order": (datetime.now(UTC) - last["date"]).days if last else None,
        "gift_cards": [{"last4": str(c.get("number") or "")[-4:], "balance": {"amount": minor_units(c.get("balance"), code),
                                                                               "currency": code},
                        "active": bool(c.get("active", True))} for c in cards],
        "created": rfc3339(record.get("created_at")),
    }
