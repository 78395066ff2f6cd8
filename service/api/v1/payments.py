"""/v1/payments: the payments and refunds of an order across both systems.

Magento's side is the order as Tillbridge last read it (method, amounts paid and refunded, card
type and last 4); Heartland's is read live (the order's deposits and captures, with the
processor's transaction id the payments flow records, and the payments on its invoices). Capture
and refund stay with the payments and refunds flows, started from Magento.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from service.api.v1.catalog import currency, runtime, upstream
from service.api.v1.conventions import page_of, rfc3339
from service.api.v1.orders import get_order
from service.api.v1.schemas import MoneySchema
from service.canonical.money import money

blp = Blueprint("v1_payments", __name__, url_prefix="/v1/payments",
                description="Payments and refunds per order, across both systems")


class PaymentOut(Schema):
    id = fields.String(required=True)
    object = fields.Constant("payment", required=True, metadata={"type": "string", "enum": ["payment"]})
    order = fields.String(required=True)
    system = fields.String(required=True, metadata={"enum": ["magento", "heartland"]})
    kind = fields.String(required=True, metadata={"enum": ["payment", "refund", "deposit"]})
    status = fields.String(required=True)
    amount = fields.Nested(MoneySchema, required=True)
    method = fields.String(required=True)
    transaction_id = fields.String(allow_none=True)
    card_last4 = fields.String(allow_none=True)
    created = fields.String(allow_none=True, metadata={"format": "date-time"})


class PaymentList(Schema):
    object = fields.Constant("list", required=True, metadata={"type": "string", "enum": ["list"]})
    url = fields.String(required=True)
    has_more = fields.Boolean(required=True)
    data = fields.List(fields.Nested(PaymentOut), required=True)


class PaymentArgs(Schema):
    order = fields.String(required=True, validate=validate.Length(min=3, max=200),
                          metadata={"description": "an order id, as /v1/orders gives it"})


def payments_of(order_id: str) -> list[dict[str, Any]]:
    order = get_order(order_id)
    out: list[dict[str, Any]] = []
    data = _magento_data(order_id)
    payment = data.get("payment") or {}
    code = str(data.get("order_currency_code") or currency())
    if payment:
        out.append({"id": f"magento:{order_id}:paid", "object": "payment", "order": order_id, "system": "magento",
                    "kind": "payment", "status": "succeeded" if payment.get("amount_paid") else "pending",
                    "amount": money(payment.get("amount_paid") or payment.get("amount_ordered") or 0, code),
                    "method": str(payment.get("method") or ""), "transaction_id": payment.get("last_trans_id"),
                    "card_last4": payment.get("cc_last4"), "created": rfc3339(data.get("created_at"))})
        if payment.get("amount_refunded"):
            out.append({"id": f"magento:{order_id}:refunded", "object": "payment", "order": order_id,
                        "system": "magento", "kind": "refund", "status": "succeeded",
                        "amount": money(payment.get("amount_refunded"), code), "method": str(payment.get("method") or ""),
                        "transaction_id": None, "card_last4": payment.get("cc_last4"), "created": None})
    if order["heartland"] is not None:
        heartland = runtime().heartland
        hid = int(order["heartland"]["id"])
        with upstream("Heartland"):
            rows = [("order", p) for p in heartland.sales_order_payments(hid)]
            rows += [("invoice", p) for invoice in heartland.invoices_with_payments(hid)
                     for p in invoice.get("payments") or []]
        for where, p in rows:
            custom = p.get("custom") or {}
            amount = money(p.get("amount"), currency())
            out.append({"id": f"heartland:payment:{p['id']}", "object": "payment", "order": order_id,
                        "system": "heartland",
                        "kind": "refund" if amount["amount"] < 0 else ("deposit" if p.get("deposit") else "payment"),
                        "status": "failed" if p.get("status") == "failed" else "succeeded", "amount": amount,
                        "method": str(p.get("payment_type_name") or p.get("type") or where),
                        "transaction_id": custom.get("transaction_id"), "card_last4": custom.get("card_last4"),
                        "created": rfc3339(p.get("completed_at") or p.get("created_at"))})
    return out


def _magento_data(order_id: str) -> dict[str, Any]:
    from service.api.v1.orders import _latest_payload

    if not order_id.startswith("magento:"):
        return {}
    return dict((_latest_payload(order_id) or {}).get("data") or {})


class PaymentAction(Schema):
    order = fields.String(required=True, validate=validate.Length(min=3, max=200))
    action = fields.String(required=True, validate=validate.OneOf(["capture", "refund"]),
                           metadata={"description": "capture: invoice and capture what Magento authorised; "
                                                    "refund: an offline credit memo for what is refundable"})


def _follow(flow: str, entity_key: str, label: str, envelope: dict[str, Any], version: str) -> int:
    from service.store import items

    rt = runtime()
    with rt.store.session() as s:
        item = items.create(s, flow=flow, direction="magento→heartland", entity_key=entity_key, label=label,
                            payload=envelope, source_version=version)
        item_id = item.id
    rt.enqueue([item_id])
    return item_id


def act(order_id: str, action: str) -> None:
    """Capture or refund in Magento (which owns the order's money), then have the flow follow into Heartland."""
    from service.api.v1.errors import fail
    from service.flows.order_polling import entity_key, envelope

    if not order_id.startswith("magento:"):
        fail(422, f"order {order_id} is not a web order: take its payment in Heartland", fields={"order": ["not web"]})
    get_order(order_id)
    _, store_code, magento_id = order_id.split(":", 2)
    magento = runtime().magento
    with upstream("Magento"):
        if action == "capture":
            magento.invoice(int(magento_id), capture=True)
            current = magento.order(int(magento_id))
            _follow("orders", entity_key(store_code, magento_id), f"order #{current.get('increment_id')} (captured "
                    "through the API)", envelope(current, store_code), str(current.get("updated_at") or ""))
        else:
            current = magento.order(int(magento_id))
            refundable = {int(i["item_id"]): float(i.get("qty_ordered") or 0) - float(i.get("qty_refunded") or 0)
                          for i in current.get("items") or [] if not i.get("parent_item_id")}
            memo_id = magento.refund(int(magento_id), {k: v for k, v in refundable.items() if v > 0})
            memo = magento.creditmemo(memo_id)
            _follow("refunds", f"refunds:magento:{store_code}:{memo_id}", f"creditmemo {memo.get('increment_id')} "
                    "(refunded through the API)", {"event": "creditmemo.created", "store_code": store_code,
                                                   "occurred_at": str(memo.get("created_at") or ""), "data": memo},
                    str(memo.get("updated_at") or ""))


@blp.route("")
class Payments(MethodView):
    @blp.arguments(PaymentArgs, location="query")
    @blp.response(200, PaymentList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Payments and refunds of one order, in both systems"""
        rows = payments_of(args["order"])
        return page_of(rows, max(1, len(rows)))

    @blp.arguments(PaymentAction)
    @blp.response(202, PaymentList)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Capture or refund a web order's payment in Magento; the payments or refunds flow carries it to Heartland"""
        act(body["order"], body["action"])
        rows = payments_of(body["order"])
        return page_of(rows, max(1, len(rows)))
