"""Running Tillbridge's processes side by side: the demo (`make run`), the end-to-end tests and the
benchmarks start the same commands (`python -m service web|worker|scheduler|sandbox …`) the same way.

Each process runs in a session of its own (so a signal reaches its children too, such as the embedded
Redis it starts) and writes to ``<logs>/<name>.log``. ``stop`` ends them together: SIGTERM to every
group, one wait for all, a stack dump (SIGUSR2) and SIGKILL for any that did not go, and a line
saying so for each of those.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


class ProcessGroup:
    def __init__(self, logs: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> None:
        self.logs = logs
        self.env = dict(env if env is not None else os.environ)
        self.cwd = cwd
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def log_path(self, name: str) -> Path:
        return log_path(self.logs, name)

    def start(self, name: str, *args: str, argv: Sequence[str] | None = None,
              env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
        """``python -m service <args>`` (or ``argv``) as ``name``, in a session of its own."""
        command = list(argv) if argv is not None else [sys.executable, "-m", "service", *args]
        log = open(self.log_path(name), "ab")  # noqa: SIM115 - the process keeps it; closed when it ends
        try:
            proc = subprocess.Popen(command, env=dict(env if env is not None else self.env), stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True, cwd=self.cwd)
        finally:
            log.close()  # the child has its own descriptor
        self.processes[name] = proc
        return proc

    def exited(self, ignore: Sequence[str] = ()) -> list[tuple[str, int]]:
        """(name, exit code) of each process that has ended, but those whose name starts with ``ignore``."""
        return [(name, proc.returncode) for name, proc in self.processes.items()
                if proc.poll() is not None and not name.startswith(tuple(ignore))]

    def stop(self, wait_seconds: float, names: Sequence[str] | None = None) -> list[str]:
        """Stop ``names`` (default: all) together; a line, with the log's tail, per process that did not
        exit within ``wait_seconds`` of SIGTERM (a worker or scheduler must stop promptly)."""
        chosen = {name: self.processes.pop(name) for name in list(names if names is not None else self.processes)
                  if name in self.processes}
        return stop_groups(chosen, wait_seconds, self.logs)


def log_path(logs: Path, name: str) -> Path:
    """Where the process ``name`` writes: ``<logs>/<name>.log`` (spaces as dashes)."""
    return logs / f"{name.replace(' ', '-')}.log"


def stop_groups(processes: Mapping[str, subprocess.Popen[bytes]], wait_seconds: float,
                logs: Path | None = None) -> list[str]:
    """SIGTERM every process group at once, wait for all of them together, SIGKILL what is left.

    Returns a line per process that did not exit on SIGTERM within ``wait_seconds`` (with the tail
    of its log when ``logs`` holds one).
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
            log = log_path(logs, name) if logs is not None else None
            if log is not None and log.exists():
                tail = "\n" + log.read_text(errors="replace")[-6000:]
            problems.append(f"{name} (pid {proc.pid}) did not exit within {wait_seconds:.0f} s of SIGTERM; "
                            f"killed{tail}")
        _signal_group(proc, signal.SIGKILL)  # its children too, even when it exited itself
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    return problems


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
