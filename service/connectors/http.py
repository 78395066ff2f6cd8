"""The HTTP plumbing every connector shares: pooled sessions, timeouts, a per-destination rate
limiter, failure classes from status codes, and an exchange hook for traces (redacted)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import unquote, urlencode, urlsplit

import certifi
import requests.utils
import urllib3
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage, Storage
from limits.strategies import MovingWindowRateLimiter
from requests.utils import requote_uri

from service.kernel.cards import mask_card_numbers
from service.kernel.errors import FatalError, RateLimitedError, RetryableError, SyncError, error_for_status
from service.kernel.exchanges import Exchange, ExchangeHook
from service.kernel.redaction import (
    GIFT_CARD_PATH,
    redact,
    redact_gift_card_url,
    redact_gift_cards,
    redact_json,
)

# Sent with every call unless the connector sets its own (an answer compressed with either is unpacked).
DEFAULT_HEADERS = {"Accept": "application/json", "Accept-Encoding": "gzip, deflate", "User-Agent": "Tillbridge"}


class Response:
    """What one call answered: its status, its headers (looked up case-insensitively) and its whole body."""

    __slots__ = ("content", "headers", "reason", "status_code", "url")

    def __init__(self, status_code: int, reason: str, headers: Mapping[str, str], content: bytes, url: str) -> None:
        self.status_code = status_code
        self.reason = reason
        self.headers = headers
        self.content = content
        self.url = url

    def json(self) -> Any:
        """The body as JSON (ValueError when it is not)."""
        return json.loads(self.content)

    @property
    def text(self) -> str:
        kind = self.headers.get("Content-Type") or ""
        charset = kind.partition("charset=")[2].split(";")[0].strip().strip('"') or "utf-8"
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")


class TransportError(Exception):
    """No answer: the connection could not be made, broke, or timed out."""


class _Transport:
    """Connections kept open per destination (urllib3 pools) for every call a connector makes.

    The environment's proxy settings (``HTTPS_PROXY``, ``NO_PROXY``, …) and CA bundle
    (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, else certifi's) are read once per destination, not on
    every call; a change to them takes a restart. ``~/.netrc`` is not read: each connector sends its own
    credentials. A redirect is answered, not followed (an API that moved says so as an error)."""

    def __init__(self, pool_size: int) -> None:
        self.pool_size = pool_size
        self._routes: dict[tuple[str, str], tuple[str | None, str]] = {}
        self._managers: dict[tuple[str | None, str], urllib3.PoolManager] = {}
        self._lock = threading.Lock()

    def route(self, url: str) -> tuple[str | None, str]:
        """The proxy (or None) and CA bundle a call to ``url`` goes through."""
        parts = urlsplit(url)
        origin = (parts.scheme, parts.netloc)
        known = self._routes.get(origin)
        if known is None:
            proxy = requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url))
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
            known = self._routes[origin] = (proxy or None, bundle)
        return known

    def _manager(self, url: str) -> urllib3.PoolManager:
        route = self.route(url)
        manager = self._managers.get(route)
        if manager is None:
            with self._lock:
                manager = self._managers.get(route)
                if manager is None:
                    proxy, bundle = route
                    options: dict[str, Any] = {"num_pools": 8, "maxsize": self.pool_size, "block": False,
                                               "retries": False, "cert_reqs": "CERT_REQUIRED", "ca_certs": bundle}
                    if proxy:
                        found = urlsplit(proxy)
                        headers = (urllib3.util.make_headers(proxy_basic_auth=f"{unquote(found.username)}:"
                                                                              f"{unquote(found.password or '')}")
                                   if found.username else None)
                        manager = urllib3.ProxyManager(proxy, proxy_headers=headers, **options)
                    else:
                        manager = urllib3.PoolManager(**options)
                    self._managers[route] = manager
        return manager

    def request(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str],
                timeout: tuple[float, float], deadline_seconds: float) -> Response:
        """The answer, read whole before ``deadline_seconds`` have passed since the call began."""
        deadline = time.monotonic() + deadline_seconds
        connect, read = (min(timeout[0], deadline_seconds), min(timeout[1], deadline_seconds))
        try:
            answer = self._manager(url).urlopen(
                method, url, body=body, headers=dict(headers), timeout=urllib3.Timeout(connect=connect, read=read),
                retries=False, redirect=False, preload_content=False, decode_content=True)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        complete = False
        try:
            content = bytearray()
            # read1 returns what has arrived (a plain read waits to fill its buffer), so the clock is
            # looked at between every few bytes of a slow answer.
            while chunk := answer.read1(64 * 1024):
                content += chunk
                if time.monotonic() > deadline:
                    raise CallDeadlineExceeded(f"the answer was still arriving after {deadline_seconds:g} s")
            complete = True
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        finally:
            if not complete:
                answer.close()  # a half-read connection is not reused
            # Read to the end, the connection goes back to the pool for the next call.
            answer.release_conn()
        if time.monotonic() > deadline:
            raise CallDeadlineExceeded(f"the call took longer than {deadline_seconds:g} s")
        return Response(answer.status, answer.reason or "", answer.headers, bytes(content), url)

    def close(self) -> None:
        with self._lock:
            for manager in self._managers.values():
                manager.clear()
            self._managers.clear()


def query_string(params: Any) -> str:
    """``params`` as a URL query, as the connectors give them: a mapping or pairs, a list value sent
    once per item, a None value left out."""
    if not params:
        return ""
    if isinstance(params, str | bytes):
        return params.decode() if isinstance(params, bytes) else params
    pairs = params.items() if isinstance(params, Mapping) else params
    flat: list[tuple[str, str]] = []
    for key, values in pairs:
        for value in (values if isinstance(values, list | tuple) else [values]):
            if value is not None:
                flat.append((str(key), str(value)))
    return urlencode(flat)


class Breaker(Protocol):
    """A destination's circuit breaker (service/engine/breaker.py implements it on Redis)."""

    def before_call(self) -> None:
        """Raise DestinationUnavailable while the destination is known to be down."""

    def record_success(self) -> None: ...

    def record_failure(self) -> None: ...


class CallDeadlineExceeded(Exception):
    """A call ran past its whole-call deadline (HTTP_DEADLINE_SECONDS)."""


class RateLimiter:
    """Requests per second to one destination, counted in a moving one-second window by the
    ``limits`` library. Given Redis storage (as the runtime gives it), every process sending to
    the destination shares the one limit; without, the limit is this process's. A caller waits
    for a free slot up to ``max_wait_seconds``; past that the call fails as rate-limited, so the
    engine reschedules the item instead of holding a worker. ``rate <= 0`` disables it."""

    def __init__(self, rate_per_second: float, *, destination: str = "http", storage: Storage | None = None,
                 max_wait_seconds: float = 5.0) -> None:
        self.rate = rate_per_second
        self.destination = destination
        self.max_wait_seconds = max_wait_seconds
        # A fraction below one per second becomes one call per so many seconds.
        self.item = (RateLimitItemPerSecond(max(1, round(rate_per_second))) if rate_per_second >= 1
                     else RateLimitItemPerSecond(1, max(1, round(1 / rate_per_second))) if rate_per_second > 0
                     else None)
        self.limiter = MovingWindowRateLimiter(storage or MemoryStorage())

    def acquire(self) -> None:
        if self.item is None:
            return
        give_up = time.monotonic() + self.max_wait_seconds
        while not self.limiter.hit(self.item, self.destination):
            wait = max(0.001, self.limiter.get_window_stats(self.item, self.destination).reset_time - time.time())
            if time.monotonic() + wait > give_up:
                raise RateLimitedError(
                    f"{self.destination}: the shared limit of {self.rate:g} requests per second is used up",
                    hint=f"other workers are sending to {self.destination} at the limit "
                         f"({self.destination.upper()}_RATE_PER_SECOND); the item runs again shortly",
                    retry_after=wait, destination=self.destination)
            time.sleep(min(wait, 0.25))


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class HttpConnector:
    """Base for API clients: one pooled session, timeouts on every call, classified failures."""

    destination = "http"
    breaker: Breaker | None = None  # set by the engine; None means no breaker
    before_write: Callable[[], None] | None = None  # set by the engine: raises when the run may not write
    # Set by the engine: whether anyone keeps the exchange now (a run's trace); when not, the call's
    # bodies are neither redacted nor reported (a scheduler's catalogue read is megabytes of them).
    exchange_wanted: Callable[[], bool] | None = None
    # The whole call (connect, send, every read of the answer) ends by then: per-read timeouts alone
    # let an answer that drips a byte at a time hold a worker for ever.
    deadline_seconds: float = 60.0

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 15.0,
        connect_timeout: float = 5.0,
        rate_per_second: float = 0.0,
        on_exchange: ExchangeHook | None = None,
        pool_size: int = 16,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, timeout)
        self.limiter = RateLimiter(rate_per_second, destination=self.destination)
        self.on_exchange = on_exchange
        self.transport = _Transport(pool_size)

    def url(self, path: str) -> str:
        if path.startswith("http://") or path.startswith("https://"):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def send(self, method: str, path: str, *, json_body: Any = None, params: Any = None,
             headers: dict[str, str] | None = None) -> Response:
        """Send one request; raise a classified SyncError for anything but 2xx."""
        url = requote_uri(self.url(path))
        query = query_string(params)
        if query:
            url = f"{url}{'&' if urlsplit(url).query else '?'}{query}"
        sent = {**DEFAULT_HEADERS, **(headers or {})}
        data = None
        if json_body is not None:
            data = json.dumps(json_body, separators=(",", ":")).encode()
            sent.setdefault("Content-Type", "application/json")
        self.prepare_request(method, url, sent)
        if method != "GET" and self.before_write is not None:
            self.before_write()  # a run that lost its record (service/engine/lease.py) writes nothing
        if self.breaker is not None:
            self.breaker.before_call()
        self.limiter.acquire()
        started = time.perf_counter()
        try:
            response = self.transport.request(method, url, data, sent, self.timeout, self.deadline_seconds)
        except (TransportError, CallDeadlineExceeded) as exc:
            ms = (time.perf_counter() - started) * 1000
            self._record(method, url, json_body, None, None, ms, f"{type(exc).__name__}: {exc}")
            if self.breaker is not None:
                self.breaker.record_failure()
            raise RetryableError(
                f"{self.destination} {method} {path}: {type(exc).__name__}",
                hint=f"{self.destination} did not answer"
                     + (f" within {self.deadline_seconds:g} s" if isinstance(exc, CallDeadlineExceeded) else "")
                     + "; will retry",
                destination=self.destination,
            ) from exc
        ms = (time.perf_counter() - started) * 1000
        body = self._body(response)
        self._record(method, url, json_body, response.status_code, body, ms, "")
        if self.breaker is not None:
            if response.status_code >= 500:
                self.breaker.record_failure()
            elif response.status_code != 429:  # throttled says nothing about whether it is up
                self.breaker.record_success()
        if response.status_code >= 300:
            raise self.error_from(method, path, response, body)
        return response

    def prepare_request(self, method: str, url: str, headers: dict[str, str]) -> None:
        """Subclasses add authentication to ``headers`` here (a token, or a signature of ``url``)."""

    def error_from(self, method: str, path: str, response: Response, body: Any) -> SyncError:
        if GIFT_CARD_PATH.search(path):  # errors are kept with items: a gift card's number never is
            path, body = redact_gift_card_url(path), redact_gift_cards(body)
        message = body.get("message") if isinstance(body, dict) else None
        # The error is kept with the item: a card number the answer echoes is masked in it.
        text = mask_card_numbers(str(message or (body if isinstance(body, str) else "") or response.reason))
        body = redact(body)
        if 300 <= response.status_code < 400:
            moved = redact_gift_card_url(str(response.headers.get("Location") or "another address"))
            return FatalError(f"{self.destination} {method} {path} answered {response.status_code}: a redirect to {moved}",
                              hint=f"the {self.destination} API is not at this address: set its URL to where it "
                                   "points (a redirect is not followed, so a write is never sent twice)",
                              status=response.status_code, destination=self.destination)
        return error_for_status(
            response.status_code,
            f"{self.destination} {method} {path} answered {response.status_code}: {text}",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            details=body,
            destination=self.destination,
        )

    @staticmethod
    def _body(response: Response) -> Any:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text[:2000]

    def _record(self, method: str, url: str, request_body: Any, status: int | None, response_body: Any,
                ms: float, error: str) -> None:
        if self.on_exchange is None or (self.exchange_wanted is not None and not self.exchange_wanted()):
            return
        if GIFT_CARD_PATH.search(urlsplit(url).path):
            url = redact_gift_card_url(url)
            request_body, response_body = redact_gift_cards(request_body), redact_gift_cards(response_body)
        self.on_exchange(
            Exchange(
                destination=self.destination,
                method=method,
                url=url,
                request_body=redact_json(request_body),
                status=status,
                response_body=redact_json(response_body),
                ms=round(ms, 2),
                error=error,
            )
        )
