"""The whole Tillbridge stack for end-to-end tests: both sandboxes and the web service on threads
in this process (over real HTTP), workers and the scheduler as real subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from flask import Flask

from service.app.processes import ProcessGroup
from service.kernel.signing import signed_headers
from service.sandbox.server import RunningSandbox, start_in_thread

HEARTLAND_TOKEN = "heartland-test-token"
MAGENTO_TOKEN = "magento-test-token"
WEBHOOK_SECRET = "test-webhook-secret-3b9f6e1a0c4d7e28f5a6b1c9"
# A worker or scheduler stops within its grace (WORKER_STOP_GRACE_SECONDS) after SIGTERM; this
# leaves room for a loaded machine. One that takes longer fails the test.
STOP_WAIT_SECONDS = 15.0


@dataclass
class Stack:
    app: Flask
    settings: dict[str, Any]
    web: RunningSandbox
    heartland: RunningSandbox
    magento: RunningSandbox
    workdir: Path
    group: ProcessGroup = field(init=False)

    def __post_init__(self) -> None:
        self.group = ProcessGroup(self.workdir)

    @property
    def runtime(self) -> Any:
        return self.app.extensions["tillbridge"]

    @property
    def processes(self) -> dict[str, subprocess.Popen[bytes]]:
        return self.group.processes

    # -- processes --------------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({k: str(v) for k, v in self.settings.items()})
        env["AUTO_MIGRATE"] = "0"
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        return self.group.start(name, *args, env=self.env())

    def start_worker(self, name: str = "worker", *, fork: bool = False) -> subprocess.Popen[bytes]:
        return self.start(name, "worker", "--name", f"{name}-{uuid.uuid4().hex[:6]}", *(["--fork"] if fork else []))

    def start_scheduler(self) -> subprocess.Popen[bytes]:
        return self.start("scheduler", "scheduler")

    def wait_started(self, name: str, timeout: float = 60.0) -> None:
        """Wait until a worker is registered with RQ, or the scheduler says it runs (its handlers are set)."""
        from rq import Worker

        proc = self.processes[name]

        def started() -> bool:
            if name == "scheduler":
                return "scheduler running" in (self.workdir / "scheduler.log").read_text(errors="replace")
            return any(w.pid == proc.pid for w in Worker.all(connection=self.runtime.redis))

        self.wait_for(started, timeout=timeout, what=f"{name} to start")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to one process's group and wait for it to go (SIGKILL after STOP_WAIT_SECONDS)."""
        proc = self.processes[name]
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=STOP_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            raise AssertionError("\n".join(self.group.stop(0, [name]))) from None
        del self.processes[name]

    def magento_nonconforming(self) -> list[str]:
        """Requests Tillbridge sent to the Magento sandbox that Adobe's published schema refuses."""
        from tests.connectors.magento_schema import schema_path, validate_request

        if not schema_path().exists():
            return []
        problems = []
        for r in self.requests_log(self.magento, "/rest"):
            for problem in validate_request(r["method"], r["path"], r["body"], r["query"]):
                problems.append(f"{r['method']} {r['path']}: {problem}")
        return problems

    def stop(self) -> None:
        """End every process and server of the stack, whatever fails on the way, then report."""
        problems: list[str] = []
        nonconforming: list[str] = []
        try:
            # Every request our Magento client sent during the scenario must conform to the schema.
            nonconforming = self.magento_nonconforming()
        except Exception as exc:  # noqa: BLE001 - reported below, after everything is stopped
            problems.append(f"could not read the Magento sandbox's request log: {exc!r}")
        problems += self.group.stop(STOP_WAIT_SECONDS)
        for server in (self.magento, self.web, self.heartland):
            try:
                server.stop()
            except Exception as exc:  # noqa: BLE001
                problems.append(f"could not stop the server at {server.url}: {exc!r}")
        # This process's own runtime lets its database connections go (PostgreSQL counts them).
        self.runtime.store.dispose()
        assert not problems, "\n".join(problems)
        assert not nonconforming, "requests outside the Magento schema:\n" + "\n".join(nonconforming)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.workdir.glob("*.log")))

    # -- Magento side -------------------------------------------------------------------------------
    def checkout(self, items: list[dict[str, Any]], email: str | None = None, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"items": items, **extra}
        if email:
            body["customer_email"] = email
        response = requests.post(f"{self.magento.url}/__sandbox/checkout", json=body, timeout=10)
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    def magento_get(self, path: str, **params: Any) -> Any:
        response = requests.get(f"{self.magento.url}/rest/V1/{path.lstrip('/')}", params=params,
                                headers={"Authorization": f"Bearer {MAGENTO_TOKEN}"}, timeout=10)
        response.raise_for_status()
        return response.json()

    def magento_post(self, path: str, body: dict[str, Any]) -> Any:
        """A write to the Magento sandbox's REST API as the shop (or its admin) makes it; 200 expected."""
        response = requests.post(f"{self.magento.url}/rest/V1/{path.lstrip('/')}", json=body, timeout=10,
                                 headers={"Authorization": f"Bearer {MAGENTO_TOKEN}"})
        assert response.status_code == 200, response.text
        return response.json()

    def send_event(self, event: str, data: dict[str, Any], event_id: str | None = None,
                   store_code: str = "default", secret: str = WEBHOOK_SECRET) -> requests.Response:
        body = json.dumps({"event": event, "occurred_at": "2026-11-27T10:00:00+00:00", "store_code": store_code,
                           "data": data}).encode()
        headers = signed_headers(secret, event_id or str(uuid.uuid4()), body)
        return requests.post(f"{self.web.url}/webhooks/magento", data=body, headers=headers, timeout=10)

    # -- Heartland side -----------------------------------------------------------------------------
    def heartland_get(self, path: str, **params: Any) -> Any:
        response = requests.get(f"{self.heartland.url}/api/{path.lstrip('/')}", params=params,
                                headers={"Authorization": f"Bearer {HEARTLAND_TOKEN}"}, timeout=10)
        response.raise_for_status()
        return response.json()

    def heartland_orders(self) -> list[dict[str, Any]]:
        return list(self.heartland_get("sales/orders", per_page=500)["results"])

    def heartland_hook_url(self) -> str:
        """Where Heartland posts to this stack: the web service's URL with the webhook token."""
        return f"{self.web.url}/webhooks/heartland/{self.runtime.settings.TILLBRIDGE_HEARTLAND_WEBHOOK_TOKEN}"

    def register_heartland_webhook(self, *events: str) -> None:
        """Subscribe this stack to the Heartland sandbox's deliveries of ``events``."""
        response = requests.post(f"{self.heartland.url}/api/webhooks", timeout=10,
                                 headers={"Authorization": f"Bearer {HEARTLAND_TOKEN}"},
                                 json={"url": self.heartland_hook_url(), "events": list(events)})
        assert response.status_code in (200, 201), response.text

    def faults(self, server: RunningSandbox, **spec: Any) -> None:
        requests.post(f"{server.url}/__sandbox/faults", json=spec, timeout=5).raise_for_status()

    def requests_log(self, server: RunningSandbox, path: str = "") -> list[dict[str, Any]]:
        response = requests.get(f"{server.url}/__sandbox/requests", params={"path": path}, timeout=10)
        return list(response.json()["requests"])

    # -- waiting --------------------------------------------------------------------------------------
    def wait_for(self, condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if condition():
                return
            for name, code in self.group.exited(ignore=["killed"]):
                raise AssertionError(f"{name} exited with {code}\n{self.logs()}")
            time.sleep(0.2)
        from service.store import items

        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; items by state: "
                             f"{items.counts_by_state(self.runtime.store)}\n{self.heartland_deliveries()}"
                             f"{self.logs()}")

    def heartland_deliveries(self) -> str:
        """The Heartland sandbox's last webhook deliveries to this stack, for a failure message."""
        try:
            answer = requests.get(f"{self.heartland.url}/__sandbox/webhook_deliveries", timeout=5).json()
        except (requests.RequestException, ValueError) as exc:
            return f"--- Heartland webhook deliveries: could not read them ({exc})\n"
        rows = answer.get("deliveries", answer) if isinstance(answer, dict) else answer
        if not rows:
            return ""
        return "--- Heartland webhook deliveries (last 10)\n" + "\n".join(str(r) for r in list(rows)[-10:]) + "\n"

    def states(self) -> dict[str, int]:
        from service.store import items

        return items.counts_by_state(self.runtime.store)

    def settled(self, expected: int) -> bool:
        states = self.states()
        return sum(v for k, v in states.items() if k not in ("received", "processing")) >= expected


def build_stack(settings: dict[str, Any], workdir: Path) -> Stack:
    from service.app.factory import create_app
    from service.sandbox.heartland.app import create_app as create_heartland
    from service.sandbox.magento.app import create_app as create_magento

    heartland = start_in_thread(create_heartland(seed="demo", token=HEARTLAND_TOKEN))
    full = {
        # The nightly stock forecast would run in each stack's first sweep (Redis is new per test): seconds
        # of fitting that hold up that sweep's retries and polls. tests/flows/test_forecasts.py covers it;
        # a test that wants it in its stack sets FORECAST_INTERVAL_SECONDS.
        "FORECAST_INTERVAL_SECONDS": 0,
        **settings,
        "TILLBRIDGE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "TILLBRIDGE_HEARTLAND_URL": f"{heartland.url}/api",
        "TILLBRIDGE_HEARTLAND_TOKEN": HEARTLAND_TOKEN,
        "TILLBRIDGE_MAGENTO_TOKEN": MAGENTO_TOKEN,
    }
    # The Magento sandbox needs the web URL for its events, and the app needs the sandbox's URL:
    # bind the web server first, then point the app at the sandbox before serving anything.
    app = create_app({**full, "AUTO_MIGRATE": False, "TILLBRIDGE_MAGENTO_URL": "http://127.0.0.1:9/rest"})
    web = start_in_thread(app)
    magento = start_in_thread(create_magento(seed="demo", token=MAGENTO_TOKEN,
                                             events_url=f"{web.url}/webhooks/magento",
                                             webhook_secret=WEBHOOK_SECRET))
    full["TILLBRIDGE_MAGENTO_URL"] = f"{magento.url}/rest"
    app.extensions["tillbridge"].reconfigure(TILLBRIDGE_MAGENTO_URL=full["TILLBRIDGE_MAGENTO_URL"])
    return Stack(app=app, settings=full, web=web, heartland=heartland, magento=magento, workdir=workdir)
