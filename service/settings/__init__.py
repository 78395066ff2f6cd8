"""Settings from the environment; every default lives in service/settings/defaults.py."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from service.settings import defaults


def _coerce(name: str, raw: Any, default: Any) -> Any:
    if isinstance(raw, str) and not isinstance(default, str):
        try:
            if isinstance(default, bool):
                return raw.strip().lower() in ("1", "true", "yes", "on")
            if isinstance(default, int):
                return int(raw)
            if isinstance(default, float):
                return float(raw)
        except ValueError:
            raise ValueError(f"setting {name} must be a {type(default).__name__}, got {raw!r}") from None
    return raw


def default_settings() -> dict[str, Any]:
    return {name: getattr(defaults, name) for name in dir(defaults) if name.isupper()}


def load_settings(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Defaults, then the environment, then explicit overrides (tests and the CLI pass these)."""
    env = os.environ if environ is None else environ
    settings = default_settings()
    for name, default in list(settings.items()):
        if name in env:
            settings[name] = _coerce(name, env[name], default)
    for name, value in (overrides or {}).items():
        settings[name] = _coerce(name, value, settings.get(name, value))
    data_dir = Path(settings["DATA_DIR"])
    settings["DATA_DIR"] = str(data_dir)
    return settings


def repo_path(relative: str) -> Path:
    """A path inside the checkout (rules/, models/), independent of the working directory."""
    path = Path(relative)
    if path.is_absolute():
        return path
    return Path(__file__).resolve().parents[2] / path
