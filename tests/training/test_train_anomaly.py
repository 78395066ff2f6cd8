"""Training the anomaly model from files, through the CLI, with and without review labels."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from service.ai.anomaly.scorer import AnomalyModel, AnomalyRules
from training.anomaly import evaluate, time_split, train_anomaly
from training.cli import models
from training.data import DataError, dataset_from_frame, dataset_from_records, load_dataset, write_csv
from training.synthetic import PATTERNS, generate_history, synthetic_dataset


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 5,000-order synthetic history as order JSON and as a CSV feature table."""
    root = tmp_path_factory.mktemp("data")
    history, dataset, labels = synthetic_dataset(5000, seed=3)
    orders = history.write_json(root / "orders.json", review_labels=labels)
    table = write_csv(root / "features.csv", dataset, extra={"is_fraud": history.is_fraud, "review_label": labels})
    return {"orders": orders, "table": table, "root": root}


def run(*args: str) -> str:
    result = CliRunner().invoke(models, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_generator_is_seeded_and_covers_every_pattern() -> None:
    first, second = generate_history(3000, seed=4), generate_history(3000, seed=4)
    assert first.orders == second.orders and first.is_fraud == second.is_fraud
    assert generate_history(3000, seed=5).orders != first.orders
    assert set(first.patterns) == {"legitimate", *PATTERNS}
    assert 0.005 < np.mean(first.is_fraud) < 0.05
    times = [o["created_at"] for o in first.orders]
    assert times == sorted(times)


def test_review_labels_raise_precision_at_the_budget_on_held_out_data(files: dict[str, Path]) -> None:
    dataset = load_dataset(files["orders"], label_column="review_label", truth_column="is_fraud")
    labelled = ~np.isnan(dataset.labels)
    assert 0 < labelled.sum() < 0.1 * len(dataset)  # reviews cover few orders: most rows are unlabelled
    result = train_anomaly(dataset, AnomalyRules(review_budget=0.01, min_labels=20, min_fraud_labels=5))
    assert result.model.review_model is not None
    before = result.card["metrics"]["held_out, isolation forest only"]
    after = result.card["metrics"]["held_out, with review labels"]
    assert after["precision_at_budget"] >= before["precision_at_budget"]
    assert after["auc_pr"] > before["auc_pr"]
    assert "before" in result.card["summary"] and "after" in result.card["summary"]


def test_too_few_labels_trains_the_forest_alone_and_says_so(files: dict[str, Path]) -> None:
    dataset = load_dataset(files["orders"], label_column="review_label", truth_column="is_fraud")
    result = train_anomaly(dataset, AnomalyRules(min_labels=100_000))
    assert result.model.review_model is None
    assert any("Not enough review labels" in note for note in result.card["notes"])


def test_split_is_by_time_latest_rows_held_out(files: dict[str, Path]) -> None:
    dataset = load_dataset(files["table"], label_column="review_label")
    train, test = time_split(dataset, 0.2)
    assert len(test) == 1000
    assert max(dataset.times[i] for i in train) <= min(dataset.times[i] for i in test)


def test_evaluate_at_budget() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
    truth = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1], dtype=float)
    metrics = evaluate(scores, truth, 0.2)
    assert metrics["flagged"] == 2
    assert metrics["precision_at_budget"] == 0.5
    assert metrics["recall_at_budget"] == pytest.approx(1 / 3)
    partial = truth.copy()
    partial[1] = np.nan  # unreviewed: left out, not counted as legitimate
    assert evaluate(scores, partial, 0.2)["precision_at_budget"] == 1.0


def test_cli_train_score_list_promote_rollback(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "models"
    first = run("train", "anomaly", "--data", str(files["orders"]), "--out", str(out), "--promote")
    assert "flagged" in first and "no labels to evaluate against" in first
    second = run("train", "anomaly", "--data", str(files["orders"]), "--label-column", "review_label",
                 "--truth-column", "is_fraud", "--out", str(out))
    assert "with review labels" in second and "promoted" in second
    listing = json.loads(run("list", "--json", "--models-dir", str(out)))
    assert [v["promoted"] for v in listing] == [True, False]
    newer = listing[1]["version"]
    run("promote", "anomaly", newer, "--models-dir", str(out))
    assert "* anomaly" in run("list", "--models-dir", str(out)).splitlines()[1]

    scores_csv = tmp_path / "scores.csv"
    run("score", "anomaly", "--model", str(out), "--data", str(files["orders"]), "--output", str(scores_csv))
    with scores_csv.open() as file:
        rows = list(csv.DictReader(file))
    assert [int(r["row"]) for r in rows] == list(range(5000))
    model = AnomalyModel.load(out / listing[1]["artifact"])
    dataset = load_dataset(files["orders"])
    expected = model.score_matrix(dataset.X)
    assert np.allclose([float(r["score"]) for r in rows], expected, atol=1e-9)

    assert "rolled back anomaly to" in run("rollback", "anomaly", "--models-dir", str(out))
    card = json.loads((out / listing[1]["card"]).read_text())
    assert card["data"]["sha256"] == load_dataset(files["orders"]).sha256
    assert {f["name"] for f in card["features"]} >= {"grand_total", "orders_email_24h", "address_mismatch"}
    markdown = (out / listing[1]["card"]).with_suffix(".md").read_text()
    assert "## Features" in markdown and "## Metrics" in markdown and card["version"] in markdown


def test_any_numeric_table_with_chosen_features(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "sensors.csv"
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "temperature", "pressure", "vibration", "label"])
        for i in range(1500):
            outlier = i % 100 == 0
            row = rng.normal(size=3) * (8 if outlier else 1)
            writer.writerow([f"m-{i}", *[f"{v:.5f}" for v in row], ("1" if outlier else "0") if i % 7 == 0 else ""])
    out = tmp_path / "models"
    run("train", "anomaly", "--data", str(path), "--features", "temperature,vibration", "--label-column", "label",
        "--out", str(out), "--promote")
    version = json.loads(run("list", "--json", "--models-dir", str(out)))[0]
    model = AnomalyModel.load(out / version["artifact"])
    assert model.feature_names == ["temperature", "vibration"] and model.input_kind == "table"
    scores_csv = tmp_path / "scores.csv"
    run("score", "anomaly", "--model", str(out / version["artifact"]), "--data", str(path),
        "--output", str(scores_csv))
    scores = np.array([float(r["score"]) for r in csv.DictReader(scores_csv.open())])
    assert scores.shape == (1500,)
    assert scores[::100].mean() > np.delete(scores, np.arange(0, 1500, 100)).mean()  # outliers score higher


def test_data_errors_say_what_to_fix(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b,label\n1,2,maybe\n3,4,\n")
    with pytest.raises(DataError, match="fraud/1 or legitimate/0"):
        load_dataset(path, label_column="label")
    with pytest.raises(DataError, match="column 'c' is not in"):
        load_dataset(path, features=["a", "c"])
    result = CliRunner().invoke(models, ["train", "anomaly", "--data", str(tmp_path / "missing.csv"),
                                         "--out", str(tmp_path / "m")])
    assert result.exit_code != 0 and "does not exist" in result.output


def test_parquet_table_trains_like_its_csv(files: dict[str, Path], tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from_csv = load_dataset(files["table"], label_column="review_label", truth_column="is_fraud")
    with files["table"].open() as file:
        rows = list(csv.DictReader(file))
    columns = {name: [float(r[name]) for r in rows] for name in from_csv.feature_names}
    columns["created_at"] = [r["created_at"] for r in rows]
    columns["review_label"] = [r["review_label"] or None for r in rows]
    columns["is_fraud"] = [int(r["is_fraud"]) for r in rows]
    path = tmp_path / "features.parquet"
    pq.write_table(pa.table(columns), path)
    from_parquet = load_dataset(path, label_column="review_label", truth_column="is_fraud")
    assert from_parquet.feature_names == from_csv.feature_names
    assert np.allclose(from_parquet.X, from_csv.X)
    assert np.array_equal(np.isnan(from_parquet.labels), np.isnan(from_csv.labels))
    assert from_parquet.times == from_csv.times


def test_records_of_stored_order_features_train_a_model_that_scores_orders() -> None:
    from service.ai.anomaly.features import InMemoryOrderHistory, order_features
    from service.ai.anomaly.scorer import AnomalyScorer

    history = generate_history(2000, seed=8)
    store = InMemoryOrderHistory(history.orders)
    decisions = ["rejected", "approved", "escalated", ""]
    records = []
    for i, order in enumerate(history.orders):  # as the service keeps them: features, order time, decision
        when = datetime.strptime(order["created_at"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        records.append({**order_features(order, store), "created_at": when, "decision": decisions[i % 4]})
    dataset = dataset_from_records(records, label_column="decision")
    assert dataset.kind == "orders"
    rejected = sum(r["decision"] == "rejected" for r in records)
    decided = sum(r["decision"] in ("rejected", "approved") for r in records)
    assert int(np.nansum(dataset.labels)) == rejected and int((~np.isnan(dataset.labels)).sum()) == decided
    result = train_anomaly(dataset, AnomalyRules(min_labels=100_000))
    assessment = AnomalyScorer(result.model).score(history.orders[0], store)
    assert assessment.model_version == result.model.version
    row = np.array([[assessment.features[name] for name in result.model.feature_names]])
    assert assessment.score == pytest.approx(float(result.model.score_matrix(row)[0]), abs=1e-9)


def test_a_dataframe_round_trips_through_a_dataset(files: dict[str, Path]) -> None:
    dataset = load_dataset(files["orders"], label_column="review_label", truth_column="is_fraud")
    frame = dataset.frame()
    assert list(frame.columns) == [*dataset.feature_names, "created_at", "label", "truth"]
    frame["email"] = "someone@example.com"  # text: never a feature
    again = dataset_from_frame(frame, label_column="label", truth_column="truth")
    assert again.feature_names == dataset.feature_names and again.kind == "orders"
    assert np.array_equal(again.X, dataset.X) and again.times == dataset.times
    assert np.array_equal(again.labels, dataset.labels, equal_nan=True)
    assert np.array_equal(again.truth, dataset.truth, equal_nan=True)
    frame.loc[3, dataset.feature_names[0]] = np.nan
    with pytest.raises(DataError, match="empty or NaN values"):
        dataset_from_frame(frame, label_column="label", truth_column="truth")
