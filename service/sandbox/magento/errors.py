"""Errors shaped the way Magento's REST layer renders them.

``message`` keeps its placeholders unsubstituted; ``parameters`` is an object for named
placeholders (``%fieldName``) and a list for positional ones (``%1``); ``errors`` lists the parts of
an aggregate error. The HTTP status follows Magento's ErrorProcessor: NoSuchEntity → 404,
authentication/authorization → 401, any other localized exception → 400.
"""

from __future__ import annotations

from typing import Any

from service.sandbox.harness import SandboxError


class MagentoError(SandboxError):
    def __init__(
        self,
        message: str,
        parameters: dict[str, Any] | list[Any] | None = None,
        *,
        status: int = 400,
        errors: list[dict[str, Any]] | None = None,
        code: int = 0,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.parameters = parameters
        self.status = status
        self.errors = errors
        self.code = code

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.errors:
            out["errors"] = self.errors
        if self.code:
            out["code"] = self.code
        if self.parameters is not None and self.parameters != [] and self.parameters != {}:
            out["parameters"] = self.parameters
        return out


def not_authorized(resource: str) -> MagentoError:
    return MagentoError(
        "The consumer isn't authorized to access %resources.", {"resources": resource}, status=401
    )


def required_field(name: str) -> MagentoError:
    return MagentoError('"%fieldName" is required. Enter and try again.', {"fieldName": name})


def no_such_entity(field_name: str, value: Any) -> MagentoError:
    return MagentoError(
        "No such entity with %fieldName = %fieldValue", {"fieldName": field_name, "fieldValue": value}, status=404
    )


def entity_missing() -> MagentoError:
    """What the sales repositories (orders, invoices, credit memos, shipments) answer for an unknown id."""
    return MagentoError("The entity that was requested doesn't exist. Verify the entity and try again.", status=404)


def product_missing() -> MagentoError:
    return MagentoError(
        "The product that was requested doesn't exist. Verify the product and try again.", status=404
    )


def no_route() -> MagentoError:
    return MagentoError("Request does not match any route.", status=404)


def invalid_type(value: Any, expected: str) -> MagentoError:
    return MagentoError(
        'The "%value" value\'s type is invalid. The "%type" type was expected. Verify and try again.',
        {"value": value, "type": expected},
    )
