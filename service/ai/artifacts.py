"""Model artifacts that are checked before they are unpickled.

joblib files run code when loaded, and a scikit-learn model pickled by one version may load into
another and predict wrongly without a word. So every artifact is written with a sidecar
``<file>.meta.json`` (plain JSON, safe to read): the scikit-learn, numpy and Python versions it was
written with, and the file's SHA-256. :func:`load_artifact` reads the sidecar first and refuses

- a file whose SHA-256 differs from the one recorded (changed or replaced since it was written:
  nothing of it is unpickled), and
- a file written by another scikit-learn minor version (say which, and how to retrain),

then unpickles it. Only artifacts this project wrote, in models/, are ever loaded.
"""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn

META_SUFFIX = ".meta.json"


class ArtifactError(ValueError):
    """An artifact that must not be loaded; the message says why and what to do."""


def meta_path(path: Path) -> Path:
    return path.with_name(path.name + META_SUFFIX)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def save_artifact(payload: Any, path: Path, *, retrain: str) -> dict[str, Any]:
    """joblib-dump ``payload`` to ``path`` and write its sidecar; ``retrain`` is the command that
    rebuilds it (quoted in errors)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(payload, path, compress=3)
    meta = {"sha256": file_sha256(path), "sklearn": sklearn.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "retrain": retrain}
    meta_path(path).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def load_artifact(path: Path, *, what: str) -> Any:
    """Unpickle ``path`` once its sidecar says it is the file written, by this scikit-learn."""
    sidecar = meta_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} is missing")
    if not sidecar.is_file():
        raise ArtifactError(f"{what} {path} has no {sidecar.name}: its origin and scikit-learn version are unknown, "
                            "so it is not loaded; retrain it with this checkout")
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ArtifactError(f"{sidecar} is not valid JSON ({exc}); retrain the model") from None
    retrain = meta.get("retrain") or "retrain it"
    actual = file_sha256(path)
    if actual != meta.get("sha256"):
        raise ArtifactError(f"{what} {path} changed since it was written (SHA-256 {actual[:12]}…, recorded "
                            f"{str(meta.get('sha256'))[:12]}…): not loaded; restore it from git or {retrain}")
    if _minor(str(meta.get("sklearn", ""))) != _minor(sklearn.__version__):
        raise ArtifactError(f"{what} {path} was written with scikit-learn {meta.get('sklearn')}, this service runs "
                            f"{sklearn.__version__}: install scikit-learn=={meta.get('sklearn')} or {retrain}")
    return joblib.load(path)
