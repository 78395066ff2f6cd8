"""One module per touchpoint. Each says its direction, its owner and its steps.

A flow is registered here by name as ``module:Class``; the class takes the Context and has
``run(item, trace)``. A flow that polls its sources also has ``pollers()`` returning the
resources the scheduler reads (service/engine/polling.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.engine.pipeline import Flow
    from service.engine.polling import Poller
    from service.flows.context import Context

# Which flow handles each event from Magento. Events without an enabled flow are kept in the inbox
# and recorded as ignored items with that reason, so they can be replayed once their flow exists.
MAGENTO_EVENT_FLOWS = {
    "order.created": "orders",
    "order.updated": "orders",
    "customer.created": "customers",
    "customer.updated": "customers",
    "creditmemo.created": "refunds",
    "product.saved": "products",
}
MAGENTO_EVENTS = tuple(MAGENTO_EVENT_FLOWS)

# name → "module:Class". Only these flows run; an item for any other name is kept, ignored.
FLOWS: dict[str, str] = {
    "orders": "service.flows.orders:OrdersFlow",
    "products": "service.flows.products:ProductsFlow",
    "customers": "service.flows.customers:CustomersFlow",
    "inventory": "service.flows.inventory:InventoryFlow",
    "giftcards": "service.flows.giftcards:GiftCardsFlow",
    "refunds": "service.flows.refunds:RefundsFlow",
    "shipments": "service.flows.shipments:ShipmentsFlow",
    "channel_orders": "service.flows.channel_orders:ChannelOrdersFlow",
}
ENABLED_FLOWS = tuple(FLOWS)

# Pollers kept outside their flow's class, by flow name → "module:function" taking the Context and
# returning Pollers; polled while that flow is enabled.
EXTRA_POLLERS: dict[str, tuple[str, ...]] = {
    "orders": ("service.flows.order_polling:pollers",),
}


def flow_class(name: str) -> type:
    from service.kernel.errors import FatalError

    target = FLOWS.get(name)
    if target is None:
        raise FatalError(f"no flow named {name!r}", hint=f"enabled flows: {', '.join(ENABLED_FLOWS)}")
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)


def build_flow(name: str, runtime: Context) -> Flow:
    return flow_class(name)(runtime)


def build_pollers(runtime: Context) -> list[Poller]:
    """The source resources the scheduler polls, for the enabled flows that poll."""
    pollers: list[Poller] = []
    for name in ENABLED_FLOWS:
        flow = runtime.flow(name)
        make = getattr(flow, "pollers", None)
        if make is not None:
            pollers.extend(make())
        for target in EXTRA_POLLERS.get(name, ()):
            module, _, function = target.partition(":")
            pollers.extend(getattr(importlib.import_module(module), function)(runtime))
    return pollers
