"""Loading the declarative rules in rules/ (YAML), cached and reloaded when a file changes."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import yaml

from service.settings import repo_path


class RuleError(Exception):
    """A rules file is missing or malformed; the message names the file and what to fix."""


class Rules:
    def __init__(self, directory: str) -> None:
        self.directory = repo_path(directory)
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def path(self, name: str) -> Path:
        return self.directory / name

    def load(self, name: str) -> Any:
        """The parsed YAML of ``rules/<name>``; re-read only when its modification time changes."""
        path = self.path(name)
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            raise RuleError(f"rules file {path} is missing") from None
        with self._lock:
            cached = self._cache.get(name)
            if cached and cached[0] == mtime:
                return cached[1]
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise RuleError(f"rules file {path} is not valid YAML: {exc}") from None
        with self._lock:
            self._cache[name] = (mtime, data)
        return data
