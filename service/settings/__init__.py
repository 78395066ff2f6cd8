"""Settings from the environment, typed and frozen; every default lives in service/settings/defaults.py."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from service.settings.defaults import Settings

__all__ = ["Settings", "SettingsError", "as_environment", "coerce", "load_settings", "repo_path", "replaced", "value_of"]

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")
_TYPES: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool}
FIELD_TYPES: dict[str, type] = {f.name: _TYPES[str(f.type)] for f in dataclasses.fields(Settings)}


class SettingsError(ValueError):
    """A setting's value does not fit its type, or no such setting exists; the message says which."""


def coerce(name: str, raw: Any) -> Any:
    """``raw`` (text from the environment or a form, or a Python value) as setting ``name``'s type."""
    kind = FIELD_TYPES.get(name)
    if kind is None:
        raise SettingsError(f"there is no setting {name}: service/settings/defaults.py lists them")
    if isinstance(raw, kind) and not (kind is int and isinstance(raw, bool)):
        return raw
    if kind is str:
        if isinstance(raw, bool | int | float):
            return str(raw)
    elif kind is bool:
        if isinstance(raw, str) and raw.strip().lower() in _TRUE + _FALSE:
            return raw.strip().lower() in _TRUE
        if isinstance(raw, int) and raw in (0, 1):
            return bool(raw)
    elif isinstance(raw, str):
        try:
            return kind(raw.strip())
        except ValueError:
            pass
    elif kind is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    elif kind is int and isinstance(raw, float) and raw.is_integer():
        return int(raw)
    expected = {bool: "true or false (1/0, yes/no, on/off)", int: "a whole number", float: "a number",
                str: "text"}[kind]
    raise SettingsError(f"setting {name} must be {expected}, got {raw!r}")


def value_of(settings: Settings, name: str) -> Any:
    """Setting ``name`` where the name comes from data (rules/alerts.yaml, a workflow, a page):
    KeyError when Tillbridge has no such setting."""
    if name not in FIELD_TYPES:
        raise KeyError(name)
    return getattr(settings, name)


def as_environment(settings: Settings) -> dict[str, str]:
    """``settings`` as environment variables, for a process started with the same settings."""
    return {name: str(getattr(settings, name)) for name in FIELD_TYPES}


def replaced(settings: Settings, changes: Mapping[str, Any]) -> Settings:
    """A copy of ``settings`` with ``changes`` (converted to each setting's type)."""
    if not changes:
        return settings
    return dataclasses.replace(settings, **{name: coerce(name, value) for name, value in changes.items()})


def load_settings(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Defaults, then the environment, then explicit overrides (tests and the CLI pass these).

    Each value is converted once, here: a value that does not fit its setting stops the process
    with a message naming the setting and what it takes."""
    env = os.environ if environ is None else environ
    found = {name: env[name] for name in FIELD_TYPES if name in env}
    settings = replaced(Settings(), {**found, **(overrides or {})})
    return dataclasses.replace(settings, DATA_DIR=str(Path(settings.DATA_DIR)))


def repo_path(relative: str) -> Path:
    """A path inside the checkout (rules/, models/), independent of the working directory."""
    path = Path(relative)
    if path.is_absolute():
        return path
    return Path(__file__).resolve().parents[2] / path
