"""The bit-mask forest scores exactly as scikit-learn does, on the edges of its splits too."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier

from service.ai.dedup.forest import FlatForest
from service.ai.dedup.model import MatchModel


@pytest.fixture(scope="module")
def model() -> MatchModel:
    return MatchModel.load()


def edge_rows(forest: FlatForest, width: int, rng: np.random.Generator) -> np.ndarray:
    """Random rows whose values often sit exactly on a split's threshold, or are missing, 0 or 1."""
    rows = rng.random((2000, width))
    for column, thresholds in zip(forest.features, forest.thresholds, strict=True):
        on_split = rng.random(len(rows)) < 0.4
        rows[on_split, column] = rng.choice(thresholds, size=int(on_split.sum()))
    rows[rng.random(rows.shape) < 0.1] = 1.0
    rows[rng.random(rows.shape) < 0.1] = 0.0
    rows[rng.random(rows.shape) < 0.25] = np.nan
    return rows


def test_shipped_model_scores_equal_predict_proba(model: MatchModel) -> None:
    assert model.forest is not None
    rows = edge_rows(model.forest, model.estimator.n_features_in_, np.random.default_rng(3))
    expected = model.estimator.predict_proba(rows)[:, 1]
    assert np.allclose(model.forest.probabilities(rows), expected, rtol=0, atol=1e-12)
    # One row at a time (a review page's compare) gives the same as the batch.
    assert np.array_equal(model.forest.probabilities(rows[:7]), np.concatenate(
        [model.forest.probabilities(rows[i:i + 1]) for i in range(7)]))


@pytest.mark.parametrize("leaves", [4, 40])
def test_small_and_wide_trees_score_equal_predict_proba(leaves: int) -> None:
    rng = np.random.default_rng(leaves)
    x = rng.random((1500, 5))
    y = (x[:, 0] + 0.5 * x[:, 1] - x[:, 2] * x[:, 3] + 0.2 * rng.standard_normal(1500) > 0.6).astype(int)
    x[rng.random(x.shape) < 0.15] = np.nan
    estimator = CalibratedClassifierCV(HistGradientBoostingClassifier(max_iter=30, max_leaf_nodes=leaves,
                                                                      min_samples_leaf=5, random_state=1),
                                       method="isotonic", cv=2).fit(x, y)
    forest = FlatForest.from_estimator(estimator)
    assert forest is not None and forest.max_leaves <= leaves
    rows = edge_rows(forest, 5, rng)
    assert np.allclose(forest.probabilities(rows), estimator.predict_proba(rows)[:, 1], rtol=0, atol=1e-12)


def test_trees_wider_than_a_mask_are_left_to_scikit_learn() -> None:
    rng = np.random.default_rng(9)
    x = rng.random((3000, 3))
    y = (np.sin(12 * x[:, 0]) + x[:, 1] > 0.8).astype(int)
    estimator = CalibratedClassifierCV(HistGradientBoostingClassifier(max_iter=5, max_leaf_nodes=90,
                                                                      min_samples_leaf=2, random_state=1),
                                       method="isotonic", cv=2).fit(x, y)
    assert FlatForest.from_estimator(estimator) is None
    model = MatchModel(estimator=estimator)
    assert model.forest is None
    assert np.allclose(model.probabilities(x[:20]), estimator.predict_proba(x[:20])[:, 1])
