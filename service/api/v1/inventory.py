"""/v1/inventory: stock per SKU and Heartland location, and what Magento sells; with each location's
last nightly stock forecast (service/forecasts.py): demand, days of cover, sell-out risk, reorder.

Heartland owns stock. An adjustment (PUT) goes to Heartland as one adjustment set carrying an
idempotency key (a retry applies it once), then the inventory flow writes the new salable
quantity (qty_available over the selling locations, rules/inventory.yaml) to Magento.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from flask import g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from service.api.v1.catalog import item_by_sku, items_after, runtime, upstream
from service.api.v1.conventions import ListArgs, list_schema, page_of
from service.api.v1.errors import fail
from service.flows.inventory import InventoryFlow, StockChange, record_changes
from service.operations import forecasts as stock_forecasts

blp = Blueprint("v1_inventory", __name__, url_prefix="/v1/inventory",
                description="Stock per SKU and location (Heartland) and salable quantity (Magento)")


class StockForecastOut(Schema):
    as_of = fields.String(required=True, metadata={"description": "the last day of sales history the forecast used"})
    pattern = fields.String(required=True, metadata={"description": "demand pattern: smooth, erratic, intermittent, "
                                                                    "lumpy or sparse"})
    method = fields.String(required=True, metadata={"description": "the model fitted: AutoETS, CrostonSBA, IMAPA, "
                                                                   "Average"})
    daily_demand = fields.Float(required=True, metadata={"description": "forecast units per day"})
    days_of_cover = fields.Float(allow_none=True, metadata={"description": "available / daily demand at the run "
                                                                           "(null: nothing is expected to sell)"})
    lead_days = fields.Integer(required=True, metadata={"description": "lead time, rules/forecast.yaml"})
    at_risk = fields.Boolean(required=True, metadata={"description": "sells out before a delivery ordered now "
                                                                     "arrives (days of cover < lead time)"})
    safety_stock = fields.Float(required=True)
    reorder_qty = fields.Integer(required=True, metadata={"description": "suggested order: demand over lead time "
                                                                         "and review period + safety stock − available"})


class LocationStock(Schema):
    location_id = fields.Integer(required=True)
    location = fields.String(required=True)
    selling = fields.Boolean(required=True, metadata={"description": "counted in Magento's salable quantity"})
    on_hand = fields.Float(required=True)
    committed = fields.Float(required=True)
    available = fields.Float(required=True)
    forecast = fields.Nested(StockForecastOut, allow_none=True,
                             metadata={"description": "the last nightly stock forecast (null: none yet, or the SKU "
                                                      "did not sell here in the history read)"})


class InventoryOut(Schema):
    id = fields.String(required=True, metadata={"description": "the SKU"})
    object = fields.Constant("inventory", required=True, metadata={"type": "string", "enum": ["inventory"]})
    sku = fields.String(required=True)
    locations = fields.List(fields.Nested(LocationStock), required=True)
    salable = fields.Float(required=True, metadata={"description": "what Magento should sell: available over the "
                                                                   "selling locations"})
    magento_qty = fields.Float(allow_none=True, metadata={"description": "what Magento has now (null: not asked, "
                                                                         "or no such product there)"})
    in_step = fields.Boolean(allow_none=True)


InventoryList = list_schema(InventoryOut, "InventoryList")


class InventoryArgs(Schema):
    with_magento = fields.Boolean(load_default=False, metadata={"description": "also read Magento's quantity"})


class AdjustIn(Schema):
    location_id = fields.Integer(required=True, validate=validate.Range(min=1))
    adjust_by = fields.Integer(required=True, validate=validate.Range(min=-10**6, max=10**6),
                               metadata={"description": "the change: +5 received, -2 damaged"})
    reason = fields.String(load_default="", validate=validate.Length(max=64),
                           metadata={"description": "a Heartland adjustment reason by name (default: the first)"})
    note = fields.String(load_default="", validate=validate.Length(max=200))


def _flow() -> InventoryFlow:
    flow = runtime().flow("inventory")
    assert isinstance(flow, InventoryFlow)
    return flow


def inventory_objects(records: list[dict[str, Any]], with_magento: bool) -> list[dict[str, Any]]:
    rt = runtime()
    with upstream("Heartland"):
        locations = {int(loc["id"]): str(loc.get("name") or loc["id"]) for loc in rt.heartland.locations()}
        selling = set(_flow().stock_rules().location_ids)
        rows = rt.heartland.inventory_values([int(r["id"]) for r in records]) if records else []
    forecasts = {(f.sku, f.location_id): f for found in stock_forecasts.by_sku(
        rt.store, [str(r["public_id"]) for r in records]).values() for f in found}
    latest = stock_forecasts.latest_run(rt.store) if forecasts else None
    by_item: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_item.setdefault(int(row["item_id"]), []).append(row)
    out = []
    for record in records:
        stock: list[dict[str, Any]] = [{"location_id": int(row["location_id"]), "location": locations.get(int(row["location_id"]), ""),
                  "selling": int(row["location_id"]) in selling, "on_hand": float(row.get("qty_on_hand") or 0),
                  "committed": float(row.get("qty_committed") or 0), "available": float(row.get("qty_available") or 0),
                  "forecast": _forecast(forecasts.get((record["public_id"], int(row["location_id"]))), latest)}
                 for row in sorted(by_item.get(int(record["id"]), []), key=lambda r: int(r["location_id"]))]
        salable = sum(s["available"] for s in stock if s["selling"])
        magento_qty: float | None = None
        if with_magento:
            try:
                magento_qty = float(rt.magento.stock_item(record["public_id"]).get("qty") or 0)
            except Exception:  # noqa: BLE001 - unknown in Magento (or Magento down): say so with null
                magento_qty = None
        out.append({"id": record["public_id"], "object": "inventory", "sku": record["public_id"], "locations": stock,
                    "salable": salable, "magento_qty": magento_qty,
                    "in_step": None if magento_qty is None else abs(magento_qty - salable) < 1e-6})
    return out


def _forecast(row: Any, run: Any) -> dict[str, Any] | None:
    if row is None or run is None:
        return None
    return {"as_of": run.history_to, "pattern": row.pattern, "method": row.method, "daily_demand": row.daily_demand,
            "days_of_cover": row.days_of_cover, "lead_days": row.lead_days, "at_risk": row.at_risk,
            "safety_stock": row.safety_stock, "reorder_qty": row.reorder_qty}


@blp.route("")
class Inventory(MethodView):
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, InventoryList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Stock of every SKU, in Heartland's order"""
        found = [r for r in items_after(args.get("starting_after"), args["limit"] + 1) if r.get("public_id")]
        return page_of(inventory_objects(found, with_magento=False), args["limit"])


@blp.route("/<string:sku>")
class SkuInventory(MethodView):
    @blp.arguments(InventoryArgs, location="query")
    @blp.response(200, InventoryOut)
    def get(self, args: dict[str, Any], sku: str) -> dict[str, Any]:
        """Stock of one SKU per location, and Magento's quantity with `with_magento=true`"""
        return inventory_objects([item_by_sku(sku)], with_magento=args["with_magento"])[0]

    @blp.arguments(AdjustIn)
    @blp.response(202, InventoryOut)
    def put(self, body: dict[str, Any], sku: str) -> Any:
        """Adjust stock in Heartland (one adjustment set); Magento follows through the inventory flow"""
        record = item_by_sku(sku)
        rt = runtime()
        if body["adjust_by"] == 0:
            fail(422, "adjust_by is 0: nothing to change", fields={"adjust_by": ["must not be 0"]})
        with upstream("Heartland"):
            if int(body["location_id"]) not in {int(loc["id"]) for loc in rt.heartland.locations()}:
                fail(422, f"Heartland has no location {body['location_id']}", fields={"location_id": ["unknown"]})
            reasons = rt.heartland.adjustment_reasons()
            wanted = body["reason"].strip().casefold()
            reason = next((r for r in reasons if wanted and str(r.get("name", "")).casefold() == wanted),
                          reasons[0] if reasons and not wanted else None)
            if reason is None:
                fail(422, f"Heartland has no adjustment reason {body['reason']!r}: use one of "
                     f"{', '.join(str(r.get('name')) for r in reasons)}", fields={"reason": ["unknown"]})
            # The key makes a retried request (same Idempotency-Key) find the set it made, not add another.
            given = request.headers.get("Idempotency-Key")
            key = "api:" + hashlib.sha256(f"{g.api_caller.key}:{given}".encode()).hexdigest()[:32] if given \
                else f"api:{uuid.uuid4().hex}"
            rt.heartland.adjust_inventory(int(body["location_id"]), int(reason["id"]),
                                          [{"item_id": int(record["id"]), "qty": body["adjust_by"]}], key=key,
                                          description=body["note"] or f"through the Tillbridge API by {g.api_caller.actor}")
            ledger = rt.heartland.list("inventory/transactions", {"item_id": int(record["id"])}, ["-id"],
                                       per_page=1).results
        version = int(ledger[0]["id"]) if ledger else 0
        with rt.store.session() as s:
            due = record_changes(s, [StockChange(int(record["id"]), version)])
        if due:
            rt.enqueue(due)
        return inventory_objects([record], with_magento=False)[0], 202
