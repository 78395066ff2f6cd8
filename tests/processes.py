"""Processes the tests start, and proof that none outlives the run.

Every process a test run starts (workers, schedulers, CLI commands, the embedded Redis servers they
start) inherits ``RUN_MARKER`` in its environment; ``leftovers`` finds any marked process still alive at
the end. Starting and stopping them is service/app/processes.py's, shared with the demo and the benchmarks.
"""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from pathlib import Path

RUN_MARKER = "TILLBRIDGE_TEST_PROCESS_GROUP"


def mark_this_process() -> str:
    """Give this process (and so every process it starts) a marker of its own."""
    value = f"{uuid.uuid4().hex}-{os.getpid()}"
    os.environ[RUN_MARKER] = value
    return value


def leftovers(marker: str) -> list[tuple[int, str]]:
    """Processes other than this one whose environment carries ``marker``: (pid, command line)."""
    found = []
    needle = f"{RUN_MARKER}={marker}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(") ", 1)[1][0]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, IndexError):
            continue
        if state != "Z":
            found.append((int(entry.name), command))
    return found


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
