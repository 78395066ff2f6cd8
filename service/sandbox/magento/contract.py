"""The part of Adobe's published REST schema the sandbox serves, used to refuse what Magento refuses.

``contract.json`` is extracted from reference/magento-schema/adobe-commerce-admin-schema-2.4.9.json
(regenerate with ``python -m service.sandbox.magento.contract <schema.json>``): for every route the
sandbox serves, the body schema and the 200 response schema, plus every definition they reference.
The Tillbridge gift-card routes are not in Adobe's schema; their contract is declared here and
merged in, marked ``x-tillbridge``.

The body check follows Magento's ServiceInputProcessor: top-level keys are method arguments (camelCase
or snake_case, required ones enforced); nested keys match a property when their UpperCamelCase forms are
equal (Magento looks the setter up in a case-sensitive method map); an unknown key at any level is refused; scalars
are cast the way Magento casts them, and a value that cannot be cast is refused. "Required" inside data
interfaces is not enforced, as Magento does not enforce it.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

CONTRACT_FILE = Path(__file__).with_name("contract.json")

# (method, path template) of every core route the sandbox serves, spelled as in Adobe's schema.
SERVED_ROUTES: list[tuple[str, str]] = [
    ("post", "/V1/integration/admin/token"),
    ("get", "/V1/orders"),
    ("post", "/V1/orders"),
    ("get", "/V1/orders/{id}"),
    ("get", "/V1/orders/{id}/comments"),
    ("post", "/V1/orders/{id}/comments"),
    ("post", "/V1/orders/{id}/hold"),
    ("post", "/V1/orders/{id}/unhold"),
    ("post", "/V1/orders/{id}/cancel"),
    ("get", "/V1/orders/{id}/statuses"),
    ("post", "/V1/order/{orderId}/invoice"),
    ("post", "/V1/order/{orderId}/ship"),
    ("post", "/V1/order/{orderId}/refund"),
    ("get", "/V1/invoices"),
    ("get", "/V1/invoices/{id}"),
    ("get", "/V1/shipments"),
    ("get", "/V1/shipment/{id}"),
    ("post", "/V1/shipment/track"),
    ("get", "/V1/creditmemos"),
    ("get", "/V1/creditmemo/{id}"),
    ("get", "/V1/customers/search"),
    ("post", "/V1/customers"),
    ("get", "/V1/customers/{customerId}"),
    ("put", "/V1/customers/{customerId}"),
    ("get", "/V1/products"),
    ("post", "/V1/products"),
    ("get", "/V1/products/{sku}"),
    ("put", "/V1/products/{sku}"),
    ("get", "/V1/stockItems/{productSku}"),
    ("put", "/V1/products/{productSku}/stockItems/{itemId}"),
    ("get", "/V1/inventory/source-items"),
    ("post", "/V1/inventory/source-items"),
    ("get", "/V1/products/attributes/{attributeCode}"),
    ("get", "/V1/products/attributes/{attributeCode}/options"),
    ("post", "/V1/products/attributes/{attributeCode}/options"),
    ("get", "/V1/configurable-products/{sku}/options/all"),
    ("post", "/V1/configurable-products/{sku}/options"),
    ("get", "/V1/configurable-products/{sku}/children"),
    ("post", "/V1/configurable-products/{sku}/child"),
]

# Our own route, implemented by the Tillbridge Magento module (magento-module/) on top of
# Magento_GiftCardAccount; shaped like Adobe's SaaS gift-card-account contract.
GIFT_CARD_DEFINITIONS: dict[str, Any] = {
    "tillbridge-data-gift-card-interface": {
        "type": "object",
        "x-tillbridge": True,
        "required": ["code"],
        "properties": {
            "id": {"type": "integer"},
            "code": {"type": "string"},
            "balance": {"type": "number"},
            "currency_code": {"type": "string"},
            "status": {"type": "integer", "description": "1 enabled, 0 disabled"},
            "state": {"type": "integer", "description": "0 available, 1 used, 2 redeemed, 3 expired"},
            "is_redeemable": {"type": "boolean"},
            "date_expires": {"type": "string"},
            "website_id": {"type": "integer"},
            "created_at": {"type": "string"},
            "updated_at": {"type": "string"},
        },
    },
    "tillbridge-data-gift-card-adjustment-interface": {
        "type": "object",
        "x-tillbridge": True,
        "required": ["amount", "idempotency_key"],
        "properties": {
            "amount": {"type": "number", "description": "signed delta added to the balance"},
            "idempotency_key": {"type": "string"},
            "reason": {"type": "string"},
        },
    },
    "tillbridge-data-gift-card-history-interface": {
        "type": "object",
        "x-tillbridge": True,
        "required": ["id", "code", "action", "balance_delta", "balance_amount", "updated_at"],
        "properties": {
            "id": {"type": "integer", "description": "history_id: grows with every balance change"},
            "code": {"type": "string"},
            "action": {"type": "string", "description": "created, used, sent, redeemed, expired or updated"},
            "balance_delta": {"type": "number"},
            "balance_amount": {"type": "number", "description": "the balance after this change"},
            "updated_at": {"type": "string", "description": "Y-m-d H:i:s UTC"},
            "idempotency_key": {"type": "string", "description": "set when applied through the adjustments route"},
            "reason": {"type": "string"},
        },
    },
    "tillbridge-data-gift-card-search-results-interface": {
        "type": "object",
        "x-tillbridge": True,
        "required": ["items", "search_criteria", "total_count"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/definitions/tillbridge-data-gift-card-interface"}},
            "search_criteria": {"$ref": "#/definitions/framework-search-criteria-interface"},
            "total_count": {"type": "integer"},
        },
    },
}

_CARD = {"$ref": "#/definitions/tillbridge-data-gift-card-interface"}
GIFT_CARD_ROUTES: dict[str, dict[str, Any]] = {
    "/V1/tillbridge/giftcards": {
        "get": {"body": None, "response": {"$ref": "#/definitions/tillbridge-data-gift-card-search-results-interface"}},
        "post": {
            "body": {"type": "object", "required": ["giftCard"], "properties": {"giftCard": _CARD}},
            "response": _CARD,
        },
    },
    "/V1/tillbridge/giftcards/{code}": {"get": {"body": None, "response": _CARD}},
    "/V1/tillbridge/giftcards/{code}/adjustments": {
        "post": {
            "body": {
                "type": "object",
                "required": ["adjustment"],
                "properties": {"adjustment": {"$ref": "#/definitions/tillbridge-data-gift-card-adjustment-interface"}},
            },
            "response": _CARD,
        }
    },
    "/V1/tillbridge/giftcard-history": {
        "get": {"body": None, "query": {"code": "string", "since": "string", "afterId": "integer", "pageSize": "integer"},
                "response": {
            "type": "array", "items": {"$ref": "#/definitions/tillbridge-data-gift-card-history-interface"}}},
    },
}


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.append(value.rsplit("/", 1)[-1])
            else:
                found.extend(_refs(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_refs(value))
    return found


def extract(schema: dict[str, Any]) -> dict[str, Any]:
    """The served routes of a full Swagger document, with the definitions they reach."""
    paths: dict[str, dict[str, Any]] = {}
    for method, template in SERVED_ROUTES:
        operation = schema["paths"][template][method]
        body = next((p["schema"] for p in operation.get("parameters", []) if p.get("in") == "body"), None)
        if body is not None:
            body = {k: v for k, v in body.items() if k != "xml"}
        response = operation.get("responses", {}).get("200", {}).get("schema")
        paths.setdefault(template, {})[method] = {"body": body, "response": response}
    definitions: dict[str, Any] = {}
    pending = _refs(paths)
    while pending:
        name = pending.pop()
        if name in definitions:
            continue
        definitions[name] = schema["definitions"][name]
        pending.extend(_refs(definitions[name]))
    return {"source": "adobe-commerce-admin-schema-2.4.9.json", "paths": paths, "definitions": definitions}


@dataclass
class BodyProblem:
    """Why a body was refused: ``kind`` is "required", "unknown" or "type"."""

    kind: str
    path: str
    detail: str


def normalise_name(name: str) -> str:
    """snake_case → UpperCamelCase, as Magento turns a key into its setter name (``group_id`` and
    ``groupId`` are ``GroupId``); the comparison is then exact, so ``groupid`` is unknown."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


class Contract:
    def __init__(self, data: dict[str, Any]) -> None:
        self.paths: dict[str, dict[str, Any]] = {**data["paths"], **GIFT_CARD_ROUTES}
        self.definitions: dict[str, Any] = {**data["definitions"], **GIFT_CARD_DEFINITIONS}
        self._props: dict[int, dict[str, tuple[str, Any]]] = {}

    def operation(self, method: str, template: str) -> dict[str, Any] | None:
        return self.paths.get(template, {}).get(method.lower())

    def resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            node = self.definitions[node["$ref"].rsplit("/", 1)[-1]]
        return node

    def _properties(self, node: dict[str, Any]) -> dict[str, tuple[str, Any]]:
        key = id(node)
        table = self._props.get(key)
        if table is None:
            table = {normalise_name(name): (name, spec) for name, spec in node.get("properties", {}).items()}
            self._props[key] = table
        return table

    def check_body(self, method: str, template: str, body: Any) -> list[BodyProblem]:
        operation = self.operation(method, template)
        if operation is None or operation["body"] is None:
            return []
        schema = self.resolve(operation["body"])
        if not isinstance(body, dict):
            return [BodyProblem("type", "", "the request body must be a JSON object of the method's arguments")]
        problems: list[BodyProblem] = []
        table = self._properties(schema)
        present = {normalise_name(k) for k in body}
        for name in schema.get("required", []):
            if normalise_name(name) not in present:
                problems.append(BodyProblem("required", name, name))
        for key, value in body.items():
            match = table.get(normalise_name(key))
            if match is None:
                problems.append(BodyProblem("unknown", key, key))
                continue
            self._check(match[1], value, key, problems)
        return problems

    def _check(self, spec: Any, value: Any, where: str, problems: list[BodyProblem]) -> None:
        if value is None:
            return
        spec = self.resolve(spec)
        kind = spec.get("type")
        if kind == "object" or "properties" in spec:
            if not isinstance(value, dict):
                problems.append(BodyProblem("type", where, "object"))
                return
            table = self._properties(spec)
            if not table and spec.get("additionalProperties") is not None:
                return
            for key, item in value.items():
                match = table.get(normalise_name(key))
                if match is None:
                    problems.append(BodyProblem("unknown", f"{where}.{key}", key))
                    continue
                self._check(match[1], item, f"{where}.{key}", problems)
        elif kind == "array":
            if not isinstance(value, list):
                problems.append(BodyProblem("type", where, "array"))
                return
            for n, item in enumerate(value):
                self._check(spec.get("items", {}), item, f"{where}[{n}]", problems)
        elif kind in ("integer", "number", "boolean") and not castable(value, kind):
            problems.append(BodyProblem("type", where, kind))


_INT = re.compile(r"^-?\d+$")
_NUM = re.compile(r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def castable(value: Any, kind: str) -> bool:
    """Whether Magento's TypeProcessor would accept the value for a scalar of that type."""
    if isinstance(value, (dict, list)):
        return False
    if kind == "integer":
        if isinstance(value, bool):
            return True
        if isinstance(value, int):
            return True
        if isinstance(value, float):
            return value.is_integer()
        return isinstance(value, str) and bool(_INT.match(value.strip()))
    if kind == "number":
        if isinstance(value, (int, float)):
            return True
        return isinstance(value, str) and bool(_NUM.match(value.strip()))
    if kind == "boolean":
        return isinstance(value, (bool, int)) or (isinstance(value, str) and value.lower() in ("true", "false", "0", "1", ""))
    return True


@lru_cache(maxsize=1)
def load() -> Contract:
    return Contract(json.loads(CONTRACT_FILE.read_text(encoding="utf-8")))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m service.sandbox.magento.contract <adobe-commerce-admin-schema-2.4.9.json>")
        return 2
    schema = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    CONTRACT_FILE.write_text(json.dumps(extract(schema), indent=None, separators=(",", ":"), sort_keys=True))
    print(f"wrote {CONTRACT_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
