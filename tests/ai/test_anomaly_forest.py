"""The array-evaluated forests give scikit-learn's numbers, one row at a time, in microseconds."""

from __future__ import annotations

import time

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest, RandomForestClassifier

from service.ai.anomaly.forest import ForestClassifierScorer, IsolationForestScorer, average_path_length


@pytest.fixture(scope="module")
def table() -> np.ndarray:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 12))
    X[:, 2] = rng.integers(0, 4, size=3000)  # a discrete column: ties at split thresholds
    X[:, 5] = rng.lognormal(3, 1, size=3000)
    X[:40] *= 6  # some outliers
    return X


def test_average_path_length_matches_the_isolation_forest_definition() -> None:
    from sklearn.ensemble._iforest import _average_path_length

    n = np.array([0, 1, 2, 3, 10, 256, 5000])
    assert np.allclose(average_path_length(n), _average_path_length(n), rtol=0, atol=1e-15)


@pytest.mark.parametrize("params", [{}, {"max_features": 0.5}, {"max_samples": 64, "n_estimators": 30}])
def test_isolation_forest_scores_equal_sklearn_to_1e9(table: np.ndarray, params: dict) -> None:
    forest = IsolationForest(random_state=0, **params).fit(table)
    fast = IsolationForestScorer.from_sklearn(forest)
    rows = np.vstack([table[:300], np.random.default_rng(9).normal(scale=8, size=(100, 12))])
    expected = -forest.score_samples(rows)
    one_by_one = np.array([fast.score(row) for row in rows])
    assert np.max(np.abs(one_by_one - expected)) < 1e-9
    assert np.max(np.abs(fast.score_batch(rows) - expected)) < 1e-9


def test_isolation_forest_roundtrips_through_its_dict(table: np.ndarray) -> None:
    forest = IsolationForest(random_state=1).fit(table)
    fast = IsolationForestScorer.from_dict(IsolationForestScorer.from_sklearn(forest).to_dict())
    assert abs(fast.score(table[7]) + forest.score_samples(table[7:8])[0]) < 1e-9


def test_random_forest_probabilities_equal_sklearn(table: np.ndarray) -> None:
    y = (table[:, 0] + table[:, 1] > 1.5).astype(int)
    forest = RandomForestClassifier(n_estimators=40, max_depth=6, class_weight="balanced_subsample",
                                    random_state=0).fit(table, y)
    fast = ForestClassifierScorer.from_sklearn(forest)
    expected = forest.predict_proba(table[:200])[:, 1]
    assert np.max(np.abs(fast.probability_batch(table[:200]) - expected)) < 1e-9
    assert abs(fast.probability(table[3]) - expected[3]) < 1e-9


def test_one_row_scores_well_under_two_hundred_microseconds(table: np.ndarray) -> None:
    fast = IsolationForestScorer.from_sklearn(IsolationForest(n_estimators=100, random_state=0).fit(table))
    row = table[11]
    for _ in range(200):
        fast.score(row)
    timings = []
    for _ in range(2000):
        start = time.perf_counter()
        fast.score(row)
        timings.append(time.perf_counter() - start)
    assert np.median(timings) < 200e-6


def test_attribution_points_at_the_feature_that_isolates_a_row(table: np.ndarray) -> None:
    forest = IsolationForest(n_estimators=200, random_state=0).fit(table)
    fast = IsolationForestScorer.from_sklearn(forest)
    row = np.median(table, axis=0)
    row[7] = 40.0  # far outside anything seen in column 7
    attribution = fast.attribution(row)
    assert int(np.argmax(attribution)) == 7
