"""The model registry: register, promote, roll back, list; one index for every model family."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from service.ai.registry import Registry, RegistryError


def artifact(root: Path, family: str, version: str) -> Path:
    path = root / family / version / "model.joblib"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(version.encode())
    return path


def test_promote_and_roll_back(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    assert registry.promoted("anomaly") is None
    for version in ("v1", "v2", "v3"):
        registry.add("anomaly", version, artifact(tmp_path, "anomaly", version), metrics={"auc": 0.9})
    registry.promote("anomaly", "v1")
    registry.promote("anomaly", "v3")
    registry.promote("anomaly", "v2")
    assert registry.promoted("anomaly").version == "v2"
    assert registry.rollback("anomaly").version == "v3"
    assert registry.rollback("anomaly").version == "v1"
    with pytest.raises(RegistryError, match="no earlier anomaly model"):
        registry.rollback("anomaly")
    assert registry.promoted("anomaly").version == "v1"


def test_families_are_independent(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    registry.add("anomaly", "a1", artifact(tmp_path, "anomaly", "a1"), promote=True)
    registry.add("dedup", "d1", artifact(tmp_path, "dedup", "d1"), promote=True)
    registry.add("dedup", "d2", artifact(tmp_path, "dedup", "d2"), promote=True)
    assert registry.promoted("anomaly").version == "a1"
    assert registry.promoted("dedup").version == "d2"
    assert registry.families() == ["anomaly", "dedup"]
    listed = {(v.family, v.version): v.promoted for v in registry.versions()}
    assert listed == {("anomaly", "a1"): True, ("dedup", "d1"): False, ("dedup", "d2"): True}
    assert [v.version for v in registry.versions("dedup")] == ["d1", "d2"]


def test_paths_are_relative_so_the_directory_can_move(tmp_path: Path) -> None:
    first = tmp_path / "a"
    Registry(first).add("anomaly", "v1", artifact(first, "anomaly", "v1"), promote=True)
    index = json.loads((first / "registry.json").read_text())
    assert index["families"]["anomaly"]["versions"]["v1"]["artifact"] == "anomaly/v1/model.joblib"
    moved = tmp_path / "b"
    first.rename(moved)
    registry = Registry(moved)
    assert registry.artifact_path(registry.promoted("anomaly")).read_bytes() == b"v1"


def test_refusals_say_what_to_do(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    registry.add("anomaly", "v1", artifact(tmp_path, "anomaly", "v1"))
    with pytest.raises(RegistryError, match="not registered"):
        registry.promote("anomaly", "v9")
    outside = tmp_path.parent / "elsewhere.joblib"
    outside.write_bytes(b"x")
    with pytest.raises(RegistryError, match="outside the models directory"):
        registry.add("anomaly", "v2", outside)
    (tmp_path / "anomaly" / "v1" / "model.joblib").unlink()
    with pytest.raises(RegistryError, match="artifact .* is missing"):
        registry.promote("anomaly", "v1")
    (tmp_path / "registry.json").write_text("{broken")
    with pytest.raises(RegistryError, match="not valid JSON"):
        registry.versions()


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    paths = {f"v{i}": artifact(tmp_path, "anomaly", f"v{i}") for i in range(20)}

    def add(version: str) -> None:
        Registry(tmp_path).add("anomaly", version, paths[version])

    threads = [threading.Thread(target=add, args=(v,)) for v in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(v.version for v in registry.versions("anomaly")) == sorted(paths)


def test_every_promotion_changes_the_index_signature(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    registry.add("anomaly", "v1", artifact(tmp_path, "anomaly", "v1"), promote=True)
    registry.add("anomaly", "v2", artifact(tmp_path, "anomaly", "v2"))
    seen = {registry.signature()}
    for _ in range(5):  # back and forth faster than the file system clock ticks
        registry.promote("anomaly", "v2")
        seen.add(registry.signature())
        registry.rollback("anomaly")
        seen.add(registry.signature())
    assert len(seen) == 11
