"""The baseline of bench/ingest.py: a bare Flask app that keeps each posted body with one durable
insert and commit per request (on SQLite, synchronous=FULL: the commit is on disk before the
answer), on the same store and served by gunicorn with the same settings as the web service
(service/app/webserver.py).

    python bench/bare_ingest.py <database-url> <port> <workers>
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request
from gunicorn.app.base import BaseApplication
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, event, insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.app.webserver import gunicorn_options  # noqa: E402
from service.store.db import Store  # noqa: E402

metadata = MetaData()
events = Table("bench_bare_events", metadata,
               Column("id", Integer, primary_key=True, autoincrement=True),
               Column("event_id", String(128), unique=True, nullable=False),
               Column("payload", JSON, nullable=False))


def _durable(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=FULL")  # the commit is on disk before the answer
    cursor.close()


def create_bare_app(url: str) -> Flask:
    store = Store(url)
    if store.is_sqlite:  # PostgreSQL commits are durable as configured (synchronous_commit)
        event.listen(store.engine, "connect", _durable)
    app = Flask("bare_ingest")

    @app.post("/events")
    def keep() -> Response:
        body = request.get_json(force=True)
        event_id = request.headers.get("webhook-id") or str(uuid.uuid4())
        with store.engine.begin() as conn:  # one insert, one commit: durable before the answer
            conn.execute(insert(events).values(event_id=event_id, payload=body))
        response = jsonify({"status": "accepted", "event_id": event_id})
        response.status_code = 202
        return response

    return app


class _Bare(BaseApplication):
    def __init__(self, url: str, options: dict[str, Any]) -> None:
        self.url = url
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return create_bare_app(self.url)


def main() -> None:
    url, port, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    _Bare(url, gunicorn_options("127.0.0.1", port, workers)).run()


if __name__ == "__main__":
    main()
