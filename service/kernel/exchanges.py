"""One HTTP exchange with another system, as connectors report it and traces keep it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Exchange:
    """One request and its answer, as recorded in a trace (already redacted)."""

    destination: str
    method: str
    url: str
    request_body: Any
    status: int | None
    response_body: Any
    ms: float
    error: str = ""


ExchangeHook = Callable[[Exchange], None]
