"""The calibrated tree ensemble flattened into numpy arrays, for fast scoring of few rows.

scikit-learn's HistGradientBoosting predicts through one call per tree, several milliseconds for
a handful of candidate pairs, most of a resolution's time budget. Flattening every tree of every
calibration fold into one node table lets a single vectorised walk score all trees at once
(well under a millisecond for a record's candidates). The result equals ``predict_proba``; a test
holds the two together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class FlatForest:
    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    is_leaf: np.ndarray
    value: np.ndarray
    roots: np.ndarray  # root node of each tree
    tree_fold: np.ndarray  # calibration fold of each tree
    baselines: np.ndarray  # per fold
    iso_x: list[np.ndarray]
    iso_y: list[np.ndarray]
    max_depth: int

    @classmethod
    def from_estimator(cls, estimator: Any) -> FlatForest | None:
        """Flatten a CalibratedClassifierCV(HistGradientBoostingClassifier, isotonic); None otherwise."""
        folds = getattr(estimator, "calibrated_classifiers_", None)
        if not folds or any(getattr(f, "method", "") != "isotonic" for f in folds):
            return None
        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("feature", "threshold", "missing", "left", "right", "leaf", "value")}
        roots: list[int] = []
        tree_fold: list[int] = []
        baselines: list[float] = []
        iso_x: list[np.ndarray] = []
        iso_y: list[np.ndarray] = []
        offset = 0
        depth = 0
        for fold_no, fold in enumerate(folds):
            hgb = fold.estimator
            predictors = getattr(hgb, "_predictors", None)
            if predictors is None or getattr(hgb, "n_trees_per_iteration_", 0) != 1:
                return None
            for (predictor,) in predictors:
                nodes = predictor.nodes
                if nodes["is_categorical"].any():
                    return None
                parts["feature"].append(nodes["feature_idx"].astype(np.int64))
                parts["threshold"].append(nodes["num_threshold"].astype(np.float64))
                parts["missing"].append(nodes["missing_go_to_left"].astype(bool))
                parts["left"].append(nodes["left"].astype(np.int64) + offset)
                parts["right"].append(nodes["right"].astype(np.int64) + offset)
                parts["leaf"].append(nodes["is_leaf"].astype(bool))
                parts["value"].append(nodes["value"].astype(np.float64))
                depth = max(depth, int(nodes["depth"].max()))
                roots.append(offset)
                tree_fold.append(fold_no)
                offset += len(nodes)
            baselines.append(float(np.ravel(hgb._baseline_prediction)[0]))
            (calibrator,) = fold.calibrators
            iso_x.append(np.asarray(calibrator.X_thresholds_, dtype=np.float64))
            iso_y.append(np.asarray(calibrator.y_thresholds_, dtype=np.float64))
        return cls(
            feature=np.concatenate(parts["feature"]),
            threshold=np.concatenate(parts["threshold"]),
            missing_left=np.concatenate(parts["missing"]),
            left=np.concatenate(parts["left"]),
            right=np.concatenate(parts["right"]),
            is_leaf=np.concatenate(parts["leaf"]),
            value=np.concatenate(parts["value"]),
            roots=np.array(roots, dtype=np.int64),
            tree_fold=np.array(tree_fold, dtype=np.int64),
            baselines=np.array(baselines, dtype=np.float64),
            iso_x=iso_x,
            iso_y=iso_y,
            max_depth=depth,
        )

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        n, width = matrix.shape
        trees = len(self.roots)
        flat = np.ascontiguousarray(matrix, dtype=np.float64).ravel()
        node = np.tile(self.roots, n)  # (row, tree) pairs, row-major
        row_base = np.repeat(np.arange(n) * width, trees)
        active = np.arange(n * trees)
        # Walk only the (row, tree) pairs not yet at a leaf: most trees end after a few levels,
        # so the work shrinks each step instead of staying rows x trees x depth.
        for _ in range(self.max_depth + 1):
            current = node[active]
            inner = ~self.is_leaf[current]
            active, current = active[inner], current[inner]
            if not len(active):
                break
            x = flat[row_base[active] + self.feature[current]]
            go_left = np.where(np.isnan(x), self.missing_left[current], x <= self.threshold[current])
            node[active] = np.where(go_left, self.left[current], self.right[current])
        leaf_values = self.value[node].reshape(n, trees)
        folds = len(self.baselines)
        out = np.zeros(n, dtype=np.float64)
        for fold in range(folds):
            raw = leaf_values[:, self.tree_fold == fold].sum(axis=1) + self.baselines[fold]
            out += np.interp(raw, self.iso_x[fold], self.iso_y[fold])
        return out / folds
