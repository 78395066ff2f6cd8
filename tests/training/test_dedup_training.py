"""The customer generator, labelled pairs, training and the `tillbridge models … dedup` commands."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from service.ai.dedup.forest import FlatForest
from service.ai.dedup.model import MatchModel, ModelError
from service.ai.dedup.resolver import Resolver, load_rules
from service.ai.registry import Registry
from service.cli.main import main
from training.dedup import PairsError, dataset_pairs, read_pairs, save, synthetic_pairs, train, write_pairs
from training.dedup_data import generate


def test_generator_is_seeded_and_has_duplicates_and_households() -> None:
    a, b, c = generate(2000, seed=5), generate(2000, seed=5), generate(2000, seed=6)
    assert a.columns == b.columns and a.columns != c.columns
    assert 2000 < len(a) < 2000 * 1.8
    assert a.primary.sum() == 2000
    truth = a.true_pairs()
    assert len(truth) > 400
    members = np.flatnonzero(a.primary & (a.household != a.entity))
    assert len(members) > 100
    same_street = sum(
        a.columns["street"][m].lower()[:4] == a.columns["street"][int(a.household[m])].lower()[:4]
        for m in members
        if a.columns["street"][m] and a.columns["street"][int(a.household[m])]
    )
    assert same_street / len(members) > 0.7
    nicknamed = sum(
        a.columns["first_name"][i].lower() != a.columns["first_name"][j].lower() for i, j in truth
    )
    assert nicknamed > 50


def test_labelled_pairs_round_trip_and_bad_labels_are_named(tmp_path: Path) -> None:
    rules = load_rules()
    dataset = generate(300, seed=2)
    profiles, pairs, labels = dataset_pairs(dataset, rules)
    path = tmp_path / "pairs.csv"
    write_pairs(path, dataset, pairs, labels)
    loaded = read_pairs(path, rules)
    assert len(loaded) == len(pairs)
    assert (loaded.labels == labels).all()
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    rows[1][-1] = "perhaps"
    bad = tmp_path / "bad.csv"
    with open(bad, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    with pytest.raises(PairsError, match="line 2: label 'perhaps'"):
        read_pairs(bad, rules)


def test_training_writes_registers_and_promotes_a_model_the_resolver_loads(tmp_path: Path) -> None:
    pairs = synthetic_pairs(1500, seed=4)
    trained = train(pairs, seed=4)
    assert trained.card["metrics"]["held out (20% of pairs)"]["roc_auc"] > 0.95
    assert trained.card["metrics"]["held out (20% of pairs)"]["precision"] > 0.9
    first = save(trained, tmp_path)
    directory = tmp_path / "dedup" / first.version
    assert {p.name for p in directory.iterdir()} == {"model.joblib", "model.joblib.meta.json", "card.json", "card.md"}
    assert json.loads((directory / "card.json").read_text())["family"] == "dedup"
    assert "Metrics" in (directory / "card.md").read_text()
    with pytest.raises(ModelError, match="no promoted dedup model"):
        MatchModel.load(tmp_path)
    Registry(tmp_path).promote("dedup", first.version)
    model = MatchModel.load(tmp_path)
    assert model.version == first.version
    assert model.forest is not None
    probe = pairs.matrix[:500]
    expected = model.estimator.predict_proba(probe)[:, 1]
    assert np.allclose(model.forest.probabilities(probe), expected, atol=1e-9)
    assert np.allclose(model.probabilities(probe[:10]), expected[:10], atol=1e-9)


def test_a_resolver_follows_promotion_and_rollback(tmp_path: Path) -> None:
    pairs = synthetic_pairs(800, seed=12)
    first = save(train(pairs, seed=1), tmp_path, promote=True)
    second = save(train(pairs, seed=2), tmp_path)
    resolver = Resolver(models_dir=str(tmp_path), reload_seconds=0.0)
    assert resolver.model.version == first.version
    Registry(tmp_path).promote("dedup", second.version)
    resolver.compare({"first_name": "Ann"}, {"first_name": "Ann"})
    assert resolver.model.version == second.version
    Registry(tmp_path).rollback("dedup")
    resolver.resolve({"first_name": "Ann", "last_name": "Lee"})
    assert resolver.model.version == first.version


def test_a_missing_model_says_how_to_train_one(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="tillbridge models train dedup"):
        MatchModel.load(tmp_path / "nothing.joblib")


def test_shipped_model_is_flattened_exactly() -> None:
    model = MatchModel.load()
    matrix = synthetic_pairs(400, seed=8).matrix
    flat = FlatForest.from_estimator(model.estimator)
    assert flat is not None
    assert np.allclose(flat.probabilities(matrix), model.estimator.predict_proba(matrix)[:, 1], atol=1e-9)


def test_cli_trains_from_a_pairs_file_and_scores_pairs(tmp_path: Path) -> None:
    runner = CliRunner()
    pairs_csv, out = tmp_path / "labelled.csv", tmp_path / "model"
    dataset = generate(1200, seed=9)
    _, pairs, labels = dataset_pairs(dataset, load_rules())
    write_pairs(pairs_csv, dataset, pairs, labels)
    result = runner.invoke(main, ["models", "train", "dedup", "--pairs", str(pairs_csv), "--out", str(out), "--promote"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["pairs"] == len(pairs) and summary["promoted"]
    assert summary["metrics"]["held out (20% of pairs)"]["precision"] > 0.9
    assert Path(summary["artifact"]).exists()
    assert Registry(out).promoted("dedup").version == summary["version"]
    scored = tmp_path / "scored.csv"
    result = runner.invoke(main, ["models", "score", "dedup", "--pairs", str(pairs_csv), "--output", str(scored)])
    assert result.exit_code == 0, result.output
    with open(scored, newline="") as fh:
        rows = list(csv.DictReader(fh))
    agree = sum((r["decision"] == "match") == (r["label"] == "1") for r in rows)
    assert agree / len(rows) > 0.97
    result = runner.invoke(main, ["models", "train", "dedup"])
    assert result.exit_code != 0 and "--pairs" in result.output
