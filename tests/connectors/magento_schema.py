"""Checks requests (and answers) against Adobe's published Magento REST schema (Swagger 2.0).

``validate_request(method, path, body, query=None) -> list[str]`` returns the problems, empty when the
request conforms. It follows reference/magento-rest-api.md §1.4 and §6:

* the path: ``/rest/<store>/V1/…`` and ``/rest/V1/…`` are normalised to ``/V1/…``; templated segments
  (``{orderId}``, ``{productSku}``…) match one segment, typed ones must have the declared type;
* the body: required top-level keys (the PHP method's arguments) must be present; no property name
  may be unknown at any level; JSON types must match the declared ones. Names compare as Magento
  compares them: snake_case and camelCase map to one UpperCamelCase name (``search_criteria`` and
  ``searchCriteria``, ``filter_groups`` and ``filterGroups``), compared exactly, so ``groupid`` is not
  ``group_id``; "required" inside data interfaces is not enforced, as Magento does not enforce it;
* the query: each parameter must be declared once indices and case are normalised (``fields`` is
  accepted everywhere, as Magento's ``fields=`` filter is not in the schema).

``validate_response(method, path, status, body)`` checks an answer against the declared 200 schema
(types and unknown names; nulls are allowed, as Magento prints them for required getters) or, for
errors, against ``error-response`` with ``parameters`` as a list or an object (§3.3).

The schema lives outside the repository: ``<repo>/../shared/reference/magento-schema/`` (CI puts the
shared folder next to the checkout), or the folder named by ``TILLBRIDGE_MAGENTO_SCHEMA_DIR``.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

SCHEMA_FILE = "adobe-commerce-admin-schema-2.4.9.json"
REPO_ROOT = Path(__file__).resolve().parents[2]
ANY_QUERY = {"fields"}
_INDEX = re.compile(r"\[\d+\]")


def schema_path() -> Path:
    folder = os.environ.get("TILLBRIDGE_MAGENTO_SCHEMA_DIR")
    base = Path(folder) if folder else REPO_ROOT.parent / "shared" / "reference" / "magento-schema"
    return base / SCHEMA_FILE


def normal(name: str) -> str:
    """Magento's key lookup: snake_case → UpperCamelCase, then an exact (case-sensitive) match, so
    ``group_id`` and ``groupId`` both mean ``GroupId`` while ``groupid`` (``Groupid``) is unknown."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def normal_query(name: str) -> str:
    return re.sub(r"[^\[\]]+", lambda m: normal(m.group(0)), _INDEX.sub("[0]", name))


class SchemaValidator:
    def __init__(self, schema: dict[str, Any], extra_paths: dict[str, Any] | None = None,
                 extra_definitions: dict[str, Any] | None = None) -> None:
        self.paths: dict[str, Any] = {**schema["paths"], **(extra_paths or {})}
        self.definitions: dict[str, Any] = {**schema["definitions"], **(extra_definitions or {})}
        self.templates: list[tuple[int, re.Pattern[str], str]] = []
        for template in self.paths:
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
            placeholders = template.count("{")
            self.templates.append((placeholders, re.compile(f"^{pattern}$"), template))
        self.templates.sort(key=lambda t: t[0])

    # -- paths -----------------------------------------------------------------------------------
    @staticmethod
    def normalise_path(path: str) -> str:
        path = path.split("?", 1)[0]
        if path.startswith("/rest/"):
            path = path[len("/rest"):]
        parts = path.split("/")
        if len(parts) > 2 and parts[1] != "V1" and parts[2] == "V1":
            del parts[1]  # the store code
        return "/".join(parts)

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any], dict[str, str]] | None:
        normalised = self.normalise_path(path)
        for _, regex, template in self.templates:
            found = regex.match(normalised)
            if found and method.lower() in self.paths[template]:
                return template, self.paths[template][method.lower()], found.groupdict()
        return None

    def resolve(self, node: Any) -> Any:
        seen = 0
        while isinstance(node, dict) and "$ref" in node:
            node = self.definitions[node["$ref"].rsplit("/", 1)[-1]]
            seen += 1
            if seen > 50:
                raise ValueError("$ref loop in the schema")
        return node

    # -- requests --------------------------------------------------------------------------------
    def validate_request(self, method: str, path: str, body: Any, query: str | dict[str, Any] | None = None) -> list[str]:
        found = self.operation(method, path)
        if found is None:
            return [f"{method} {self.normalise_path(path)}: no such path and method in the schema"]
        template, operation, values = found
        where = f"{method} {template}"
        problems: list[str] = []
        parameters = operation.get("parameters", [])
        for param in parameters:
            if param.get("in") == "path" and param["name"] in values:
                problems += self._scalar_text(values[param["name"]], param.get("type", "string"),
                                              f"{where}: path parameter {param['name']}")
        problems += self._query(where, parameters, query)
        body_param = next((p for p in parameters if p.get("in") == "body"), None)
        if body_param is None:
            if body not in (None, {}, ""):
                problems.append(f"{where}: the schema declares no body, one was sent")
            return problems
        schema = self.resolve(body_param["schema"])
        if body is None:
            body = {}
        if not isinstance(body, dict):
            return problems + [f"{where}: body must be a JSON object of the method's arguments"]
        properties = {normal(k): (k, v) for k, v in schema.get("properties", {}).items()}
        present = {normal(k) for k in body}
        for name in schema.get("required", []):
            if normal(name) not in present:
                problems.append(f"{where}: required argument {name!r} is missing")
        for key, value in body.items():
            match = properties.get(normal(key))
            if match is None:
                problems.append(f"{where}: unknown argument {key!r}")
                continue
            problems += self._value(match[1], value, f"{where}: {key}")
        return problems

    def _query(self, where: str, parameters: list[dict[str, Any]], query: str | dict[str, Any] | None) -> list[str]:
        if not query:
            return []
        pairs = parse_qsl(query, keep_blank_values=True) if isinstance(query, str) else list(query.items())
        declared = {normal_query(p["name"]): p for p in parameters if p.get("in") == "query"}
        problems = []
        for name, value in pairs:
            if name in ANY_QUERY:
                continue
            param = declared.get(normal_query(name))
            if param is None:
                problems.append(f"{where}: unknown query parameter {name!r}")
                continue
            problems += self._scalar_text(value, param.get("type", "string"), f"{where}: query {name}")
        return problems

    @staticmethod
    def _scalar_text(value: str, kind: str, where: str) -> list[str]:
        if kind == "integer" and not re.fullmatch(r"-?\d+", value):
            return [f"{where}: {value!r} is not an integer"]
        if kind == "number" and not re.fullmatch(r"-?\d+(\.\d+)?", value):
            return [f"{where}: {value!r} is not a number"]
        return []

    def _value(self, spec: Any, value: Any, where: str) -> list[str]:
        if value is None:
            return []
        spec = self.resolve(spec)
        kind = spec.get("type")
        if "properties" in spec or kind == "object":
            if not isinstance(value, dict):
                return [f"{where}: expected an object, got {type(value).__name__}"]
            properties = {normal(k): v for k, v in spec.get("properties", {}).items()}
            if not properties and spec.get("additionalProperties") is not None:
                return []
            problems = []
            for key, item in value.items():
                if normal(key) not in properties:
                    problems.append(f"{where}: unknown property {key!r}")
                    continue
                problems += self._value(properties[normal(key)], item, f"{where}.{key}")
            return problems
        if kind == "array":
            if not isinstance(value, list):
                return [f"{where}: expected an array, got {type(value).__name__}"]
            problems = []
            for n, item in enumerate(value):
                problems += self._value(spec.get("items", {}), item, f"{where}[{n}]")
            return problems
        expected = {
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "string": lambda v: isinstance(v, str),
            "boolean": lambda v: isinstance(v, bool),
        }.get(str(kind))
        if expected is not None and not expected(value):
            return [f"{where}: expected {kind}, got {type(value).__name__} {value!r}"]
        return []

    # -- responses -------------------------------------------------------------------------------
    def validate_response(self, method: str, path: str, status: int, body: Any) -> list[str]:
        found = self.operation(method, path)
        if found is None:
            return [f"{method} {self.normalise_path(path)}: no such path and method in the schema"]
        template, operation, _ = found
        where = f"{method} {template} → {status}"
        if status >= 400:
            return self._error_body(where, body)
        schema = operation.get("responses", {}).get(str(status), {}).get("schema")
        if schema is None:
            return []
        return self._response_value(schema, body, where)

    def _response_value(self, spec: Any, value: Any, where: str) -> list[str]:
        """Like request values, but custom attribute values may be arrays (multiselects)."""
        spec = self.resolve(spec)
        if spec is self.definitions.get("framework-attribute-interface") and isinstance(value, dict):
            return [f"{where}: unknown property {k!r}" for k in value if k not in ("attribute_code", "value")]
        if isinstance(value, dict) and "properties" in spec:
            problems = []
            for key, item in value.items():
                inner = spec["properties"].get(key)
                if inner is None:
                    problems.append(f"{where}: unknown property {key!r}")
                elif item is not None:
                    problems += self._response_value(inner, item, f"{where}.{key}")
            return problems
        if isinstance(value, list) and spec.get("type") == "array":
            problems = []
            for n, item in enumerate(value):
                problems += self._response_value(spec.get("items", {}), item, f"{where}[{n}]")
            return problems
        return self._value(spec, value, where)

    @staticmethod
    def _error_body(where: str, body: Any) -> list[str]:
        if not isinstance(body, dict) or not isinstance(body.get("message"), str):
            return [f"{where}: an error body needs a string 'message'"]
        problems = []
        for key in body:
            if key not in ("message", "errors", "code", "parameters", "trace"):
                problems.append(f"{where}: unknown error property {key!r}")
        if "parameters" in body and not isinstance(body["parameters"], (list, dict)):
            problems.append(f"{where}: 'parameters' must be a list or an object")
        if "errors" in body and not isinstance(body["errors"], list):
            problems.append(f"{where}: 'errors' must be a list")
        if "code" in body and not isinstance(body["code"], int):
            problems.append(f"{where}: 'code' must be an integer")
        return problems


def gift_card_paths() -> dict[str, Any]:
    """Our gift-card contract (the Tillbridge module's route) as Swagger path items, so one
    validator judges every request."""
    from service.sandbox.magento.contract import GIFT_CARD_ROUTES

    paths: dict[str, Any] = {}
    for template, methods in GIFT_CARD_ROUTES.items():
        for method, spec in methods.items():
            params: list[dict[str, Any]] = [{"name": "code", "in": "path", "type": "string"}] if "{code}" in template else []
            if spec["body"] is not None:
                params.append({"name": "body", "in": "body", "schema": spec["body"]})
            if "query" in spec:
                params += [{"name": n, "in": "query", "type": t} for n, t in spec["query"].items()]
            elif method == "get" and "{code}" not in template:
                params += [{"name": f"searchCriteria[filterGroups][0][filters][0][{n}]", "in": "query", "type": "string"}
                           for n in ("field", "value", "conditionType")]
                params += [{"name": f"searchCriteria[sortOrders][0][{n}]", "in": "query", "type": "string"}
                           for n in ("field", "direction")]
                params += [{"name": f"searchCriteria[{n}]", "in": "query", "type": "integer"}
                           for n in ("pageSize", "currentPage")]
            paths.setdefault(template, {})[method] = {"parameters": params,
                                                      "responses": {"200": {"schema": spec["response"]}}}
    return paths


@lru_cache(maxsize=1)
def default_validator() -> SchemaValidator:
    from service.sandbox.magento.contract import GIFT_CARD_DEFINITIONS

    return SchemaValidator(json.loads(schema_path().read_text(encoding="utf-8")), gift_card_paths(),
                           GIFT_CARD_DEFINITIONS)


def validate_request(method: str, path: str, body: Any, query: str | dict[str, Any] | None = None) -> list[str]:
    return default_validator().validate_request(method, path, body, query)


def validate_response(method: str, path: str, status: int, body: Any) -> list[str]:
    return default_validator().validate_response(method, path, status, body)
