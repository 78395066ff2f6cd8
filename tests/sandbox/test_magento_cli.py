"""``tillbridge sandbox magento`` serves the sandbox and signs events with TILLBRIDGE_WEBHOOK_SECRET."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from flask import Flask, request

from service.kernel.signing import verify
from service.sandbox.server import start_in_thread

ROOT = Path(__file__).resolve().parents[2]


def os_assigned_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_cli_serves_the_sandbox_and_posts_signed_events() -> None:
    received: list[bytes] = []
    hook = Flask("hook")

    @hook.post("/webhooks/magento")
    def take() -> tuple[str, int]:
        verify(["cli-secret"], dict(request.headers), request.get_data())
        received.append(request.get_data())
        return "", 202

    receiver = start_in_thread(hook)
    port = os_assigned_port()
    env = {**os.environ, "TILLBRIDGE_WEBHOOK_SECRET": "cli-secret"}
    command = [sys.executable, "-c", "from service.cli.main import main; main()", "sandbox", "magento", "--port", str(port),
               "--token", "cli-token", "--seed", "demo", "--events-url", f"{receiver.url}/webhooks/magento"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{url}/__sandbox/faults", timeout=1)
                break
            except requests.ConnectionError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "the sandbox exited"
                assert time.monotonic() < deadline, "the sandbox did not start within 30 s"
                time.sleep(0.1)
        order = requests.get(f"{url}/rest/V1/orders/1", headers={"Authorization": "Bearer cli-token"}, timeout=5)
        assert order.status_code == 200 and order.json()["increment_id"] == "000000001"
        requests.post(f"{url}/__sandbox/checkout", json={"items": [{"sku": "TEE-1000", "qty": 1}]}, timeout=5)
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert received and b'"event":"order.created"' in received[0]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        receiver.stop()
