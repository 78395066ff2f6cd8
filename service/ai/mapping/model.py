"""The learned combiner: turns a pair's evidence (mapping_features.FEATURES) into a calibrated confidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from service.ai.artifacts import ArtifactError, load_artifact, save_artifact
from service.ai.mapping.features import FEATURES
from service.settings import repo_path

MODEL_FILE = "models/mapping/combiner.joblib"
MODEL_CARD = "models/mapping/MODEL_CARD.md"


class ModelError(RuntimeError):
    """The combiner artifact is missing or does not fit this code."""


@dataclass
class Combiner:
    model: Any  # a fitted scikit-learn classifier with predict_proba
    features: tuple[str, ...] = FEATURES
    threshold: float = 0.5  # the confidence from which a pair is proposed as a mapping
    meta: dict[str, Any] = field(default_factory=dict)

    def score(self, evidence: np.ndarray) -> np.ndarray:
        """Confidence per row of evidence (n, len(features)), or per cell of a (s, t, features) cube."""
        shape = evidence.shape[:-1]
        flat = evidence.reshape(-1, evidence.shape[-1])
        if flat.shape[0] == 0:
            return np.zeros(shape)
        # One thread: OpenMP fan-out on a machine shared with sync workers is slower, not faster.
        with threadpool_limits(limits=1):
            return np.asarray(self.model.predict_proba(flat)[:, 1]).reshape(shape)

    def save(self, path: str | Path | None = None) -> Path:
        target = repo_path(str(path or MODEL_FILE))
        save_artifact({"model": self.model, "features": list(self.features), "threshold": self.threshold,
                       "meta": self.meta}, target, retrain="retrain it: tillbridge models train mapping")
        return target

    @classmethod
    def load(cls, path: str | Path | None = None) -> Combiner:
        source = repo_path(str(path or MODEL_FILE))
        if not source.exists():
            raise ModelError(f"mapping combiner {source} is missing: train it with "
                             "`tillbridge models train mapping`")
        try:
            data = load_artifact(source, what="mapping combiner")
        except ArtifactError as exc:
            raise ModelError(str(exc)) from None
        features = tuple(data["features"])
        if features != FEATURES:
            raise ModelError(f"mapping combiner {source} was trained on other evidence ({len(features)} features, "
                             f"this code computes {len(FEATURES)}): retrain it with "
                             "`tillbridge models train mapping`")
        return cls(data["model"], features, float(data["threshold"]), dict(data.get("meta") or {}))


_cache: dict[Path, tuple[float, Combiner]] = {}


def load_combiner(path: str | Path | None = None) -> Combiner:
    """The combiner at ``path`` (default models/mapping/combiner.joblib), reloaded when the file changes."""
    source = repo_path(str(path or MODEL_FILE))
    try:
        mtime = source.stat().st_mtime
    except FileNotFoundError:
        return Combiner.load(source)
    cached = _cache.get(source)
    if cached and cached[0] == mtime:
        return cached[1]
    combiner = Combiner.load(source)
    _cache[source] = (mtime, combiner)
    return combiner
