"""Finding PHP and PHPUnit for the Magento module's tests (installed by .ci/php-deps.sh)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

MODULE = Path(__file__).resolve().parents[2] / "magento-module"
SEND_EVENT = MODULE / "Test" / "Contract" / "send_event.php"
SKIP_REASON = "php-cli and phpunit not installed: PHP module tests skipped"
EXTENSIONS = ("curl", "dom", "json", "mbstring", "pdo_sqlite", "simplexml")


def require_php(*, phpunit: bool) -> str:
    """The php binary; skips the test when PHP (or PHPUnit, if asked) is not installed."""
    php = shutil.which("php")
    if php is None or (phpunit and shutil.which("phpunit") is None):
        pytest.skip(SKIP_REASON)
    loaded = subprocess.run([php, "-m"], capture_output=True, text=True, check=True).stdout.lower().split()
    missing = [ext for ext in EXTENSIONS if ext not in loaded]
    if missing:
        pytest.fail(f"PHP extensions {', '.join(missing)} are missing: run `bash .ci/php-deps.sh` to install them")
    return php


def send_event(url: str, secret: str, data: dict[str, Any], *flags: str, event: str = "order.created") -> dict[str, Any]:
    """Runs the module's real writer and sender (Test/Contract/send_event.php) once against url and
    returns the outbox row after each round: status, http_status, attempts, last_error, retry_in_seconds."""
    php = require_php(phpunit=False)
    command = [php, str(SEND_EVENT), f"--url={url}", f"--secret={secret}", f"--event={event}",
               f"--data={json.dumps(data)}", *flags]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"send_event.php failed:\n{result.stdout}\n{result.stderr}"
    return dict(json.loads(result.stdout))
