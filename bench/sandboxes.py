"""What the benchmarks share: free ports, a sandbox started as its own process, a database of their own."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Until ``url`` answers; exits with the process's error output if it died first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except (requests.ConnectionError, requests.Timeout):  # not up yet, or too busy starting to answer
            if proc is not None and proc.poll() is not None:
                stderr = proc.stderr.read().decode() if proc.stderr else ""
                raise SystemExit(f"{url} did not come up: {stderr}") from None
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up within {timeout:.0f} s")


def start_sandbox(kind: str, token: str) -> tuple[str, Callable[[], None]]:
    """``tillbridge sandbox <kind>`` in its own process; its base URL and a function that stops it."""
    port = free_port()
    command = [sys.executable, "-m", "service", "sandbox", kind, "--port", str(port), "--token", token]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    wait_up(f"{url}/__sandbox/faults", proc=proc)

    def stop() -> None:
        proc.terminate()
        proc.wait(timeout=10)

    return url, stop


def own_database(url: str, suffix: str) -> str:
    """``<db>_<suffix>`` beside a PostgreSQL database (created when missing), so a benchmark neither
    disturbs nor is disturbed by tests sharing the configured database; SQLite URLs as they are."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from service.store.db import database_url

    base = make_url(database_url(url, ""))
    if not base.drivername.startswith("postgresql"):
        return url
    name = f"{base.database}_{suffix}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)
