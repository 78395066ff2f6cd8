"""``POST /v1/mappings/suggest``: field-mapping suggestions between two schemas.

Body::

    {"source": {"records": [...], "system": "magento"?} | {"fields": [...]} | {"csv": "..."},
     "target": (the same forms),
     "top": 3, "threshold": 0.5}

``records`` are sample records (nested objects are flattened to dotted paths); ``system`` applies
Magento's custom_attributes or Heartland's custom@ naming. ``fields`` is a list of
``{"name", "type"?, "description"?, "samples"?}``. The answer is ``Suggestions.to_json()``
(see service/ai/mapping/suggester.py): a best-first list per source field and the ``_assignment``.
Errors are 400 with ``{"error", "message", "fields": {"<field>": [why]}}``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from service.ai.mapping.model import ModelError, load_combiner
from service.ai.mapping.schema import SchemaError, fields_from_document
from service.ai.mapping.suggester import DEFAULT_TOP, suggest

MAX_FIELDS = 2000
MAX_TOP = 50

mappings_api = Blueprint("mappings_api", __name__)


def _error(status: int, error: str, message: str, fields: dict[str, list[str]] | None = None) -> Response:
    body: dict[str, Any] = {"error": error, "message": message}
    if fields:
        body["fields"] = fields
    response = jsonify(body)
    response.status_code = status
    return response


def _invalid(name: str, why: str) -> Response:
    return _error(400, "invalid_request", f"{name}: {why}", {name: [why]})


@mappings_api.post("/v1/mappings/suggest")
def suggest_mappings() -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _invalid("_body", 'send a JSON object: {"source": {...}, "target": {...}, "top": 3}')
    top = body.get("top", DEFAULT_TOP)
    if not isinstance(top, int) or isinstance(top, bool) or not 1 <= top <= MAX_TOP:
        return _invalid("top", f"must be a whole number from 1 to {MAX_TOP}")
    threshold = body.get("threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                  or not 0.0 <= threshold <= 1.0):
        return _invalid("threshold", "must be a number from 0 to 1")
    sides = {}
    for side in ("source", "target"):
        if side not in body:
            return _invalid(side, 'required: {"records": [...]}, {"fields": [...]} or {"csv": "..."}')
        try:
            fields = fields_from_document(body[side], what=side)
        except SchemaError as exc:
            return _invalid(side, str(exc))
        if not fields:
            return _invalid(side, "has no fields")
        if len(fields) > MAX_FIELDS:
            return _invalid(side, f"has {len(fields)} fields; the limit is {MAX_FIELDS}")
        sides[side] = fields
    try:
        combiner = load_combiner()
    except ModelError as exc:
        return _error(503, "model_unavailable", str(exc))
    result = suggest(sides["source"], sides["target"], top=top,
                     threshold=None if threshold is None else float(threshold), combiner=combiner)
    return jsonify(result.to_json())
