"""Artifacts are checked before they are unpickled: a changed file, a file without its sidecar and a
file from another scikit-learn are refused with a message that says what to do."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from service.ai.artifacts import ArtifactError, load_artifact, meta_path, save_artifact
from service.ai.dedup.model import MatchModel, ModelError

REPO = Path(__file__).resolve().parents[2]


def test_an_artifact_round_trips_with_its_versions_recorded(tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    meta = save_artifact({"weights": [1, 2, 3]}, path, retrain="run make train")
    assert load_artifact(path, what="test model") == {"weights": [1, 2, 3]}
    recorded = json.loads(meta_path(path).read_text())
    assert recorded == meta and set(recorded) >= {"sha256", "sklearn", "numpy", "python"}


def test_a_changed_file_is_not_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    save_artifact({"weights": [1]}, path, retrain="run make train")
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ArtifactError, match="changed since it was written.*run make train"):
        load_artifact(path, what="test model")


def test_another_scikit_learn_is_refused_with_the_version_to_install(tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    save_artifact({"weights": [1]}, path, retrain="run make train")
    meta = json.loads(meta_path(path).read_text())
    meta_path(path).write_text(json.dumps(dict(meta, sklearn="0.24.2")))
    with pytest.raises(ArtifactError, match=r"written with scikit-learn 0\.24\.2.*install scikit-learn==0\.24\.2"):
        load_artifact(path, what="test model")


def test_the_shipped_dedup_model_without_its_sidecar_is_refused(tmp_path: Path) -> None:
    shipped = next((REPO / "models" / "dedup").glob("*/model.joblib"))
    copy = tmp_path / "model.joblib"
    shutil.copy(shipped, copy)
    with pytest.raises(ModelError, match="has no model.joblib.meta.json"):
        MatchModel.load(copy)
    shutil.copy(meta_path(shipped), meta_path(copy))
    assert MatchModel.load(copy).estimator is not None
