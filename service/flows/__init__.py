"""One module per touchpoint. Each says its direction, its owner and its steps.

A flow class registers itself with ``@flow`` (service/flows/registry.py); it takes the Context and
has ``run(item, trace)``, as a list of declared steps where the flow is built on them
(service/engine/steps.py). A flow that polls its sources also has ``pollers()`` returning the
resources the scheduler reads (service/engine/polling.py).
"""

from __future__ import annotations

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

# The flows that run; each module registers its class (service/flows/registry.py). An item for any
# other name is kept, ignored.
ENABLED_FLOWS = ("orders", "products", "customers", "inventory", "giftcards", "refunds", "shipments",
                 "channel_orders")
