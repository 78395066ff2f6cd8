"""notebooks/retrain_anomaly.ipynb runs end to end on a small history, shows its plots and tables, and
promotes a better model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from service.ai.anomaly.scorer import AnomalyRules
from service.ai.registry import Registry
from training.anomaly import save_anomaly, train_anomaly
from training.data import load_dataset
from training.synthetic import synthetic_dataset

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "retrain_anomaly.ipynb"


@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Use this virtualenv's ipykernel, and keep the user's Jupyter directories out of it."""
    monkeypatch.setenv("JUPYTER_PATH", str(Path(sys.prefix) / "share" / "jupyter"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter-runtime"))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "jupyter-config"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))


def test_notebook_retrains_compares_and_promotes(tmp_path: Path, kernel_env: None) -> None:
    history, dataset, labels = synthetic_dataset(2500, seed=13)
    data = history.write_json(tmp_path / "orders.json", review_labels=labels)
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "anomaly.yaml").write_text("review_budget: 0.02\nmin_labels: 20\nmin_fraud_labels: 5\n"
                                            "review_trees: 30\nn_estimators: 60\n")
    models = tmp_path / "models"
    # The model in service today: an Isolation Forest trained without the review labels.
    unlabelled = load_dataset(data, truth_column="is_fraud")
    save_anomaly(train_anomaly(unlabelled, AnomalyRules.load(rules_dir), version="anomaly-old"), models, promote=True)

    shipped_index = (REPO / "models" / "registry.json").read_bytes()
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    at = next(i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", []))
    notebook.cells.insert(at + 1, nbformat.v4.new_code_cell(
        f"DATA = {str(data)!r}\nMODELS_DIR = {str(models)!r}\nRULES_DIR = {str(rules_dir)!r}\n"
        "LABEL_COLUMN = 'review_label'\nTRUTH_COLUMN = 'is_fraud'"))
    NotebookClient(notebook, kernel_name="python3", timeout=180,
                   resources={"metadata": {"path": str(REPO / "notebooks")}}).execute()

    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]
    assert not [out for out in outputs if out.get("output_type") == "error"]
    output = "\n".join(out.get("text", "") + str((out.get("data") or {}).get("text/plain", "")) for out in outputs)
    assert "2500 rows from orders.json" in output
    assert "held_out, with review labels" in output  # the card's metrics
    # The new model, the promoted one and a default Isolation Forest on the same held-out rows.
    assert "default Isolation Forest" in output and "promoted (anomaly-old)" in output
    plots = [out for out in outputs if "image/png" in (out.get("data") or {})]
    assert len(plots) >= 4  # precision-recall, score distributions, review load, calibration
    assert all(plot["data"]["image/png"] for plot in plots)
    assert "truly fraud" in output and "held for review" in output  # the confusion at the threshold
    assert "Fraud scored lowest" in output and "Legitimate rows scored highest" in output
    assert "score " in output and "   - " in output  # explanations of the top held-out orders
    registry = Registry(models)
    versions = [v.version for v in registry.versions("anomaly")]
    assert len(versions) == 2 and "anomaly-old" in versions
    promoted = registry.promoted("anomaly")
    assert promoted is not None and promoted.version != "anomaly-old"
    assert f"promoted {promoted.version}" in output
    assert (REPO / "models" / "registry.json").read_bytes() == shipped_index  # the checkout's models untouched


def test_notebook_retrains_from_the_stores_scored_orders(settings: dict[str, Any], tmp_path: Path,
                                                          kernel_env: None) -> None:
    """STORE_URL: the history is the store's scored orders with the risk team's decisions."""
    from tests.training.test_anomaly_store import scored_store

    store, total, rejected, approved = scored_store(settings, n_orders=400)
    store.dispose()
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "anomaly.yaml").write_text("review_budget: 0.02\nmin_labels: 10\nmin_fraud_labels: 4\n"
                                            "review_trees: 30\nn_estimators: 60\n")
    models = tmp_path / "models"
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    at = next(i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", []))
    notebook.cells.insert(at + 1, nbformat.v4.new_code_cell(
        f"STORE_URL = {settings['DATABASE_URL']!r}\nMODELS_DIR = {str(models)!r}\nRULES_DIR = {str(rules_dir)!r}"))
    NotebookClient(notebook, kernel_name="python3", timeout=180,
                   resources={"metadata": {"path": str(REPO / "notebooks")}}).execute()
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]
    assert not [out for out in outputs if out.get("output_type") == "error"]
    output = "\n".join(out.get("text", "") + str((out.get("data") or {}).get("text/plain", "")) for out in outputs)
    assert f"{total} rows from store" in output
    assert f"'fraud': {len(rejected)}" in output and f"'legitimate': {len(approved)}" in output
    assert "held_out, with review labels" in output  # the decisions trained a review model
    promoted = Registry(models).promoted("anomaly")
    assert promoted is not None and f"promoted {promoted.version}" in output
