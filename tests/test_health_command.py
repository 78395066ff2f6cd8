"""`tillbridge health`, the container health check (every 30 s in each container): it answers from
Redis and the database alone, and loads no more than it asks with."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# Run as the container runs it, then list what the process imported.
PROBE = """
import sys
from service.cli.main import main
try:
    main(["health"])
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in ("sklearn", "pandas", "flask", "service.flows.orders", "service.app.factory") if m in sys.modules)
print("loaded:", ",".join(heavy) or "-")
sys.exit(code)
"""


def health(settings: dict[str, Any], **overrides: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **{k: str(v) for k, v in settings.items()}, **overrides}
    return subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parent.parent)


def test_a_healthy_deployment_answers_ok_without_loading_the_flows_or_the_models(
        settings: dict[str, Any], runtime: Any) -> None:
    result = health(settings)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok" in result.stdout.splitlines()
    assert "loaded: -" in result.stdout, result.stdout


@pytest.mark.parametrize("broken", ["REDIS_URL", "DATABASE_URL"])
def test_an_unreachable_redis_or_database_is_unhealthy_and_says_which(
        settings: dict[str, Any], runtime: Any, broken: str) -> None:
    closed, said = {"REDIS_URL": ("redis://127.0.0.1:9/0", "127.0.0.1:9"),
                    "DATABASE_URL": ("postgresql+psycopg://nobody@127.0.0.1:9/none", "port 9")}[broken]
    result = health(settings, **{broken: closed, "DATABASE_CONNECT_TIMEOUT_SECONDS": "2"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "unhealthy:" in result.stderr and said in result.stderr, result.stderr
