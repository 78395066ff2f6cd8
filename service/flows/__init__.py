"""One module per touchpoint. Each says its direction, its owner and its steps."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.engine.pipeline import Flow
    from service.engine.polling import Poller
    from service.runtime import Runtime

# Which flow handles each event from Magento. Events without a flow yet are kept in the inbox and
# recorded as ignored items with that reason, so they can be replayed once their flow exists.
MAGENTO_EVENT_FLOWS = {
    "order.created": "orders",
    "order.updated": "orders",
    "customer.created": "customers",
    "customer.updated": "customers",
    "creditmemo.created": "refunds",
    "product.saved": "products",
}
MAGENTO_EVENTS = tuple(MAGENTO_EVENT_FLOWS)
ENABLED_FLOWS = ("orders", "products", "customers", "inventory")


def build_flow(name: str, runtime: Runtime) -> Flow:
    if name == "orders":
        from service.flows.orders import OrdersFlow

        return OrdersFlow(runtime)
    if name == "inventory":
        from service.flows.inventory import InventoryFlow

        return InventoryFlow(runtime)
    if name == "products":
        from service.flows.products import ProductsFlow

        return ProductsFlow(runtime)
    if name == "customers":
        from service.flows.customers import CustomersFlow

        return CustomersFlow(runtime)
    from service.engine.errors import FatalError

    raise FatalError(f"no flow named {name!r}", hint=f"enabled flows: {', '.join(ENABLED_FLOWS)}")


def build_pollers(runtime: Runtime) -> list[Poller]:
    """The source resources the scheduler polls, for the enabled flows that poll."""
    pollers = []
    if "inventory" in ENABLED_FLOWS:
        from service.flows.inventory import InventoryFlow

        flow = runtime.flow("inventory")
        assert isinstance(flow, InventoryFlow)
        pollers.append(flow.poller())
    if "customers" in ENABLED_FLOWS:
        from service.flows.customers import CustomersFlow

        customers = runtime.flow("customers")
        assert isinstance(customers, CustomersFlow)
        pollers.extend(customers.pollers())
    return pollers
