"""The HTTP plumbing every connector shares: pooled sessions, timeouts, a per-destination rate
limiter, failure classes from status codes, and an exchange hook for traces (redacted)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage, Storage
from limits.strategies import MovingWindowRateLimiter
from requests.adapters import HTTPAdapter

from service.kernel.cards import mask_card_numbers
from service.kernel.errors import RateLimitedError, RetryableError, SyncError, error_for_status
from service.kernel.exchanges import Exchange, ExchangeHook
from service.kernel.redaction import (
    GIFT_CARD_PATH,
    redact,
    redact_gift_card_url,
    redact_gift_cards,
    redact_json,
)


class _Session(requests.Session):
    """A requests session that reads the environment's proxy settings (``HTTPS_PROXY``, ``NO_PROXY``, …)
    and CA bundle (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``) once per destination, not on every call
    (requests walks the whole environment twice a call: a tenth of a worker's CPU). ``~/.netrc`` is not
    read: each connector sends its own credentials. A change to those variables takes a restart."""

    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False  # the environment is read below, once per origin
        self._environment: dict[tuple[str, str], tuple[dict[str, str], str | None]] = {}

    def merge_environment_settings(self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> Any:
        text = url.decode() if isinstance(url, bytes) else str(url or "")
        parts = urlsplit(text)
        origin = (parts.scheme, parts.netloc)
        known = self._environment.get(origin)
        if known is None:
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            known = self._environment[origin] = (dict(requests.utils.get_environ_proxies(text)), bundle)
        environment_proxies, bundle = known
        proxies = {**environment_proxies, **(proxies or {})}
        if bundle and verify in (True, None):
            verify = bundle
        return super().merge_environment_settings(url, proxies, stream, verify, cert)


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
        self.session = _Session()
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def url(self, path: str) -> str:
        if path.startswith("http://") or path.startswith("https://"):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def send(self, method: str, path: str, *, json_body: Any = None, params: Any = None,
             headers: dict[str, str] | None = None) -> requests.Response:
        """Send one request; raise a classified SyncError for anything but 2xx/3xx."""
        url = self.url(path)
        kwargs: dict[str, Any] = {"params": params, "headers": dict(headers or {}), "timeout": self.timeout}
        if json_body is not None:
            kwargs["data"] = json.dumps(json_body, separators=(",", ":"))
            kwargs["headers"].setdefault("Content-Type", "application/json")
        kwargs["headers"].setdefault("Accept", "application/json")
        self.prepare_request(method, url, kwargs)
        if method != "GET" and self.before_write is not None:
            self.before_write()  # a run that lost its record (service/engine/lease.py) writes nothing
        if self.breaker is not None:
            self.breaker.before_call()
        self.limiter.acquire()
        started = time.perf_counter()
        try:
            response = self._within_deadline(method, url, kwargs)
        except (requests.RequestException, CallDeadlineExceeded) as exc:
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
        if response.status_code >= 400:
            raise self.error_from(method, path, response, body)
        return response

    def _within_deadline(self, method: str, url: str, kwargs: dict[str, Any]) -> requests.Response:
        """The answer, read whole before ``deadline_seconds`` have passed since the call began."""
        deadline = time.monotonic() + self.deadline_seconds
        connect, read = kwargs["timeout"]
        kwargs = {**kwargs, "timeout": (min(connect, self.deadline_seconds), min(read, self.deadline_seconds)),
                  "stream": True}
        response = self.session.request(method, url, **kwargs)
        complete = False
        try:
            body = bytearray()
            # read1 returns what has arrived (a plain read waits to fill its buffer), so the clock is
            # looked at between every few bytes of a slow answer.
            while chunk := response.raw.read1(64 * 1024, decode_content=True):
                body += chunk
                if time.monotonic() > deadline:
                    raise CallDeadlineExceeded(f"the answer was still arriving after {self.deadline_seconds:g} s")
            response._content = bytes(body)  # the body as requests keeps it when not streaming
            complete = True
        finally:
            if complete:
                # Read to the end: the connection goes back to the pool for the next call (closing
                # the response would close it, and every call would pay a new connection).
                response.raw.release_conn()
            else:
                response.close()
        if time.monotonic() > deadline:
            raise CallDeadlineExceeded(f"the call took longer than {self.deadline_seconds:g} s")
        return response

    def prepare_request(self, method: str, url: str, kwargs: dict[str, Any]) -> None:
        """Subclasses add authentication here (headers or signing)."""

    def error_from(self, method: str, path: str, response: requests.Response, body: Any) -> SyncError:
        if GIFT_CARD_PATH.search(path):  # errors are kept with items: a gift card's number never is
            path, body = redact_gift_card_url(path), redact_gift_cards(body)
        message = body.get("message") if isinstance(body, dict) else None
        # The error is kept with the item: a card number the answer echoes is masked in it.
        text = mask_card_numbers(str(message or (body if isinstance(body, str) else "") or response.reason))
        body = redact(body)
        return error_for_status(
            response.status_code,
            f"{self.destination} {method} {path} answered {response.status_code}: {text}",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            details=body,
            destination=self.destination,
        )

    @staticmethod
    def _body(response: requests.Response) -> Any:
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
