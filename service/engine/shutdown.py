"""Stopping a worker or the scheduler promptly on SIGTERM, without losing the item in hand.

A stop request (SIGTERM or SIGINT) does three things:

- waits that can end early do (``wait``: lock waits, the scheduler's tick), raising ``Stopping``;
- a run in progress gets ``grace_seconds`` to finish on its own: most runs take well under a
  second, and a finished run needs no second one;
- past the grace, the run is interrupted: ``Stopping`` is raised in the main thread (through
  SIGUSR1), wherever the run is. The pipeline then hands the item back (``received``, due now, no
  attempt used) and the process exits. Effects are idempotent (bindings, lookups by our
  reference, idempotency keys), so a run cut short and run again writes each effect once.

Only code inside ``interruptible()`` is ever interrupted: recording a run's outcome is not, so a
finished run is never handed back.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType

INTERRUPT_SIGNAL = signal.SIGUSR1


class Stopping(BaseException):  # noqa: N818 - it is not an error: the process was asked to stop
    """The process was asked to stop; what is in hand is handed back."""


class _State:
    def __init__(self) -> None:
        self.requested = threading.Event()
        self.grace_seconds = 10.0
        self.depth = 0
        self.timer: threading.Timer | None = None
        self.requested_at = 0.0


_state = _State()


def requested() -> bool:
    return _state.requested.is_set()


def request(grace_seconds: float | None = None) -> None:
    """Ask this process to stop: waits end now, a run in progress is interrupted after the grace."""
    if grace_seconds is not None:
        _state.grace_seconds = grace_seconds
    if _state.requested.is_set():
        return
    _state.requested_at = time.monotonic()
    _state.requested.set()
    timer = threading.Timer(_state.grace_seconds, _interrupt_main)
    timer.daemon = True
    _state.timer = timer
    timer.start()


def wait(seconds: float) -> None:
    """Sleep up to ``seconds``; raise Stopping at once if the process is asked to stop."""
    if _state.requested.wait(max(0.0, seconds)):
        raise Stopping()


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """The code inside may be interrupted by Stopping once a stop's grace has passed."""
    _state.depth += 1
    try:
        if _state.requested.is_set() and time.monotonic() - _state.requested_at >= _state.grace_seconds:
            raise Stopping()
        yield
    finally:
        _state.depth -= 1


def _interrupt_main() -> None:
    if _state.depth > 0:
        signal.pthread_kill(threading.main_thread().ident or 0, INTERRUPT_SIGNAL)


def _on_interrupt(_signum: int, _frame: FrameType | None) -> None:
    if _state.depth > 0:
        raise Stopping()


def _on_stop_signal(_signum: int, _frame: FrameType | None) -> None:
    request()


def install(grace_seconds: float, *, stop_signals: bool = True) -> None:
    """Set up the handlers in the main thread: SIGUSR1 interrupts a run; SIGTERM and SIGINT ask to
    stop (unless ``stop_signals`` is False, for a process whose stop signals are handled elsewhere)."""
    _state.grace_seconds = grace_seconds
    signal.signal(INTERRUPT_SIGNAL, _on_interrupt)
    if stop_signals:
        signal.signal(signal.SIGTERM, _on_stop_signal)
        signal.signal(signal.SIGINT, _on_stop_signal)

