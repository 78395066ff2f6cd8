"""The anomaly scorer: the shipped model, thresholds from the review budget, explanations, hot reload."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from service.ai.anomaly.features import InMemoryOrderHistory
from service.ai.anomaly.scorer import AnomalyRules, AnomalyScorer, describe
from service.ai.registry import Registry
from service.rules.loader import RuleError
from training.anomaly import save_anomaly, train_anomaly
from training.data import dataset_from_orders
from training.synthetic import generate_history, synthetic_dataset

REPO = Path(__file__).resolve().parents[2]


def write_rules(directory: Path, **settings: object) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    text = "\n".join(f"{key}: {value}" for key, value in settings.items())
    (directory / "anomaly.yaml").write_text(text + "\n", encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def small() -> tuple:
    """A 4,000-order synthetic history with review labels, and models trained on it with and without."""
    history, dataset, _ = synthetic_dataset(4000, seed=5)
    rules = AnomalyRules(min_labels=20, min_fraud_labels=5, review_trees=40)
    with_reviews = train_anomaly(dataset, rules, version="anomaly-with-reviews")
    dataset.labels = None
    forest_only = train_anomaly(dataset, rules, version="anomaly-forest-only")
    return history, dataset, forest_only, with_reviews


def test_the_shipped_model_loads_and_flags_fraud_out_of_the_box() -> None:
    scorer = AnomalyScorer.load(REPO / "models", rules_dir=REPO / "rules")
    promoted = Registry(REPO / "models").promoted("anomaly")
    assert promoted is not None and scorer.model.version == promoted.version
    history = generate_history(3000, seed=21)
    store = InMemoryOrderHistory(history.orders)
    assessments = [scorer.score(order, store) for order in history.orders]
    flagged = [a for a in assessments if a.flagged]
    budget = AnomalyRules.load(REPO / "rules").review_budget
    assert 0 < len(flagged) <= 4 * budget * len(assessments)
    frauds = sum(history.is_fraud[i] for i, a in enumerate(assessments) if a.flagged)
    assert frauds / len(flagged) >= 0.5  # far above the 1.5% base rate
    for assessment in flagged:
        # Above the blended threshold, or an outlier the forest alone ranks beyond the budget.
        assert assessment.score >= assessment.threshold or assessment.explanation[0].startswith("stranger than")
        assert assessment.explanation and all(isinstance(line, str) and line for line in assessment.explanation)
    calm = [a for a in assessments if not a.flagged]
    assert all(a.explanation == [] for a in calm)
    assert set(assessments[0].features) == set(scorer.model.feature_names)


def test_unlabelled_scores_are_the_sklearn_forest_and_the_density_standardised(small: tuple) -> None:
    _, dataset, forest_only, _ = small
    model = forest_only.model
    scorer = AnomalyScorer(model)
    X = forest_only.test.X[:50]
    isolation = -forest_only.isolation_forest.score_samples(X)
    assert np.max(np.abs(model.forest.score_batch(X) - isolation)) < 1e-9
    # The density by hand: -log of the (pseudo-counted) share of training rows in each value's bin.
    train = forest_only.train.X
    bins = AnomalyRules().density_bins
    rarity = np.zeros(len(X))
    for j in range(train.shape[1]):
        low, high = train[:, j].min(), train[:, j].max()
        counts, edges = np.histogram(train[:, j], bins=bins, range=(low, high if high > low else low + 1e-9))
        index = np.clip(np.searchsorted(edges, X[:, j], side="right") - 1, 0, bins - 1)
        inside = (X[:, j] >= edges[0]) & (X[:, j] <= edges[-1])
        rarity += np.where(inside, -np.log((counts[index] + 1) / (len(train) + bins)), -np.log(1 / (len(train) + bins)))
    train_isolation = -forest_only.isolation_forest.score_samples(train)
    train_rarity = model.density.score_batch(train)
    expected = ((isolation - train_isolation.mean()) / train_isolation.std()
                + (rarity - train_rarity.mean()) / train_rarity.std())
    ours = [scorer.score_features(dict(zip(model.feature_names, row, strict=True))).score for row in X]
    assert np.max(np.abs(np.array(ours) - expected)) < 1e-9
    assert np.max(np.abs(scorer.score_rows(X) - expected)) < 1e-9


def test_review_model_scores_one_row_like_the_batch(small: tuple) -> None:
    _, _, _, with_reviews = small
    model = with_reviews.model
    assert model.review_model is not None
    X = with_reviews.test.X[:100]
    single = np.array([model.score_vector(row)[0] for row in X])
    assert np.max(np.abs(single - model.score_matrix(X))) < 1e-12


def test_threshold_follows_the_review_budget_in_rules(small: tuple, tmp_path: Path) -> None:
    _, _, forest_only, _ = small
    artifact = tmp_path / "model.joblib"
    forest_only.model.save(artifact)
    tight = AnomalyScorer.load(artifact, rules_dir=write_rules(tmp_path / "tight", review_budget=0.005))
    loose = AnomalyScorer.load(artifact, rules_dir=write_rules(tmp_path / "loose", review_budget=0.05))
    assert loose.threshold < tight.threshold
    scores = loose.score_rows(forest_only.train.X)
    assert np.mean(scores >= loose.threshold) == pytest.approx(0.05, abs=0.01)


def test_bad_budget_is_refused_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="review_budget"):
        AnomalyRules.load(write_rules(tmp_path, review_budget=5))
    with pytest.raises(RuleError, match="unknown settings"):
        AnomalyRules.load(write_rules(tmp_path / "typo", review_budgt=0.01))


def test_explanations_speak_the_analyst_language(small: tuple) -> None:
    history, _, forest_only, _ = small
    scorer = AnomalyScorer(forest_only.model)
    order = next(o for o, p in zip(history.orders, history.patterns, strict=True) if p == "legitimate")
    order = dict(order, grand_total=24_800.0, subtotal=24_790.0)
    order["items"] = [dict(order["items"][0], qty_ordered=40, price=619.75)]
    assessment = scorer.score(order, InMemoryOrderHistory(history.orders))
    assert assessment.flagged
    text = " | ".join(assessment.explanation)
    assert "grand total $24,800.00 is" in text or "units ordered: 40" in text or "highest unit price" in text
    assert "% of orders" in text or "than any of the orders" in text


def test_describe_phrases() -> None:
    from service.ai.anomaly.scorer import FeatureProfile

    totals = FeatureProfile.of(np.linspace(10, 1000, 1000))
    rarity, text = describe("grand_total", 990.5, totals)
    assert text.startswith("grand total $990.50 is above 99.")
    assert rarity < 0.02
    flags = FeatureProfile.of(np.array([0.0] * 97 + [1.0] * 3))
    assert describe("address_mismatch", 1.0, flags)[1] == "billing and shipping addresses differ: only 3.0% of orders"
    assert describe("my_column", 5000.0, totals, "training rows")[1] == \
        "my_column 5000 is higher than any of the training rows the model was trained on"
    counts = FeatureProfile.of(np.array([0.0] * 90 + [1.0] * 8 + [5.0] * 2))
    rarity, text = describe("orders_address_24h", 0.0, counts)
    assert rarity == pytest.approx(0.9)  # the most common value is not a reason
    rarity, text = describe("max_line_qty", 5.0, counts)
    assert rarity == pytest.approx(0.02)
    assert text == "largest quantity on one line: 5, the highest seen in training, as in only 2.0% of orders"


def test_scorer_follows_promotions_without_a_restart(small: tuple, tmp_path: Path) -> None:
    _, _, forest_only, with_reviews = small
    models = tmp_path / "models"
    save_anomaly(forest_only, models, promote=True)
    save_anomaly(with_reviews, models)
    rules = write_rules(tmp_path / "rules", review_budget=0.005)
    scorer = AnomalyScorer.load(models, rules_dir=rules, reload_check_seconds=0)
    lazy = AnomalyScorer.load(models, rules_dir=rules, reload_check_seconds=3600)
    row = dict(zip(forest_only.model.feature_names, forest_only.test.X[0], strict=True))
    assert scorer.score_features(row).model_version == "anomaly-forest-only"

    Registry(models).promote("anomaly", "anomaly-with-reviews")
    assert scorer.score_features(row).model_version == "anomaly-with-reviews"
    assert scorer.threshold == with_reviews.model.threshold_for(0.005)
    assert lazy.score_features(row).model_version == "anomaly-forest-only"  # checks the index at most hourly

    Registry(models).rollback("anomaly")
    assert scorer.score_features(row).model_version == "anomaly-forest-only"


def test_a_table_model_refuses_orders_with_a_hint(tmp_path: Path) -> None:
    history = generate_history(300, seed=2)
    dataset = dataset_from_orders(history.orders)
    dataset.kind = "table"
    result = train_anomaly(dataset, AnomalyRules())
    with pytest.raises(ValueError, match="score_features"):
        AnomalyScorer(result.model).score(history.orders[0], InMemoryOrderHistory())


def test_a_changed_review_budget_applies_without_a_restart(small: tuple, tmp_path: Path) -> None:
    _, _, forest_only, _ = small
    artifact = tmp_path / "model.joblib"
    forest_only.model.save(artifact)
    rules = write_rules(tmp_path / "rules", review_budget=0.005)
    scorer = AnomalyScorer.load(artifact, rules_dir=rules, reload_check_seconds=0)
    tight = scorer.threshold
    write_rules(rules, review_budget=0.05)
    assert scorer.threshold == forest_only.model.threshold_for(0.05) < tight
    write_rules(rules, review_budget="lots")  # a broken edit keeps the last good budget
    assert scorer.threshold == forest_only.model.threshold_for(0.05)
