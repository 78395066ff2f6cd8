"""The HTTP transport's limits: one request rate per destination for every process (counted in
Redis), a rate-limited failure when the wait would be long, and a deadline for the whole call."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from limits.storage import RedisStorage
from redis import Redis

from service.connectors.http import HttpConnector, RateLimiter
from service.kernel.errors import FailureClass, FatalError, RateLimitedError, RetryableError


class Recorder(BaseHTTPRequestHandler):
    arrivals: list[float] = []
    paths: list[str] = []
    drip_seconds = 0.0

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        type(self).paths.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(301)
        self.send_header("Location", "https://api.example/v2")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).arrivals.append(time.time())
        type(self).paths.append(self.path)
        if self.path.startswith("/drip"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "40")
            self.end_headers()
            try:
                for _ in range(40):  # a byte every 0.1 s: each read is quick, the whole answer is not
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.1)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up at its deadline, as it should
            return
        body = b'{"ok":true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Recorder.arrivals = []
    Recorder.paths = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


SENDER = """
import sys, time
from limits.storage import RedisStorage
from redis import Redis
from service.connectors.http import HttpConnector, RateLimiter
from service.kernel.errors import RateLimitedError

redis_url, base, rate, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
client = HttpConnector(base)
client.limiter = RateLimiter(rate, destination="shared-test", max_wait_seconds=30,
                             storage=RedisStorage("redis://", connection_pool=Redis.from_url(redis_url).connection_pool,
                                                  key_prefix="tillbridge:rate"))
end = time.monotonic() + seconds
sent = 0
while time.monotonic() < end:
    client.send("GET", "/ping")
    sent += 1
print(sent)
"""


def test_two_processes_share_one_rate(server: str, redis_url: str) -> None:
    Redis.from_url(redis_url).delete(*Redis.from_url(redis_url).keys("tillbridge:rate*") or ["-"])
    rate, seconds = 20.0, 3.0
    senders = [subprocess.Popen([sys.executable, "-c", SENDER, redis_url, server, str(rate), str(seconds)],
                                stdout=subprocess.PIPE, text=True) for _ in range(2)]
    sent = [int(p.communicate(timeout=60)[0].strip()) for p in senders]
    assert all(p.returncode == 0 for p in senders)
    arrivals = sorted(Recorder.arrivals)
    assert len(arrivals) == sum(sent) and min(sent) > 0  # both processes got turns
    # In no one-second window did the server see more than the limit (a little slack for the
    # time between a slot being taken and the request arriving).
    busiest = max(sum(1 for t in arrivals[i:] if t < start + 1.0) for i, start in enumerate(arrivals))
    assert busiest <= rate * 1.1 + 1, f"{busiest} requests in one second; the shared limit is {rate:g}"
    span = arrivals[-1] - arrivals[0]
    combined = (len(arrivals) - 1) / span
    print(f"combined rate of 2 processes: {combined:.1f}/s against a limit of {rate:g}/s; busiest second {busiest}")
    # A one-second moving window lets at most `rate` through in any second, so a span of S seconds
    # holds at most rate × (S + 1) requests (a full window at each end), and no process starved.
    assert len(arrivals) <= rate * (span + 1) * 1.1 + 1, f"{len(arrivals)} requests in {span:.2f} s"
    assert len(arrivals) >= rate * (seconds - 1)


def test_a_long_wait_for_a_slot_fails_as_rate_limited(server: str, redis_url: str) -> None:
    storage = RedisStorage("redis://", connection_pool=Redis.from_url(redis_url).connection_pool,
                           key_prefix="tillbridge:rate-wait-test")
    storage.reset()
    client = HttpConnector(server)
    client.destination = "magento"
    client.limiter = RateLimiter(1.0, destination="magento", storage=storage, max_wait_seconds=0.3)
    client.send("GET", "/ping")
    started = time.monotonic()
    with pytest.raises(RateLimitedError) as failure:
        client.send("GET", "/ping")
    assert time.monotonic() - started < 0.5  # gave up at once: the slot frees in about a second
    assert failure.value.failure_class is FailureClass.RATE_LIMITED
    assert failure.value.retry_after is not None and 0 < failure.value.retry_after <= 1.0
    assert len(Recorder.arrivals) == 1


def test_a_call_ends_at_its_deadline_however_slowly_the_answer_drips(server: str) -> None:
    client = HttpConnector(server, timeout=5.0)
    client.deadline_seconds = 1.0
    started = time.monotonic()
    with pytest.raises(RetryableError) as failure:
        client.send("GET", "/drip")
    took = time.monotonic() - started
    assert took < 2.0, f"the call took {took:.1f} s; its deadline is 1 s"
    assert "within 1 s" in str(failure.value)
    assert client.send("GET", "/ping").json() == {"ok": True}  # the session is still usable


def test_the_proxy_environment_is_read_once_per_destination(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = HttpConnector(server)
    assert client.send("GET", "/ping").json() == {"ok": True}  # NO_PROXY: straight to the server
    transport = client.transport
    assert transport.route(f"{server}/ping")[0] is None
    assert transport.route("http://shop.example/x")[0] == "http://proxy.invalid:3128"
    monkeypatch.setenv("HTTP_PROXY", "http://other.invalid:8080")  # read once: the first answer stands
    assert transport.route("http://shop.example/y")[0] == "http://proxy.invalid:3128"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    assert transport.route("https://new.example/")[1] == "/etc/ssl/certs/ca-certificates.crt"


def test_a_call_through_the_proxy_goes_to_the_proxy(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The proxy (here the test server itself) receives the call with the whole destination URL."""
    monkeypatch.setenv("HTTP_PROXY", server)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = HttpConnector("http://shop.example/api")
    assert client.send("GET", "/ping", params={"q": "a b", "skip": None, "ids": [1, 2]}).json() == {"ok": True}
    assert Recorder.paths[-1] == "http://shop.example/api/ping?q=a+b&ids=1&ids=2"


def test_a_redirect_is_an_error_that_says_where_the_api_went(server: str) -> None:
    client = HttpConnector(server)
    with pytest.raises(FatalError) as failure:
        client.send("POST", "/moved", json_body={"a": 1})
    assert "answered 301: a redirect to https://api.example/v2" in str(failure.value)
    assert "set its URL to where it points" in str(failure.value.hint)
    assert Recorder.paths == ["/moved"], "the write was sent once and not followed"
