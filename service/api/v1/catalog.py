"""What /v1/products and /v1/inventory share: Heartland items by SKU (Item # = Magento SKU),
read live from Heartland, with Heartland's failures turned into the API's errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from service.api.v1.errors import fail
from service.flows.context import current
from service.kernel.errors import DataError, DestinationUnavailable, NotFoundInTargetError, SyncError

T = TypeVar("T")
SKU_PATTERN = r"^[A-Za-z0-9_.\-]{1,64}$"


def runtime() -> Any:
    return current()


def currency() -> str:
    return str(current().settings.STORE_CURRENCY or "USD")


@contextmanager
def upstream(system: str) -> Iterator[None]:
    """Calls to Heartland or Magento inside a request: their failures become 404/502/503 answers."""
    try:
        yield
    except NotFoundInTargetError as exc:
        fail(404, f"{system} has no such record: {exc}")
    except DestinationUnavailable as exc:
        fail(503, f"{system} is unavailable right now ({exc}); retry later", error="upstream_unavailable",
             headers={"Retry-After": "30"})
    except DataError as exc:
        fail(409, f"{system} refused it: {exc}", error="refused_upstream")
    except SyncError as exc:
        fail(502, f"{system} refused or failed the call: {exc}", error="upstream_error")


def item_by_sku(sku: str) -> dict[str, Any]:
    with upstream("Heartland"):
        found = runtime().heartland.find_item_by_public_id(sku)
    if found is None:
        fail(404, f"no Heartland item with Item # {sku!r} (the Magento SKU): GET /v1/products lists them")
    return dict(found)


def items_after(sku: str | None, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` Heartland items by id, after the item with Item # ``sku``."""
    after = item_by_sku(sku)["id"] if sku else None
    keyset = {"id": {"$gt": after}} if after is not None else None
    with upstream("Heartland"):
        return list(runtime().heartland.list("items", keyset, ["id"], per_page=limit).results)


def safely(system: str, call: Callable[[], T]) -> T:
    with upstream(system):
        return call()
