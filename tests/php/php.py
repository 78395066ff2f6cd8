"""Finding PHP and PHPUnit for the Magento module's tests (installed by .ci/php-deps.sh)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

MODULE = Path(__file__).resolve().parents[2] / "magento-module"
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
