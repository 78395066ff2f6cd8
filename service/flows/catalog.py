"""Every flow module, imported so that each registers its flow (service/flows/registry.py)."""

from service.flows import (  # noqa: F401 - imported to register
    channel_orders,
    customers,
    giftcards,
    inventory,
    order_polling,
    orders,
    products,
    refunds,
    shipments,
)
