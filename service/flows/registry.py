"""Which class runs each flow and which pollers a flow adds: registered where they are defined.

``@flow`` on a flow class and ``@poller("orders")`` on a function returning Pollers put them here;
``service.flows.catalog`` imports every flow module, so the composition root (service/app/runtime.py)
imports that and asks the registry. Nothing is looked up by a string handed to importlib.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from service.flows import ENABLED_FLOWS
from service.kernel.errors import FatalError

if TYPE_CHECKING:
    from service.engine.pipeline import Flow
    from service.engine.polling import Poller
    from service.flows.context import Context

C = TypeVar("C", bound=type)
MakePollers = Callable[["Context"], "list[Poller]"]

_flows: dict[str, type] = {}
_pollers: dict[str, list[MakePollers]] = {}


def flow(cls: C) -> C:
    """Register a flow class under its ``name``."""
    name = cls.name  # type: ignore[attr-defined]
    if name not in ENABLED_FLOWS:
        raise ValueError(f"flow {name!r} is not in service.flows.ENABLED_FLOWS")
    if _flows.get(name, cls) is not cls:
        raise ValueError(f"two classes register flow {name!r}: {_flows[name].__qualname__} and {cls.__qualname__}")
    _flows[name] = cls
    return cls


def poller(flow_name: str) -> Callable[[MakePollers], MakePollers]:
    """Register a function returning Pollers that the scheduler reads while ``flow_name`` is enabled."""

    def register(make: MakePollers) -> MakePollers:
        if make not in _pollers.setdefault(flow_name, []):
            _pollers[flow_name].append(make)
        return make

    return register


def flow_names() -> tuple[str, ...]:
    return tuple(_flows)


def flow_class(name: str) -> type:
    cls = _flows.get(name)
    if cls is None:
        raise FatalError(f"no flow named {name!r}", hint=f"enabled flows: {', '.join(ENABLED_FLOWS)}")
    return cls


def build_flow(name: str, context: Context) -> Flow:
    built: Flow = flow_class(name)(context)
    return built


def build_pollers(context: Context) -> list[Poller]:
    """The source resources the scheduler polls, for the enabled flows that poll."""
    pollers: list[Poller] = []
    for name in ENABLED_FLOWS:
        flow_: Any = context.flow(name)
        make = getattr(flow_, "pollers", None)
        if make is not None:
            pollers.extend(make())
        for extra in _pollers.get(name, ()):
            pollers.extend(extra(context))
    return pollers
