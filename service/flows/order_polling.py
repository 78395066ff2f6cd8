"""The orders flow's polling backstop: Magento orders updated since the cursor (``magento:orders``).

Webhooks get lost (the module's outbox is down, a delivery gives up), so the scheduler also asks
Magento which orders changed. Each becomes the sync item its ``order.updated`` event would have
made: entity key ``orders:magento:<store code>:<entity id>``, the whole order as the event's data,
version ``updated_at``. A change an item already covers (one for that order at this version or
later, from the webhook or an earlier poll's overlap) gets none. The orders flow decides the rest,
as it does for an event: a new order syncs, one already in Heartland is ignored with that reason,
a cancelled one cancels its Heartland order.

An order names its store by id; the store code in the key and in our reference on the Heartland
order (``magento:<store code>:<number>``) comes from Magento's store views, so a polled order
and its event are the same item, and never two Heartland orders.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from service.engine.polling import Poller
from service.flows.checks.duplicates import utc_text
from service.flows.registry import poller
from service.kernel.errors import DataError
from service.store import items

if TYPE_CHECKING:
    from service.flows.context import Context

POLL_RESOURCE = "magento:orders"
FLOW = "orders"
EVENT = "order.updated"


def entity_key(store_code: str, entity_id: Any) -> str:
    """The key service/api/webhooks.py gives an order event's item."""
    return f"{FLOW}:magento:{store_code}:{entity_id}"


def envelope(order: dict[str, Any], store_code: str) -> dict[str, Any]:
    """The order as its ``order.updated`` event carries it."""
    return {"event": EVENT, "occurred_at": str(order.get("updated_at") or ""), "store_code": store_code,
            "data": order}


def store_code_of(order: dict[str, Any], codes: dict[int, str], what: str = "order") -> str:
    """The store code the module's event for this record carries: its store view's code, by id."""
    store_id = int(order.get("store_id") or 0)
    code = codes.get(store_id)
    if not code:
        number = order.get("increment_id") or order.get("email") or order.get("entity_id") or order.get("id")
        raise DataError(f"Magento {what} {number} is in store id {store_id}, which "
                        "GET /V1/store/storeViews does not list",
                        hint="check the store view exists in Magento; the poll retries on its next run")
    return code


def covered(last_version: str, version: str) -> bool:
    """Whether an item at ``last_version`` already carries the order as of ``version``."""
    mine, last = utc_text(version), utc_text(last_version)
    return bool(mine and last) and last >= mine


def record_order_changes(session: Session, envelopes: Sequence[dict[str, Any]]) -> list[int]:
    """Sync items for polled orders not yet covered; returns the ids to enqueue."""
    by_key = {entity_key(e["store_code"], e["data"]["entity_id"]): e for e in envelopes}
    newest = items.latest_by_key(session, FLOW, list(by_key), by="version")
    created = []
    for key, event in by_key.items():
        order = event["data"]
        version = str(order.get("updated_at") or "")
        last = newest.get(key)
        if last is not None and covered(last.source_version, version):
            continue
        item = items.create(session, flow=FLOW, direction="magento→heartland", entity_key=key,
                            label=f"order #{order.get('increment_id') or order.get('entity_id')} (poll)",
                            payload=event, source_version=version)
        created.append(int(item.id))
    return created


@poller("orders")
def pollers(runtime: Context) -> list[Poller]:
    def read(since: datetime) -> Iterator[dict[str, Any]]:
        magento = runtime.magento
        # Magento filters updated_at in its own text form, UTC. Orders come page by page as the
        # poll records them, never all at once.
        moment = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        codes: dict[int, str] | None = None
        for order in magento.iter_orders([("updated_at", moment, "gteq")]):
            codes = magento.store_codes() if codes is None else codes
            yield envelope(order, store_code_of(order, codes))

    return [Poller(resource=POLL_RESOURCE, read=read, record=record_order_changes)]
