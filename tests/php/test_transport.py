"""The module's real curl transport and sender against HTTP answers the Tillbridge app does not give
on its own: rate limiting, outages, redirects and a hung connection."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.php.php import send_event


class Canned(BaseHTTPRequestHandler):
    """Answers every POST with the server's canned status, headers and delay; counts requests by path."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        server: CannedServer = self.server  # type: ignore[assignment]
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        server.hits.append(self.path)
        time.sleep(server.delay)
        self.send_response(server.status)
        for name, value in server.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        pass


class CannedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Canned)
        self.status = 202
        self.headers: dict[str, str] = {}
        self.delay = 0.0
        self.hits: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


ORDER = {"entity_id": 7, "increment_id": "000000007", "grand_total": 10.0}


def send(url: str, *flags: str) -> dict[str, Any]:
    return send_event(url, "transport-secret", ORDER, *flags)


@pytest.fixture
def canned() -> Iterator[CannedServer]:
    server = CannedServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_rate_limit_waits_as_long_as_retry_after_asks(canned: CannedServer) -> None:
    canned.status, canned.headers = 429, {"Retry-After": "300"}

    attempt = send(canned.url)["rounds"][0]

    assert (attempt["status"], attempt["http_status"], attempt["attempts"]) == ("pending", 429, 1)
    assert 298 <= attempt["retry_in_seconds"] <= 300


def test_an_outage_backs_off_one_minute_first(canned: CannedServer) -> None:
    canned.status = 503

    attempt = send(canned.url)["rounds"][0]

    assert (attempt["status"], attempt["http_status"]) == ("pending", 503)
    assert 58 <= attempt["retry_in_seconds"] <= 60


def test_a_redirect_is_not_followed_and_fails_the_row(canned: CannedServer) -> None:
    canned.status, canned.headers = 301, {"Location": "/elsewhere"}

    attempt = send(canned.url)["rounds"][0]

    assert (attempt["status"], attempt["http_status"]) == ("failed", 301)
    assert canned.hits == ["/webhooks/magento"]


def test_a_hung_service_times_out_and_is_retried(canned: CannedServer) -> None:
    canned.delay = 3.0

    started = time.monotonic()
    attempt = send(canned.url, "--timeout=1")["rounds"][0]

    assert time.monotonic() - started < 3.0
    assert (attempt["status"], attempt["http_status"], attempt["attempts"]) == ("pending", None, 1)
    assert "timed out" in attempt["last_error"].lower()
