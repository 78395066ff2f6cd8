"""A run's trace: its steps with timings, and every request sent and response got (redacted)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

from service.connectors.http import Exchange, redact

_current: ContextVar[Trace | None] = ContextVar("tillbridge_trace", default=None)


class Trace:
    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []

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
            entry["message"] = entry["message"] or str(exc)
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
                    "request": ex.request_body,
                    "status": ex.status,
                    "response": ex.response_body,
                    "error": ex.error,
                },
                "ms": ex.ms,
            }
        )


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


def record_exchange(ex: Exchange) -> None:
    """The connectors' exchange hook: adds the exchange to the trace of the run in progress."""
    trace = _current.get()
    if trace is not None:
        trace.exchange(ex)
