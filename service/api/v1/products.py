"""/v1/products: the catalogue as Heartland owns it (Item # = Magento SKU), with its Magento state.

A price change goes to Heartland (the owner) and then follows to Magento through the products flow.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from service.api.v1.catalog import currency, item_by_sku, items_after, runtime, upstream
from service.api.v1.conventions import ListArgs, list_schema, page_of, rfc3339
from service.api.v1.schemas import MoneySchema
from service.canonical.money import major_units, money
from service.flows.products import ENTITY, SYSTEM, binding_key
from service.store import bindings, items

blp = Blueprint("v1_products", __name__, url_prefix="/v1/products",
                description="Products as Heartland owns them, with their Magento state")


class ProductOut(Schema):
    id = fields.String(required=True, metadata={"description": "the SKU (Heartland Item #)"})
    object = fields.Constant("product", required=True, metadata={"type": "string", "enum": ["product"]})
    sku = fields.String(required=True)
    name = fields.String(required=True)
    active = fields.Boolean(required=True)
    available_online = fields.Boolean(required=True)
    price = fields.Nested(MoneySchema, required=True)
    original_price = fields.Nested(MoneySchema, allow_none=True)
    heartland = fields.Dict(required=True, metadata={"description": "{id}"})
    magento = fields.Dict(allow_none=True, required=True, metadata={"description": "{id, synced_version} once synced"})
    updated = fields.String(allow_none=True, metadata={"format": "date-time"})


ProductList = list_schema(ProductOut, "ProductList")


class PriceIn(Schema):
    price = fields.Integer(required=True, validate=validate.Range(min=0, max=10**10),
                           metadata={"description": "minor units, in STORE_CURRENCY"})
    original_price = fields.Integer(validate=validate.Range(min=0, max=10**10),
                                    metadata={"description": "the price before a sale (minor units)"})


def product_object(record: dict[str, Any]) -> dict[str, Any]:
    code = currency()
    bound = bindings.find(runtime().store, ENTITY, binding_key(record["id"]), SYSTEM)
    return {
        "id": record["public_id"], "object": "product", "sku": record["public_id"],
        "name": record.get("description") or "", "active": bool(record.get("active", True)),
        "available_online": bool(record.get("available_online", True)), "price": money(record.get("price"), code),
        "original_price": money(record["original_price"], code) if record.get("original_price") is not None else None,
        "heartland": {"id": str(record["id"])},
        "magento": {"id": bound.external_id, "synced_version": bound.source_version} if bound else None,
        "updated": rfc3339(record.get("updated_at")),
    }


@blp.route("")
class Products(MethodView):
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, ProductList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List products (Heartland items), in Heartland's order"""
        found = [r for r in items_after(args.get("starting_after"), args["limit"] + 1) if r.get("public_id")]
        return page_of([product_object(r) for r in found], args["limit"])


@blp.route("/<string:sku>")
class Product(MethodView):
    @blp.response(200, ProductOut)
    def get(self, sku: str) -> dict[str, Any]:
        """One product by SKU"""
        return product_object(item_by_sku(sku))

    @blp.arguments(PriceIn)
    @blp.response(200, ProductOut)
    def put(self, body: dict[str, Any], sku: str) -> dict[str, Any]:
        """Change a product's price in Heartland; Magento follows through the products flow"""
        record = item_by_sku(sku)
        code = currency()
        change = {"price": float(major_units(body["price"], code))}
        if "original_price" in body:
            change["original_price"] = float(major_units(body["original_price"], code))
        rt = runtime()
        with upstream("Heartland"):
            updated = rt.heartland.update_item(int(record["id"]), change) or rt.heartland.item(int(record["id"]))
        if "public_id" not in updated:
            updated = {**record, **change}
        with rt.store.session() as s:
            item = items.create(s, flow="products", direction="heartland→magento",
                                entity_key=f"products:heartland:item:{record['id']}",
                                label=f"product {sku} (price set through the API)",
                                payload={"kind": "item", "id": record["id"], "record": {}},
                                source_version=str(updated.get("updated_at") or ""))
            item_id = item.id
        rt.enqueue([item_id])
        return product_object(updated)
