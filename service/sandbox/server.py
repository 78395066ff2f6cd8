"""Serving a sandbox app: in the foreground for the CLI, or on a thread for tests and benchmarks."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from service.sandbox.harness import ConnectionReset


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def connection_dropped(self, error: BaseException, environ: object = None) -> None:
        if isinstance(error, ConnectionReset):
            # Drop the connection without a response, as a reset network path would.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(2)


@dataclass
class RunningSandbox:
    server: BaseWSGIServer
    thread: threading.Thread
    url: str

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def make_sandbox_server(app: Flask, host: str = "127.0.0.1", port: int = 0) -> BaseWSGIServer:
    app.config["PROPAGATE_EXCEPTIONS"] = True
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    server.daemon_threads = True  # type: ignore[attr-defined]
    return server


def start_in_thread(app: Flask, host: str = "127.0.0.1", port: int = 0) -> RunningSandbox:
    server = make_sandbox_server(app, host, port)
    thread = threading.Thread(target=server.serve_forever, name=f"sandbox-{server.server_port}", daemon=True)
    thread.start()
    return RunningSandbox(server=server, thread=thread, url=f"http://{host}:{server.server_port}")


def serve_forever(app: Flask, host: str, port: int) -> None:
    server = make_sandbox_server(app, host, port)
    try:
        server.serve_forever()
    finally:
        server.server_close()
