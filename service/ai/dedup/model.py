"""The trained match classifier: calibrated probability that two profiles are one person, and why.

Artifacts are written by ``training/dedup.py`` (``tillbridge models train dedup``) under
``models/dedup/<version>/`` and registered in the model registry (models/registry.json); the service
uses the promoted version. An artifact is a dict with the fitted estimator and the feature names it
was trained on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from service.ai.artifacts import ArtifactError, load_artifact
from service.ai.dedup.compare import FEATURES, GROUPS, describe
from service.ai.dedup.forest import FlatForest
from service.ai.dedup.normalise import Profile
from service.settings import repo_path

FAMILY = "dedup"


class ModelError(Exception):
    """The dedup model is missing or does not fit this code; the message says how to fix it."""


def promoted_artifact(models_dir: str | Path = "models") -> tuple[Path, str]:
    """The promoted dedup artifact in the registry of ``models_dir``, and its version."""
    from service.ai.registry import Registry, RegistryError

    registry = Registry(repo_path(str(models_dir)))
    try:
        version = registry.promoted(FAMILY)
    except RegistryError as exc:
        raise ModelError(str(exc)) from None
    if version is None:
        raise ModelError(
            f"no promoted dedup model in {registry.index_path}: train one with "
            "`tillbridge models train dedup --synthetic 40000 --promote` (or --pairs labelled.csv)"
        )
    return registry.artifact_path(version), version.version


def artifact_path(models_dir: str | Path = "models") -> Path:
    """The artifact the service uses: the promoted dedup version in the registry of ``models_dir``."""
    return promoted_artifact(models_dir)[0]


@dataclass
class MatchModel:
    estimator: Any
    version: str = ""
    forest: FlatForest | None = None

    #: Up to this many rows (a record's candidates) the flattened forest is faster; above it
    #: (batches) scikit-learn's predict.
    FOREST_ROWS = 1000

    def __post_init__(self) -> None:
        if self.forest is None:
            self.forest = FlatForest.from_estimator(self.estimator)

    @classmethod
    def load(cls, path: str | Path = "models") -> MatchModel:
        """The promoted model of a models directory (its registry), or an artifact file."""
        target = repo_path(str(path))
        if target.is_dir():
            target, _ = promoted_artifact(target)
        if not target.exists():
            raise ModelError(
                f"dedup model {target} is missing: train one with "
                "`tillbridge models train dedup --synthetic 40000 --promote` (or --pairs labelled.csv)"
            )
        try:
            artifact = load_artifact(target, what="dedup model")
        except ArtifactError as exc:
            raise ModelError(str(exc)) from None
        if tuple(artifact.get("features", ())) != FEATURES:
            raise ModelError(
                f"dedup model {target} was trained on features {artifact.get('features')}, this code computes "
                f"{list(FEATURES)}: retrain it with `tillbridge models train dedup`"
            )
        return cls(estimator=artifact["estimator"], version=str(artifact.get("version", "")))

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        if len(matrix) == 0:
            return np.empty(0, dtype=np.float64)
        if self.forest is not None and len(matrix) <= self.FOREST_ROWS:
            return self.forest.probabilities(matrix)
        # One thread: on a machine shared by web, workers and other jobs, OpenMP's thread team
        # waits on busy cores and runs slower than a single thread.
        with threadpool_limits(1):
            return np.asarray(self.estimator.predict_proba(matrix)[:, 1], dtype=np.float64)

    def drivers(self, a: Profile, b: Profile, vector: list[float], score: float, limit: int = 4) -> list[str]:
        """The field groups that moved this pair's score most, in words, strongest first.

        Each group's effect is the score with the group's features withheld (as if the field were
        unknown) subtracted from the full score: what that field contributed to this decision.
        """
        rows = []
        for indices in GROUPS.values():
            row = list(vector)
            for i in indices:
                row[i] = math.nan
            rows.append(row)
        without = self.probabilities(np.array(rows, dtype=np.float64))
        effects = [
            (score - float(p), group)
            for group, p in zip(GROUPS, without, strict=True)
            if any(not math.isnan(vector[i]) for i in GROUPS[group])
        ]
        effects.sort(key=lambda e: -abs(e[0]))
        words = [f"{describe(group, a, b, vector)} ({effect:+.2f})" for effect, group in effects[:limit] if abs(effect) >= 0.01]
        return words or [describe(group, a, b, vector) for _, group in effects[:limit]]
