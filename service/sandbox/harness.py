"""What both sandboxes share: runtime fault injection, the request log, and reset.

``POST /__sandbox/faults`` takes any of::

    {"error_rate": 0.2, "status": 503, "latency_ms": 50, "outage_seconds": 30,
     "rate_limit_per_second": 20, "reset_rate": 0.1, "slow_rate": 0.1, "slow_ms": 2000,
     "fail_next": {"method": "POST", "path": "/api/sales/orders/12/payments", "count": 1, "status": 503,
                   "skip": 0}}

``error_rate`` fails that share of requests with ``status``; ``outage_seconds`` answers every
request with 503 for that long from now; ``rate_limit_per_second`` answers 429 with ``Retry-After``
past that rate (token bucket); ``latency_ms`` delays every response; ``slow_rate``/``slow_ms``
delay a share of them; ``reset_rate`` drops that share of connections without a response;
``fail_next`` fails the next ``count`` requests whose path starts with ``path`` (and whose method
is ``method``, when given) with ``status``, after letting ``skip`` of them through (default 0): one
chosen call of a run fails (the second read of an order, say), the rest answer.
``POST /__sandbox/faults`` with ``{}`` clears them. ``POST /__sandbox/reset`` restores the seeded
state and clears faults and the log. ``GET /__sandbox/requests`` lists the requests received,
oldest first (``?since=N`` for those after sequence number N, ``?path=`` to filter by prefix).
None of these need authentication.
"""

from __future__ import annotations

import html
import json
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, g, jsonify, request

SANDBOX_PREFIX = "/__sandbox"
MAX_LOGGED_REQUESTS = 50_000


@dataclass
class Faults:
    error_rate: float = 0.0
    status: int = 503
    latency_ms: float = 0.0
    outage_until: float = 0.0
    rate_limit_per_second: float = 0.0
    reset_rate: float = 0.0
    slow_rate: float = 0.0
    slow_ms: float = 0.0
    fail_method: str = ""
    fail_path: str = ""
    fail_count: int = 0
    fail_skip: int = 0

    def describe(self) -> dict[str, Any]:
        remaining = max(0.0, self.outage_until - time.time())
        return {
            "error_rate": self.error_rate,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "outage_seconds_remaining": round(remaining, 3),
            "rate_limit_per_second": self.rate_limit_per_second,
            "reset_rate": self.reset_rate,
            "slow_rate": self.slow_rate,
            "slow_ms": self.slow_ms,
            "fail_next": {"method": self.fail_method, "path": self.fail_path, "count": self.fail_count,
                          "status": self.status, "skip": self.fail_skip} if self.fail_count else None,
        }


@dataclass
class TokenBucket:
    rate: float
    tokens: float = 0.0
    stamp: float = field(default_factory=time.monotonic)

    def take(self) -> float:
        """Return 0 when a token was taken, else the seconds until one is free."""
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class SandboxError(Exception):
    """An error a sandbox answers in its system's own shape: an HTTP ``status`` and ``body()``.

    Each sandbox's family (Heartland's ``ApiError``, Magento's ``MagentoError``) derives from it;
    :meth:`Harness.init_app` answers any of them raised in a view, fault and log hooks included.
    """

    status: int = 400

    def body(self) -> Any:
        raise NotImplementedError

    def response(self) -> Response:
        resp = jsonify(self.body())
        resp.status_code = self.status
        return resp


class ConnectionReset(ConnectionResetError):
    """Raised to make the server drop the connection without an HTTP response."""


class Harness:
    """Fault injection and request recording for one sandbox app."""

    def __init__(self, name: str, on_reset: Callable[[], None], seed: int = 0) -> None:
        self.name = name
        self.on_reset = on_reset
        self.faults = Faults()
        self.bucket: TokenBucket | None = None
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.log: list[dict[str, Any]] = []
        self.sequence = 0

    def init_app(self, app: Flask) -> None:
        app.extensions["sandbox_harness"] = self
        app.before_request(self._before)
        app.after_request(self._after)
        app.register_error_handler(SandboxError, lambda exc: exc.response())
        app.add_url_rule(f"{SANDBOX_PREFIX}/faults", "sandbox_faults", self._faults_view, methods=["GET", "POST"])
        app.add_url_rule(f"{SANDBOX_PREFIX}/reset", "sandbox_reset", self._reset_view, methods=["POST"])
        app.add_url_rule(f"{SANDBOX_PREFIX}/requests", "sandbox_requests", self._requests_view, methods=["GET"])
        app.add_url_rule("/", "sandbox_index", self._index_view, methods=["GET"])
        app.add_url_rule(SANDBOX_PREFIX, "sandbox_index_prefixed", self._index_view, methods=["GET"])

    # -- configuration -------------------------------------------------------------------------
    def set_faults(self, spec: dict[str, Any]) -> None:
        with self.lock:
            f = Faults()
            f.error_rate = float(spec.get("error_rate", 0.0))
            f.status = int(spec.get("status", 503))
            f.latency_ms = float(spec.get("latency_ms", 0.0))
            outage = float(spec.get("outage_seconds", 0.0))
            f.outage_until = time.time() + outage if outage > 0 else 0.0
            f.rate_limit_per_second = float(spec.get("rate_limit_per_second", 0.0))
            f.reset_rate = float(spec.get("reset_rate", 0.0))
            f.slow_rate = float(spec.get("slow_rate", 0.0))
            f.slow_ms = float(spec.get("slow_ms", 0.0))
            fail_next = spec.get("fail_next") or {}
            if fail_next:
                f.fail_method = str(fail_next.get("method") or "").upper()
                f.fail_path = str(fail_next.get("path") or "/")
                f.fail_count = int(fail_next.get("count", 1))
                f.fail_skip = int(fail_next.get("skip", 0))
                f.status = int(fail_next.get("status", f.status))
            self.faults = f
            rate = f.rate_limit_per_second
            self.bucket = TokenBucket(rate=rate, tokens=rate) if rate > 0 else None

    def reset(self) -> None:
        self.set_faults({})
        with self.lock:
            self.log.clear()
            self.sequence = 0
        self.on_reset()

    # -- request hooks -------------------------------------------------------------------------
    def _before(self) -> Response | None:
        g.sandbox_started = time.perf_counter()
        if request.path.startswith(SANDBOX_PREFIX):
            return None
        with self.lock:
            f = self.faults
            roll = self.random.random()
            reset_roll = self.random.random()
            slow_roll = self.random.random()
            wait = self.bucket.take() if self.bucket else 0.0
            chosen = bool(f.fail_count and request.path.startswith(f.fail_path)
                          and (not f.fail_method or request.method == f.fail_method))
            if chosen and f.fail_skip:
                f.fail_skip -= 1
                chosen = False
            elif chosen:
                f.fail_count -= 1
        delay = f.latency_ms / 1000.0
        if f.slow_rate and slow_roll < f.slow_rate:
            delay += f.slow_ms / 1000.0
        if delay:
            time.sleep(delay)
        if f.reset_rate and reset_roll < f.reset_rate:
            raise ConnectionReset()
        if f.outage_until and time.time() < f.outage_until:
            return self._fault_response(503, "Service Unavailable (sandbox outage)")
        if wait:
            resp = self._fault_response(429, "Too Many Requests (sandbox rate limit)")
            resp.headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return resp
        if chosen:
            return self._fault_response(f.status, f"injected fault ({f.status}) on {request.method} {request.path}")
        if f.error_rate and roll < f.error_rate:
            return self._fault_response(f.status, f"injected fault ({f.status})")
        return None

    def _fault_response(self, status: int, message: str) -> Response:
        resp = jsonify({"error": "sandbox_fault", "message": message})
        resp.status_code = status
        g.sandbox_fault = True
        return resp

    def _after(self, response: Response) -> Response:
        if request.path.startswith(SANDBOX_PREFIX):
            return response
        body: Any = None
        raw = request.get_data(cache=True)
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        entry = {
            "method": request.method,
            "path": request.path,
            "query": request.query_string.decode("utf-8", "replace"),
            "status": response.status_code,
            "body": body,
            "fault": bool(g.get("sandbox_fault", False)),
            "at": time.time(),
            "ms": round((time.perf_counter() - g.get("sandbox_started", time.perf_counter())) * 1000, 3),
        }
        with self.lock:
            self.sequence += 1
            entry["seq"] = self.sequence
            self.log.append(entry)
            if len(self.log) > MAX_LOGGED_REQUESTS:
                del self.log[: len(self.log) - MAX_LOGGED_REQUESTS]
        return response

    # -- views ---------------------------------------------------------------------------------
    def _index_view(self) -> Response:
        """What answers here, for a person who opens the sandbox's URL in a browser."""
        api = {"heartland": ("/api", "Heartland Retail REST API (Bearer token)",
                             "reference/heartland-retail-api.md"),
               "magento": ("/rest/V1", "Magento 2 REST API (Bearer token or OAuth 1.0a)",
                           "reference/magento-rest-api.md")}.get(self.name, ("/", self.name, ""))
        with self.lock:
            logged = len(self.log)
        faults = self.faults.describe()
        rows = [
            (f"{api[0]}/…", api[1]),
            (f"{SANDBOX_PREFIX}/requests", f"every request received, oldest first ({logged} so far); ?path= to filter"),
            (f"{SANDBOX_PREFIX}/faults", "GET: the faults in force; POST JSON to inject errors, latency, an outage "
                                          "or a rate limit; POST {} clears them"),
            (f"{SANDBOX_PREFIX}/reset", "POST: back to the seeded state, faults and log cleared"),
        ]
        items = "".join(f"<tr><td><a href='{html.escape(path)}'><code>{html.escape(path)}</code></a></td>"
                        f"<td>{html.escape(what)}</td></tr>" for path, what in rows)
        body = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{self.name} sandbox</title>"
                "<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem;max-width:60rem;color:#1d2330}"
                "td{padding:.3rem .8rem .3rem 0;vertical-align:top}code{font-size:13px}</style></head><body>"
                f"<h1>{self.name.capitalize()} sandbox</h1><p>A simulator of the real API for Tillbridge's demo and "
                f"tests, following {html.escape(api[2])}. Faults in force: <code>{html.escape(json.dumps(faults))}"
                f"</code></p><table>{items}</table></body></html>")
        return Response(body, mimetype="text/html")

    def _faults_view(self) -> Response:
        if request.method == "POST":
            spec = request.get_json(silent=True)
            if not isinstance(spec, dict):
                resp = jsonify({"error": "bad_request", "message": "body must be a JSON object of faults"})
                resp.status_code = 400
                return resp
            self.set_faults(spec)
        return jsonify(self.faults.describe())

    def _reset_view(self) -> Response:
        self.reset()
        return jsonify({"reset": True})

    def _requests_view(self) -> Response:
        since = int(request.args.get("since", 0))
        prefix = request.args.get("path", "")
        with self.lock:
            rows = [r for r in self.log if r["seq"] > since and r["path"].startswith(prefix)]
        return jsonify({"requests": rows, "last": self.sequence})
