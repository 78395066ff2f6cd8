"""A run's trace: its steps with timings, and every request sent and response got (redacted)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

from service.kernel.cards import mask_card_numbers
from service.kernel.exchanges import Exchange
from service.kernel.redaction import redact

# A request or response body kept in a trace is cut past this many bytes of JSON: a trace shows
# what was sent and got, not a copy of a whole catalogue page.
MAX_BODY_BYTES = 64 * 1024

_current: ContextVar[Trace | None] = ContextVar("tillbridge_trace", default=None)


class Trace:
    def __init__(self, progress: dict[str, Any] | None = None) -> None:
        self.steps: list[dict[str, Any]] = []
        # Effects this item's runs completed, by step name (service/engine/steps.py): kept when a run
        # fails, so the next one resumes after them.
        self.progress: dict[str, Any] = dict(progress or {})
        # Store writes the steps hand to the run's end (service/store/items.py): made in the
        # transaction that records the item's outcome, so they commit with it, one transaction for
        # both, and a run that lost its item (fenced) makes neither.
        self.writes: list[Callable[[Any], object]] = []

    def write_at_end(self, write: Callable[[Any], object]) -> None:
        """``write(session)`` in the transaction that ends the run, whatever the end (done, review,
        retry later, dead letter); never if the run lost its item or its process died first."""
        self.writes.append(write)

    @contextmanager
    def step(self, name: str, message: str = "") -> Iterator[dict[str, Any]]:
        """Time a step; the yielded dict's ``message``/``detail`` can be filled in by the caller."""
        entry: dict[str, Any] = {"step": name, "status": "ok", "message": message, "detail": {}, "ms": 0.0}
        started = time.perf_counter()
        self.steps.append(entry)
        try:
            yield entry
        except BaseException as exc:
            entry["status"] = "error"
            entry["message"] = entry["message"] or mask_card_numbers(str(exc))
            raise
        finally:
            entry["ms"] = round((time.perf_counter() - started) * 1000, 2)

    def note(self, step: str, message: str, *, status: str = "ok", detail: dict[str, Any] | None = None) -> None:
        self.steps.append({"step": step, "status": status, "message": message, "detail": redact(detail or {}),
                           "ms": 0.0})

    def exchange(self, ex: Exchange) -> None:
        path = urlsplit(ex.url).path
        status = "ok" if ex.status is not None and ex.status < 400 else "error"
        answer = str(ex.status) if ex.status is not None else (ex.error or "no answer")
        self.steps.append(
            {
                "step": f"{ex.destination}",
                "status": status,
                "message": f"{ex.method} {path} → {answer}",
                "detail": {
                    "method": ex.method,
                    "url": ex.url,
                    "request": cut_body(ex.request_body),
                    "status": ex.status,
                    "response": cut_body(ex.response_body),
                    "error": ex.error,
                },
                "ms": ex.ms,
            }
        )


def cut_body(body: Any, limit: int = MAX_BODY_BYTES) -> Any:
    """The body as kept in a trace: itself up to ``limit`` bytes of JSON, else its first ``limit``
    bytes as text with a marker saying how much was cut."""
    if body is None:
        return None
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False, separators=(",", ":"),
                                                         default=str)
    size = len(text.encode("utf-8"))
    if size <= limit:
        return body
    kept = text.encode("utf-8")[:limit].decode("utf-8", "ignore")
    return f"{kept}… [cut by Tillbridge: the body was {size:,} bytes; the trace keeps the first {limit:,}]"


@contextmanager
def tracing(trace: Trace) -> Iterator[Trace]:
    token = _current.set(trace)
    try:
        yield trace
    finally:
        _current.reset(token)


def current_trace() -> Trace | None:
    """The trace of the run in progress in this context, if any (for steps deep inside a flow)."""
    return _current.get()


def tracing_active() -> bool:
    """Whether a run's trace would keep an exchange made now (``record_exchange`` would)."""
    return _current.get() is not None


def record_exchange(ex: Exchange) -> None:
    """The connectors' exchange hook: adds the exchange to the trace of the run in progress."""
    trace = _current.get()
    if trace is not None:
        trace.exchange(ex)
