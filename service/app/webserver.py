"""Serving the web service with gunicorn (threads per worker; the app is built in each worker)."""

from __future__ import annotations

import os
from typing import Any

from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from service.app.factory import create_app

        return create_app()


def gunicorn_options(host: str, port: int, workers: int, threads: int = 8) -> dict[str, Any]:
    """How the web service is served (bench/ingest.py serves its baseline app the same way)."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 60,
        "graceful_timeout": 10,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
    }


def run_gunicorn(host: str, port: int, workers: int, threads: int = 8) -> None:
    # Migrations ran once before this; the workers must not race to apply them again.
    os.environ["AUTO_MIGRATE"] = "0"
    _Gunicorn(gunicorn_options(host, port, workers, threads)).run()
