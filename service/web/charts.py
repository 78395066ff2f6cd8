"""The charts' data: a flow's (or every flow's) figures over a time window (service/operations/timeseries.py)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, request

from service.flows.context import current
from service.operations import timeseries
from service.web.auth import require_role

bp = Blueprint("charts", __name__)


@bp.get("/charts/data")
@require_role()
def data() -> Any:
    runtime = current()
    window = request.args.get("window") or "1h"
    if window not in timeseries.WINDOWS:
        abort(400, description=f"window must be one of {', '.join(timeseries.WINDOWS)}")
    flow = (request.args.get("flow") or "").strip() or None
    found = timeseries.series(runtime, window=window, flow=flow)
    return jsonify({"window": window, "flow": flow or "all", **found.as_dict()})
