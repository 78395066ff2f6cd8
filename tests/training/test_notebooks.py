"""The dedup and mapping notebooks run end to end on small data with nbclient, and are kept in git
without outputs."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from service.ai.registry import Registry

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_PATH", str(Path(sys.prefix) / "share" / "jupyter"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter-runtime"))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "jupyter-config"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))


def run(name: str, parameters: str) -> str:
    notebook = nbformat.read(REPO / "notebooks" / name, as_version=4)
    at = next(i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", []))
    notebook.cells.insert(at + 1, nbformat.v4.new_code_cell(parameters))
    NotebookClient(notebook, kernel_name="python3", timeout=300,
                   resources={"metadata": {"path": str(REPO / "notebooks")}}).execute()
    texts = []
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", "") + str((out.get("data") or {}).get("text/plain", "")))
            assert "image/png" not in (out.get("data") or {}) or out["data"]["image/png"]
    return "\n".join(texts)


@pytest.mark.parametrize("name", ["dedup.ipynb", "mapping.ipynb", "retrain_anomaly.ipynb"])
def test_notebooks_are_stored_without_outputs(name: str) -> None:
    notebook = nbformat.read(REPO / "notebooks" / name, as_version=4)
    assert all(not cell.get("outputs") and not cell.get("execution_count")
               for cell in notebook.cells if cell.cell_type == "code")


def test_dedup_notebook_trains_compares_with_the_baseline_and_registers(tmp_path: Path, kernel_env: None) -> None:
    models = tmp_path / "models"
    shipped = Registry(REPO / "models")
    registry = Registry(models)
    for version in shipped.versions("dedup"):  # a copy of the shipped registry to register into
        for path in (REPO / "models" / version.artifact).parent.iterdir():
            target = models / Path(version.artifact).parent / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
        registry.add("dedup", version.version, models / version.artifact,
                     card=models / version.card if version.card else None, promote=version.promoted)
    output = run("dedup.ipynb", f"EVAL_SETS = ['1']\nTRAIN_SETS = ['2']\nSYNTHETIC = 600\n"
                                f"MODELS_DIR = {str(models)!r}\nPROMOTE = True")
    assert "evaluation pairs:" in output and "blocking pair completeness" in output
    assert "recordlinkage rule (FEBRL 1" in output and "new @ 0.5" in output
    assert "same person" in output  # the confusion table
    assert len(Registry(models).versions("dedup")) == len(shipped.versions("dedup")) + 1
    assert "and promoted it" in output


def test_mapping_notebook_compares_ours_with_string_ratio_and_coma(kernel_env: None) -> None:
    output = run("mapping.ipynb", "LIMIT = 2")
    assert "precision@1" in output and "string ratio" in output and "COMA-style" in output
    assert "COMA (valentine)" in output and "survival/veteran -> MASS/VA" in output
