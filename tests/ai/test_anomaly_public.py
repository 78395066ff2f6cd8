"""The anomaly bench on labelled public data shipped with scikit-learn runs, and the risk team's
labels lift our scorer above the unsupervised Isolation Forest on the breast-cancer set."""

from __future__ import annotations

import numpy as np

from bench.anomaly_public import public_sets, run


def test_public_sets_keep_the_rare_class_rare() -> None:
    for name, X, y in public_sets(0.05, seed=0):
        assert 0.03 <= y.mean() <= 0.07, name
        assert X.shape[0] == y.shape[0] and np.isfinite(X).all()


def test_review_labels_lift_ours_above_the_default_forest_on_breast_cancer() -> None:
    results = run(rate=0.05, repeats=1, reviewed=0.1)["breast cancer (sklearn)"]
    assert set(results) == {"IF default", "IF tuned (on tune split)", "ours, no labels", "GBM on review labels",
                            "ours, review labels"}
    assert np.mean(results["ours, review labels"].auc_pr) > np.mean(results["IF default"].auc_pr)
