"""Placeholder replaced below."""
from typing import Any


def run_due(runtime: Any) -> None:
    return None
