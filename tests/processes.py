"""Processes the tests start, and proof that none outlives the run.

Every process a test run starts (workers, schedulers, CLI commands, the embedded Redis servers they
start) inherits ``RUN_MARKER`` in its environment. ``stop_groups`` ends a set of process groups
whatever state each is in; ``leftovers`` finds any marked process still alive at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

RUN_MARKER = "TILLBRIDGE_TEST_PROCESS_GROUP"


def mark_this_process() -> str:
    """Give this process (and so every process it starts) a marker of its own."""
    value = f"{uuid.uuid4().hex}-{os.getpid()}"
    os.environ[RUN_MARKER] = value
    return value


def stop_groups(processes: Mapping[str, subprocess.Popen[bytes]], wait_seconds: float,
                logs: Path | None = None) -> list[str]:
    """SIGTERM every process group at once, wait for all of them together, SIGKILL what is left.

    Returns a line per process that did not exit on SIGTERM within ``wait_seconds`` (with the tail
    of its log when ``logs`` holds one): a worker or scheduler must stop promptly.
    """
    for proc in processes.values():
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + wait_seconds
    for proc in processes.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    problems = []
    stuck = [proc for proc in processes.values() if proc.poll() is None]
    for proc in stuck:  # the worker and scheduler dump their threads' stacks to their log on SIGUSR2
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGUSR2)
    if stuck:
        time.sleep(0.5)
    for name, proc in processes.items():
        if proc.poll() is None:
            tail = ""
            if logs is not None and (logs / f"{name}.log").exists():
                tail = "\n" + (logs / f"{name}.log").read_text(errors="replace")[-6000:]
            problems.append(f"{name} (pid {proc.pid}) did not exit within {wait_seconds:.0f} s of SIGTERM; "
                            f"killed{tail}")
        _signal_group(proc, signal.SIGKILL)  # its children too, even when it exited itself
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    return problems


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


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
