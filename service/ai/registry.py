"""The model registry: which versions of each model family exist, and which one is promoted.

One JSON index (``models/registry.json``) for all families (anomaly, dedup, ...). Paths in it are
relative to the models directory, so a checkout can move. Writers take a file lock and replace the
index atomically; readers (the service) only need its modification time to notice a promotion.

    {"format": 1, "families": {"anomaly": {
        "promoted": "anomaly-20261127T080000-1a2b3c4d",
        "previous": ["anomaly-20261120T...", ...],          # promotions to roll back to, newest last
        "versions": {"anomaly-20261127T080000-1a2b3c4d": {"artifact": "anomaly/.../model.joblib", ...}}}}}
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

INDEX_NAME = "registry.json"
LOCK_NAME = ".registry.lock"
INDEX_FORMAT = 1


class RegistryError(Exception):
    """The registry cannot do what was asked; the message says what to do instead."""


@dataclass(frozen=True)
class ModelVersion:
    family: str
    version: str
    artifact: str  # relative to the models directory
    card: str | None = None  # the JSON model card, relative to the models directory
    created_at: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    promoted: bool = False

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("family")
        data.pop("version")
        data.pop("promoted")
        return data


class Registry:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.index_path = self.root / INDEX_NAME

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.index_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"format": INDEX_FORMAT, "families": {}}
        except json.JSONDecodeError as exc:
            raise RegistryError(f"{self.index_path} is not valid JSON ({exc}): restore it from git") from None
        if data.get("format") != INDEX_FORMAT:
            raise RegistryError(f"{self.index_path} has format {data.get('format')!r}, expected {INDEX_FORMAT}")
        return data

    def _write(self, data: Mapping[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".registry-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(data, file, indent=2, sort_keys=True)
            file.write("\n")
        os.replace(tmp, self.index_path)

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK_NAME, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                data = self._read()
                yield data
                self._write(data)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @staticmethod
    def _family(data: dict[str, Any], family: str) -> dict[str, Any]:
        return data["families"].setdefault(family, {"promoted": None, "previous": [], "versions": {}})

    def signature(self) -> tuple[int, int, int] | None:
        """Changes whenever the index is rewritten (a new file each time, so even within one clock tick)."""
        try:
            stat = self.index_path.stat()
        except FileNotFoundError:
            return None
        return stat.st_mtime_ns, stat.st_ino, stat.st_size

    def families(self) -> list[str]:
        return sorted(self._read()["families"])

    def versions(self, family: str | None = None) -> list[ModelVersion]:
        """Every registered version, oldest first, of one family or of all."""
        data = self._read()
        out = []
        for name, entry in sorted(data["families"].items()):
            if family is not None and name != family:
                continue
            for version, info in entry["versions"].items():
                out.append(ModelVersion(family=name, version=version, promoted=entry.get("promoted") == version,
                                        **info))
        return sorted(out, key=lambda v: (v.family, v.created_at, v.version))

    def get(self, family: str, version: str) -> ModelVersion:
        for candidate in self.versions(family):
            if candidate.version == version:
                return candidate
        known = ", ".join(v.version for v in self.versions(family)) or "none"
        raise RegistryError(f"{family} model version {version!r} is not registered in {self.index_path} "
                            f"(registered: {known}); see `tillbridge models list`")

    def promoted(self, family: str) -> ModelVersion | None:
        entry = self._read()["families"].get(family)
        if not entry or not entry.get("promoted"):
            return None
        return self.get(family, entry["promoted"])

    def card(self, family: str) -> dict[str, Any]:
        """The promoted version's JSON model card ({} when there is none)."""
        version = self.promoted(family)
        if version is None or not version.card:
            return {}
        return dict(json.loads((self.root / version.card).read_text(encoding="utf-8")))

    def artifact_path(self, version: ModelVersion) -> Path:
        return self.root / version.artifact

    def add(self, family: str, version: str, artifact: Path, *, card: Path | None = None,
            metrics: Mapping[str, Any] | None = None, promote: bool = False) -> ModelVersion:
        """Register an artifact that lives under the models directory."""
        relative = self._relative(artifact)
        entry = ModelVersion(family=family, version=version, artifact=relative,
                             card=self._relative(card) if card else None,
                             created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                             metrics=dict(metrics or {}))
        with self._locked() as data:
            self._family(data, family)["versions"][version] = entry.to_json()
        return self.promote(family, version) if promote else entry

    def promote(self, family: str, version: str) -> ModelVersion:
        """Make ``version`` the one the service uses; the one it replaces can be rolled back to."""
        with self._locked() as data:
            entry = self._family(data, family)
            if version not in entry["versions"]:
                known = ", ".join(entry["versions"]) or "none"
                raise RegistryError(f"cannot promote {family} {version!r}: not registered (registered: {known})")
            if not (self.root / entry["versions"][version]["artifact"]).is_file():
                raise RegistryError(f"cannot promote {family} {version!r}: its artifact "
                                    f"{entry['versions'][version]['artifact']} is missing from {self.root}")
            current = entry.get("promoted")
            if current == version:
                return self.get_from(data, family, version)
            if current:
                entry["previous"].append(current)
            entry["promoted"] = version
            return self.get_from(data, family, version)

    def rollback(self, family: str) -> ModelVersion:
        """Go back to the version promoted before the current one."""
        with self._locked() as data:
            entry = self._family(data, family)
            while entry["previous"]:
                candidate = entry["previous"].pop()
                if candidate in entry["versions"]:
                    entry["promoted"] = candidate
                    return self.get_from(data, family, candidate)
            raise RegistryError(f"no earlier {family} model to roll back to; promote a version by name "
                                "(`tillbridge models list` shows them)")

    @staticmethod
    def get_from(data: Mapping[str, Any], family: str, version: str) -> ModelVersion:
        entry = data["families"][family]
        return ModelVersion(family=family, version=version, promoted=entry.get("promoted") == version,
                            **entry["versions"][version])

    def _relative(self, path: Path) -> str:
        try:
            return Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            raise RegistryError(f"{path} is outside the models directory {self.root}: "
                                "write the artifact under it (--out) before registering") from None
