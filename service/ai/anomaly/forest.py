"""Fitted tree ensembles evaluated straight from their arrays, one order at a time.

scikit-learn's ``score_samples`` and ``predict_proba`` validate input and loop over trees in Python,
which costs milliseconds for a single row. Here every tree's nodes sit in one flat set of arrays and
all trees step down together: one numpy gather per level, so a 100-tree forest of depth 8 answers
in tens of microseconds with the same numbers scikit-learn gives.

Leaves point to themselves with an infinite threshold, so a row that reached its leaf early simply
stays there while deeper trees finish.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BATCH_ROWS = 1024  # rows x trees of node ids per step: small enough to stay in cache
IntArray = NDArray[np.intp]


def average_path_length(n: NDArray[Any] | float) -> FloatArray:
    """c(n): the mean path length of an unsuccessful search in a binary tree of n points."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


@dataclass
class TreeEnsemble:
    """All trees of a fitted forest, flattened; ``roots[t]`` is the first node of tree t."""

    roots: IntArray
    left: IntArray
    right: IntArray
    feature: IntArray
    threshold: FloatArray
    leaf_value: FloatArray
    depth: int  # the deepest path, in splits

    @property
    def n_trees(self) -> int:
        return int(self.roots.shape[0])

    def leaves(self, x: FloatArray) -> IntArray:
        """The leaf each tree sends row ``x`` to (x already cast as the trees were fitted)."""
        node = self.roots
        for _ in range(self.depth):
            node = np.where(x[self.feature[node]] <= self.threshold[node], self.left[node], self.right[node])
        return node

    def path(self, x: FloatArray) -> tuple[IntArray, NDArray[np.bool_], IntArray]:
        """Per level: the node each tree was at, whether it split there, and the leaf reached."""
        node = self.roots
        nodes = np.empty((self.depth, self.n_trees), dtype=np.intp)
        for level in range(self.depth):
            nodes[level] = node
            node = np.where(x[self.feature[node]] <= self.threshold[node], self.left[node], self.right[node])
        splits = self.left[nodes] != nodes
        return nodes, splits, node

    def leaves_batch(self, X: FloatArray) -> IntArray:
        """Leaves for many rows at once: shape (rows, trees)."""
        n, width = X.shape
        flat = np.ascontiguousarray(X).ravel()
        row_start = (np.arange(n) * width)[:, None]
        node = np.broadcast_to(self.roots, (n, self.n_trees)).copy()
        for _ in range(self.depth):
            node = np.where(flat[row_start + self.feature[node]] <= self.threshold[node],
                            self.left[node], self.right[node])
        return node

    def to_dict(self) -> dict[str, Any]:
        return {"roots": self.roots.astype(np.int32), "left": self.left.astype(np.int32),
                "right": self.right.astype(np.int32), "feature": self.feature.astype(np.int16),
                "threshold": self.threshold, "leaf_value": self.leaf_value, "depth": self.depth}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TreeEnsemble:
        return cls(roots=np.asarray(data["roots"], dtype=np.intp), left=np.asarray(data["left"], dtype=np.intp),
                   right=np.asarray(data["right"], dtype=np.intp), feature=np.asarray(data["feature"], dtype=np.intp),
                   threshold=np.asarray(data["threshold"], dtype=np.float64),
                   leaf_value=np.asarray(data["leaf_value"], dtype=np.float64), depth=int(data["depth"]))


def _flatten(trees: list[Any], feature_maps: list[NDArray[Any]], leaf_values: list[FloatArray]) -> TreeEnsemble:
    roots, lefts, rights, features, thresholds, values = [], [], [], [], [], []
    offset, depth = 0, 0
    for tree, feature_map, leaf_value in zip(trees, feature_maps, leaf_values, strict=True):
        n = tree.node_count
        own = np.arange(n)
        is_leaf = tree.children_left == -1
        left = np.where(is_leaf, own, tree.children_left) + offset
        right = np.where(is_leaf, own, tree.children_right) + offset
        feature = np.where(is_leaf, 0, feature_map[np.where(is_leaf, 0, tree.feature)])
        threshold = np.where(is_leaf, np.inf, tree.threshold)
        roots.append(offset)
        lefts.append(left)
        rights.append(right)
        features.append(feature)
        thresholds.append(threshold)
        values.append(leaf_value)
        depth = max(depth, int(tree.max_depth))
        offset += n
    return TreeEnsemble(
        roots=np.asarray(roots, dtype=np.intp), left=np.concatenate(lefts).astype(np.intp),
        right=np.concatenate(rights).astype(np.intp), feature=np.concatenate(features).astype(np.intp),
        threshold=np.concatenate(thresholds).astype(np.float64), leaf_value=np.concatenate(values).astype(np.float64),
        depth=depth,
    )


def _node_depths(tree: Any) -> NDArray[np.float64]:
    depths = np.zeros(tree.node_count)
    for node in range(tree.node_count):  # children always come after their parent
        for child in (tree.children_left[node], tree.children_right[node]):
            if child != -1:
                depths[child] = depths[node] + 1
    return depths


def _feature_maps(forest: Any, n_features: int) -> list[NDArray[Any]]:
    # Bagged forests may fit each tree on a subset of columns; map tree columns back to ours.
    features = getattr(forest, "estimators_features_", None)
    subsampled = features is not None and getattr(forest, "_max_features", n_features) != n_features
    if features is not None and subsampled:
        return [np.asarray(f) for f in features]
    return [np.arange(n_features)] * len(forest.estimators_)


@dataclass
class IsolationForestScorer:
    """``-IsolationForest.score_samples``: the anomaly score, higher = more anomalous, in (0, 1]."""

    trees: TreeEnsemble
    n_features: int
    normaliser: float  # n_trees * c(max_samples)

    @classmethod
    def from_sklearn(cls, forest: Any) -> IsolationForestScorer:
        n_features = int(forest.n_features_in_)
        trees = [est.tree_ for est in forest.estimators_]
        # sklearn adds (node depth + 1) + c(leaf samples) - 1 per tree; depth + c(n) is the same sum.
        values = [_node_depths(t) + average_path_length(t.n_node_samples) for t in trees]
        ensemble = _flatten(trees, _feature_maps(forest, n_features), values)
        normaliser = float(len(trees) * average_path_length(np.array([forest._max_samples]))[0])
        return cls(ensemble, n_features, normaliser)

    def score(self, x: FloatArray) -> float:
        """Anomaly score of one row (the features in the model's order)."""
        leaves = self.trees.leaves(np.asarray(x, dtype=np.float32).astype(np.float64))
        depth = self.trees.leaf_value[leaves].sum()
        return float(2.0 ** (-depth / self.normaliser)) if self.normaliser else 1.0

    def score_batch(self, X: FloatArray) -> FloatArray:
        X = np.asarray(X, dtype=np.float32).astype(np.float64)
        out = np.empty(X.shape[0])
        for start in range(0, X.shape[0], BATCH_ROWS):  # bounded memory, and faster while it fits in cache
            leaves = self.trees.leaves_batch(X[start:start + BATCH_ROWS])
            depth = self.trees.leaf_value[leaves].sum(axis=1)
            out[start:start + BATCH_ROWS] = 2.0 ** (-depth / self.normaliser) if self.normaliser else 1.0
        return out

    def attribution(self, x: FloatArray) -> FloatArray:
        """How much each feature did to isolate this row: splits on its path, weighted by shortness.

        A split on a path that ends early (the row was easy to isolate) counts for more than one on
        a long path; the sum over trees is divided by the number of trees.
        """
        x = np.asarray(x, dtype=np.float32).astype(np.float64)
        nodes, splits, leaves = self.trees.path(x)
        weight = 1.0 / np.maximum(self.trees.leaf_value[leaves], 1.0)
        split_features = self.trees.feature[nodes][splits]
        split_weights = np.broadcast_to(weight, nodes.shape)[splits]
        return np.bincount(split_features, weights=split_weights, minlength=self.n_features) / self.trees.n_trees

    def to_dict(self) -> dict[str, Any]:
        return {"trees": self.trees.to_dict(), "n_features": self.n_features, "normaliser": self.normaliser}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IsolationForestScorer:
        return cls(TreeEnsemble.from_dict(data["trees"]), int(data["n_features"]), float(data["normaliser"]))


@dataclass
class ForestClassifierScorer:
    """``RandomForestClassifier.predict_proba(x)[:, 1]`` for a fitted binary forest."""

    trees: TreeEnsemble

    @classmethod
    def from_sklearn(cls, forest: Any) -> ForestClassifierScorer:
        if list(forest.classes_) != [0, 1]:
            raise ValueError(f"the review model needs labels 0 (legitimate) and 1 (fraud), got {list(forest.classes_)}")
        n_features = int(forest.n_features_in_)
        trees = [est.tree_ for est in forest.estimators_]
        values = []
        for tree in trees:
            counts = tree.value[:, 0, :]
            values.append(counts[:, 1] / counts.sum(axis=1))
        return cls(_flatten(trees, [np.arange(n_features)] * len(trees), values))

    def probability(self, x: FloatArray) -> float:
        leaves = self.trees.leaves(np.asarray(x, dtype=np.float32).astype(np.float64))
        return float(self.trees.leaf_value[leaves].sum() / self.trees.n_trees)

    def probability_batch(self, X: FloatArray) -> FloatArray:
        X = np.asarray(X, dtype=np.float32).astype(np.float64)
        out = np.empty(X.shape[0])
        for start in range(0, X.shape[0], BATCH_ROWS):
            leaves = self.trees.leaves_batch(X[start:start + BATCH_ROWS])
            out[start:start + BATCH_ROWS] = self.trees.leaf_value[leaves].sum(axis=1) / self.trees.n_trees
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"trees": self.trees.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ForestClassifierScorer:
        return cls(TreeEnsemble.from_dict(data["trees"]))
